"""Backups of the server's store and their restore. SQLite: a consistent online copy
with SQLite's backup API. PostgreSQL: `pg_dump` of the store's schema (custom
format), restored with `pg_restore` after the store's own objects are dropped.

A restore starts a new timeline: the store keeps its server id and gets a new epoch.
A laptop's next sync sees the new epoch in `hello`, so it sends again its changes
from the first (the ones the backup holds are skipped as duplicates, the later ones
stored) and pulls the log from the start (what it holds is skipped). So no edit that
a laptop holds is lost, and none is stored twice."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from crm_tui.i18n import t as text
from crm_tui.output_path import cannot_write, output_fault
from crm_tui.sync.server.store import StoreError, redacted

# The first bytes of a pg_dump custom-format archive.
PG_ARCHIVE_MAGIC = b"PGDMP"


def _private(path: Path) -> None:
    """Create `path` empty and readable by its owner only, before anything is written in
    it: a backup holds every customer and the reps' token hashes. SQLite's journal and
    pg_dump's rewrite of the file keep that mode."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    os.chmod(path, 0o600)  # an existing file keeps its old mode through os.open


def _sqlite_path(url: str) -> Path:
    return Path(url[len("sqlite:///"):]).expanduser()


def pg_tool(name: str) -> str:
    """A PostgreSQL client program: on PATH, else in the Debian layout."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)),
                                       None)
    if not found:
        raise StoreError(text("server.errors.pg_tool_missing", name=name))
    return found


def _run(args: list[str], what: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StoreError(text("server.errors.tool_failed", what=what, error=done.stderr.strip()[:2000]))
    return done.stdout


def is_server_sqlite(path: Path) -> bool:
    """Whether `path` is a SQLite file holding a crm_tui server store."""
    try:
        with path.open("rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                return False
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            return {"meta", "log", "nodes", "reps"} <= names and conn.execute(
                "SELECT 1 FROM meta WHERE key = 'server_id'").fetchone() is not None
        finally:
            conn.close()
    except (OSError, sqlite3.Error):
        return False


def backup(url: str, out: Path) -> dict[str, Any]:
    """A consistent copy of the store at `url` in `out`, taken while it serves."""
    out = Path(out)
    sqlite_store = url.startswith("sqlite:///")
    # Never the store itself: a running server would go on writing the file put aside.
    fault = output_fault(out, [_sqlite_path(url)] if sqlite_store else [])
    if fault:
        raise StoreError(fault)
    if sqlite_store:
        source = _sqlite_path(url)
        if not is_server_sqlite(source):
            raise StoreError(text("server.errors.not_a_store", path=source))
        part = out.with_name(out.name + ".part")
        try:
            _private(part)
            src, dst = sqlite3.connect(source), sqlite3.connect(part)
            try:
                src.backup(dst)  # one consistent snapshot, while writers go on
            finally:
                dst.close()
                src.close()
            part.replace(out)
        except OSError as exc:
            raise StoreError(cannot_write(out, exc)) from None
        finally:
            part.unlink(missing_ok=True)
        return {"store": redacted(url), "file": str(out), "kind": "sqlite"}
    schema = _pg_schema(url)
    try:
        _private(out)
    except OSError as exc:
        raise StoreError(cannot_write(out, exc)) from None
    _run([pg_tool("pg_dump"), "--dbname", url, "--format", "custom", "--no-owner", "--schema", schema,
          "--file", str(out)], "pg_dump")
    return {"store": redacted(url), "file": str(out), "kind": "postgresql", "schema": schema}


def restore(url: str, file: Path) -> dict[str, Any]:
    """Put the backup `file` in place of the store at `url` (the server must be
    stopped), then start a new timeline. A file that is not a backup of this kind of
    store is refused before anything changes."""
    from crm_tui.sync.server.admin import open_store

    file = Path(file)
    if not file.is_file():
        raise StoreError(text("server.errors.no_backup_file", file=file))
    if url.startswith("sqlite:///"):
        if not is_server_sqlite(file):
            raise StoreError(text("server.errors.not_sqlite_backup", file=file))
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        src, dst = sqlite3.connect(f"file:{file}?mode=ro", uri=True), sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        with file.open("rb") as f:
            if f.read(len(PG_ARCHIVE_MAGIC)) != PG_ARCHIVE_MAGIC:
                raise StoreError(text("server.errors.not_pg_backup", file=file))
        _pg_restore(url, file)
    store = open_store(url)  # an older backup is migrated here
    try:
        epoch = store.new_timeline()
        server_id = store.server_id
    finally:
        store.close()
    return {"store": redacted(url), "file": str(file), "server_id": server_id, "epoch": epoch}


def _pg_schema(url: str) -> str:
    import psycopg

    from crm_tui.sync.server.pg_store import one_row

    with psycopg.connect(url) as conn:
        return one_row(conn.execute("SELECT current_schema()"))[0]


def _pg_restore(url: str, file: Path) -> None:
    """Drop the store's own objects, then restore the archive's into the schema,
    everything but the schema itself (it exists)."""
    import psycopg

    from crm_tui.sync.server.pg_store import drop_all

    listing = _run([pg_tool("pg_restore"), "--list", str(file)], "pg_restore --list")
    if "TABLE public" not in listing and " TABLE " not in listing:
        raise StoreError(text("server.errors.backup_no_tables", file=file))
    keep = [line for line in listing.splitlines() if line and " SCHEMA " not in line]
    with psycopg.connect(url) as conn:
        drop_all(conn)
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as f:
        f.write("\n".join(keep) + "\n")
    try:
        _run([pg_tool("pg_restore"), "--dbname", url, "--no-owner", "--single-transaction", "--use-list", f.name,
              str(file)], "pg_restore")
    finally:
        Path(f.name).unlink(missing_ok=True)
