"""Server administration use cases behind `crm server`: open a store from a URL,
add, list and revoke reps (a token is shown once and only its hash is stored), read
the audit, and serve the app on uvicorn (TLS when given a key and certificate)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import platformdirs

from crm_tui.domain.validation import OWNER_MAX_LEN
from crm_tui.i18n import t as text
from crm_tui.sync import clock
from crm_tui.sync.server.app import create_app, hash_token, new_token
from crm_tui.sync.server.sqlite_store import SqliteStore
from crm_tui.sync.server.store import AUDIT_KINDS, Store, StoreError, redacted

__all__ = ["AUDIT_KINDS", "StoreError", "add_rep", "app_from_env", "audit", "backup", "default_store_url", "list_reps",
           "open_store", "redacted", "restore", "revoke_rep", "serve", "set_rep"]


def default_store_url() -> str:
    return "sqlite:///" + str(Path(platformdirs.user_data_dir("crm_tui")) / "server.db")


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def open_store(url: str | None = None, **options: Any) -> Store:
    """A store from a URL. `sqlite:///PATH` (PATH as written: `sqlite:////srv/crm.db`
    is absolute, `sqlite:///crm.db` relative to the current directory), or
    `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB` (libpq's URL, query options too).
    `options` go to the PostgreSQL store (pool size, application name)."""
    url = url or default_store_url()
    if url.startswith("sqlite:///"):
        return SqliteStore(Path(url[len("sqlite:///"):]).expanduser())
    if is_postgres(url):
        from crm_tui.sync.server.pg_store import PostgresStore  # psycopg: only when used

        return PostgresStore(url, **options)
    raise StoreError(text("server.errors.unknown_store_url", url=repr(redacted(url))))


def add_rep(url: str | None, name: str, role: str = "rep", territories: Sequence[str] = ()) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise StoreError(text("server.rep_needs_name"))
    if len(name) > OWNER_MAX_LEN or not name.isprintable():
        # their records are owned by this name and their changes carry it: a longer
        # one, or one with a line break, could never sync
        raise StoreError(text("server.rep_name.bad", name=repr(name[:OWNER_MAX_LEN + 20]), max=OWNER_MAX_LEN))
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
            raise StoreError(text("server.no_active_rep", name=name))
    finally:
        store.close()


def audit(url: str | None, *, rep: str | None = None, since: str | None = None, kind: str | None = None,
          limit: int | None = None) -> list[dict[str, Any]]:
    """Audit entries, oldest first. `since` is a date or a date and time (UTC)."""
    from crm_tui.domain.validation import ValidationError, normalize_datetime

    if kind is not None and kind not in AUDIT_KINDS:
        raise ValidationError.one("kind", text("validation.not_a_choice", value=repr(kind), choices=", ".join(AUDIT_KINDS),
                                               words=""))
    if since is not None:
        try:
            since = normalize_datetime(since)
        except ValueError as exc:
            raise ValidationError.one("since", str(exc)) from None
    store = open_store(url)
    try:
        entries = store.audit(rep=rep, since=since, kind=kind, limit=limit)
    finally:
        store.close()
    return [{**asdict(e), "detail": json.loads(e.detail) if e.detail else None} for e in entries]


# How `serve` hands its settings to the app factory in each worker process.
SETTINGS_VAR = "CRM_SERVER_SETTINGS"


def serve(url: str | None, host: str, port: int, *, max_offset_s: float = clock.DEFAULT_MAX_OFFSET_MS / 1000,
          rate: float = 50.0, log_level: str = "warning", ssl_keyfile: str | None = None,
          ssl_certfile: str | None = None, forwarded_allow_ips: str | None = None, workers: int = 1,
          ready: Callable[[], None] | None = None) -> None:
    """Serve until interrupted, in `workers` processes, each building the app with
    `app_from_env`. One line per request goes to stderr (rep, operation, status,
    time) whatever uvicorn's own `log_level`; tokens never appear in it. The store is
    opened (and migrated) once here first, so that a bad URL or a database from a
    newer crm_tui is a message before anything listens."""
    import uvicorn

    if bool(ssl_keyfile) != bool(ssl_certfile):
        raise StoreError(text("server.errors.tls_needs_both"))
    if ssl_keyfile and ssl_certfile:
        check_tls_files(ssl_keyfile, ssl_certfile)
    if workers < 1:
        raise StoreError(text("server.errors.workers_min", workers=workers))
    url = url or default_store_url()
    if workers > 1 and not is_postgres(url):
        raise StoreError(text("server.errors.workers_sqlite", workers=workers))
    open_store(url).close()
    if ready is not None:  # the store opens: now the command may say it serves
        ready()
    os.environ[SETTINGS_VAR] = json.dumps({"db": url, "max_offset_ms": int(max_offset_s * 1000), "rate": rate})
    options: dict[str, Any] = {}
    if ssl_keyfile:
        options.update(ssl_keyfile=ssl_keyfile, ssl_certfile=ssl_certfile)
    if forwarded_allow_ips:
        # Behind a reverse proxy: the client address (for the audit and the limit
        # on failed sign-ins) is the one the proxy forwards.
        options.update(proxy_headers=True, forwarded_allow_ips=forwarded_allow_ips)
    from crm_tui.i18n import language
    from crm_tui.sync.server.logs import log_config

    uvicorn.run("crm_tui.sync.server.admin:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False, log_config=log_config(language()), **options)


def check_tls_files(keyfile: str, certfile: str) -> None:
    """The TLS key and certificate load as uvicorn will load them, or a StoreError says
    why (uvicorn would stop with a traceback)."""
    import ssl

    from crm_tui.i18n import os_reason

    for file in (certfile, keyfile):
        try:
            Path(file).read_bytes()
        except OSError as exc:
            raise StoreError(text("server.tls.cannot_read", file=file, reason=os_reason(exc))) from None
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, OSError) as exc:  # files that are no matching PEM certificate and key
        detail = getattr(exc, "reason", None) or str(exc)
        raise StoreError(text("server.tls.not_pem", certfile=certfile, keyfile=keyfile, detail=detail)) from None


def _request_log() -> None:
    requests = logging.getLogger("crm_tui.server")
    if not requests.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        requests.addHandler(handler)
        requests.setLevel(logging.INFO)
        requests.propagate = False


def app_from_env() -> Any:
    """The app factory each uvicorn worker calls: the store named by SETTINGS_VAR with
    its own connections, closed when the worker stops. Nothing else lives in the
    process: rate limits and the log's watermark are kept in the database."""
    from contextlib import asynccontextmanager

    _request_log()
    settings = json.loads(os.environ[SETTINGS_VAR])
    options = {"application_name": f"crm-server-{os.getpid()}"} if is_postgres(settings["db"]) else {}
    store = open_store(settings["db"], **options)
    rate = float(settings["rate"])
    app = create_app(store, max_offset_ms=int(settings["max_offset_ms"]), rate=rate, burst=max(10, int(rate * 4)))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        try:
            async with inner(a) as state:
                yield state
        finally:
            store.close()

    app.router.lifespan_context = lifespan
    return app


def backup(url: str | None, out: Path) -> dict[str, Any]:
    """A consistent copy of the store in `out`, taken while the server runs."""
    from crm_tui.sync.server import backup as backups

    return backups.backup(url or default_store_url(), Path(out))


def restore(url: str | None, file: Path) -> dict[str, Any]:
    """Replace the store with a backup (the server stopped) and start a new timeline."""
    from crm_tui.sync.server import backup as backups

    return backups.restore(url or default_store_url(), Path(file))
