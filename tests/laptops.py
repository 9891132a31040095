"""Laptops synced through a server inside the test's process (FastAPI's TestClient on a
SQLite store), for the tests that need a synced state to look at — a conflict to
review, a change refused, a record another rep wrote — rather than testing sync
itself, which runs against a real server process (sync_server.py). A rep's token is
tok-NAME."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from crm_tui.api import Crm
from crm_tui.api.sync import Sync
from crm_tui.sync.client import SyncClient
from crm_tui.sync.server.app import create_app, hash_token
from crm_tui.sync.server.sqlite_store import SqliteStore


def store_server(path: Path, *reps: tuple[str, str, Sequence[str]], **options: Any) -> tuple[SqliteStore, TestClient]:
    """A server on a SQLite store at `path` with `reps` (name, role, territories);
    `options` go to create_app. The caller closes the store, if it cares to."""
    store = SqliteStore(path)
    for name, role, territories in reps:
        store.add_rep(name, role, hash_token(f"tok-{name}"), territories)
    return store, TestClient(create_app(store, **options))


def sync(crm: Crm, http: TestClient, **options: Any) -> Any:
    """One `crm sync` of this laptop, as its rep; returns the sync's report."""
    return Sync(crm).run(SyncClient("http://testserver", f"tok-{crm.replica['rep']}", http=http), **options)


def two_laptops(tmp: Path) -> tuple[Crm, Crm, TestClient]:
    """wang's laptop and li's, reps of territory east, and their server."""
    _, http = store_server(tmp / "server.db", ("wang", "rep", ["east"]), ("li", "rep", ["east"]))
    return Crm(tmp / "a.db", rep="wang"), Crm(tmp / "b.db", rep="li"), http
