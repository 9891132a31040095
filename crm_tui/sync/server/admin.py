"""Server administration use cases behind `crm server`: open a store from a URL,
add, list and revoke reps (a token is shown once and only its hash is stored), and
serve the app on uvicorn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import platformdirs

from crm_tui.sync import clock
from crm_tui.sync.server.app import create_app, hash_token, new_token
from crm_tui.sync.server.sqlite_store import SqliteStore
from crm_tui.sync.server.store import Store, StoreError

__all__ = ["StoreError", "add_rep", "default_store_url", "list_reps", "open_store", "revoke_rep", "serve",
           "set_rep"]


def default_store_url() -> str:
    return "sqlite:///" + str(Path(platformdirs.user_data_dir("crm_tui")) / "server.db")


def open_store(url: str | None = None, **options: Any) -> Store:
    """A store from a URL. `sqlite:///PATH` (PATH as written: `sqlite:////srv/crm.db`
    is absolute, `sqlite:///crm.db` relative to the current directory), or
    `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB` (libpq's URL, query options too).
    `options` go to the PostgreSQL store (pool size, application name)."""
    url = url or default_store_url()
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url[len("sqlite:///"):]).expanduser())
    if url.startswith(("postgresql://", "postgres://")):
        from crm_tui.sync.server.pg_store import PostgresStore  # psycopg: only when used

        return PostgresStore(url, **options)
    raise StoreError(f"unknown store URL {url!r}; expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")


def add_rep(url: str | None, name: str, role: str = "rep", territories: Sequence[str] = ()) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise StoreError("a rep needs a name")
    token = new_token()
    store = open_store(url)
    try:
        rep = store.add_rep(name, role, hash_token(token), territories)
    finally:
        store.close()
    return {**asdict(rep), "territories": list(rep.territories), "token": token}


def list_reps(url: str | None) -> list[dict[str, Any]]:
    store = open_store(url)
    try:
        return [{**asdict(r), "territories": list(r.territories), "active": r.active} for r in store.list_reps()]
    finally:
        store.close()


def set_rep(url: str | None, name: str, *, role: str | None = None,
            territories: Sequence[str] | None = None) -> dict[str, Any]:
    store = open_store(url)
    try:
        rep = store.set_rep(name, role=role, territories=territories)
    finally:
        store.close()
    return {**asdict(rep), "territories": list(rep.territories), "active": rep.active}


def revoke_rep(url: str | None, name: str) -> None:
    store = open_store(url)
    try:
        if not store.revoke_rep(name):
            raise StoreError(f"no active rep named {name!r}")
    finally:
        store.close()


def serve(url: str | None, host: str, port: int, *, max_offset_s: float = clock.DEFAULT_MAX_OFFSET_MS / 1000,
          rate: float = 50.0, log_level: str = "warning") -> None:
    import uvicorn

    store = open_store(url)
    try:
        app = create_app(store, max_offset_ms=int(max_offset_s * 1000), rate=rate, burst=max(10, int(rate * 4)))
        uvicorn.run(app, host=host, port=port, log_level=log_level)
    finally:
        store.close()
