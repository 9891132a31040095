"""Backups of the laptop's database and their restore: SQLite's backup API, through
the db layer's own connection opener (so an encrypted database is copied as it is
opened), taken while the UI and other commands keep working.

A restored database takes a new node id. The laptop may have made and synced changes
after the backup under its old node id, numbered after the backup's last one: new
changes under that id would reuse their numbers. Under the new id nothing collides;
the old id's changes the backup holds but the server may lack (not yet pushed when it
was taken) are pushed under the old id first (`former_nodes`), and those made after
the backup come back from the server like anyone else's."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from crm_tui.db.connection import (
    PRIVATE_FILE,
    DatabaseError,
    connect,
    make_private,
    new_node_id,
    open_database,
    transaction,
)
from crm_tui.db.migrations import SCHEMA_VERSION

# Tables every crm_tui laptop database has had since its first version.
_CRM_TABLES = frozenset({"replica", "change_log", "sync_state", "customers"})


def write_backup(conn: sqlite3.Connection, out: Path) -> dict[str, Any]:
    """A consistent copy of the database of `conn` in `out` (0600), written beside it
    first and renamed, so a cut backup never leaves a half file under that name. The
    caller holds the database's lock only as long as SQLite's copy takes: readers and
    writers in other processes go on (WAL)."""
    out = Path(out)
    part = out.with_name(out.name + ".part")
    part.unlink(missing_ok=True)
    make_private(part)
    dst = connect(part)
    try:
        conn.backup(dst)  # one read transaction: every committed change, none half
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    finally:
        dst.close()
    os.chmod(part, PRIVATE_FILE)
    part.replace(out)
    return {"file": str(out), "bytes": out.stat().st_size, **summary(out)}


def summary(path: Path) -> dict[str, Any]:
    """What a backup file holds, or DatabaseError when it is not a crm_tui database
    this version can open."""
    path = Path(path)
    if not path.is_file():
        raise DatabaseError(f"{path}: no such file")
    try:
        conn = connect(path)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: not a crm_tui backup ({exc})") from None
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not names >= _CRM_TABLES:
            raise DatabaseError(f"{path}: not a crm_tui backup (a SQLite file without crm_tui's tables)")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DatabaseError(f"{path}: a backup made by a newer crm_tui (schema {version}, this version "
                                f"knows up to {SCHEMA_VERSION}); upgrade crm_tui to restore it")
        node, rep = conn.execute("SELECT node, rep FROM replica").fetchone()
        customers = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
        changes = conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: not a crm_tui backup ({exc})") from None
    finally:
        conn.close()
    return {"schema": version, "node": node, "rep": rep, "customers": customers, "changes": changes}


def restore_backup(file: Path, target: Path, *, keep: Path | None = None) -> dict[str, Any]:
    """Put the backup `file` in place of the database at `target` (the UI and other
    commands on it must be closed), after copying the current one to `keep`; upgrade
    it if it is older, and give it a new node id (see the module's docstring). A file
    that is not a crm_tui backup is refused before anything changes."""
    file, target = Path(file), Path(target)
    found = summary(file)
    if keep is not None and target.exists():
        current = connect(target)
        try:
            write_backup(current, keep)
        finally:
            current.close()
    make_private(target)
    src, dst = connect(file), connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    conn = open_database(target)  # WAL again, and migrated if the backup is older
    try:
        with transaction(conn):
            old, pushed = conn.execute(
                "SELECT r.node, s.pushed_seq FROM replica r, sync_state s").fetchone()
            conn.execute("INSERT OR REPLACE INTO former_nodes (node, pushed_seq) VALUES (?, ?)", (old, pushed))
            node = new_node_id()
            conn.execute("UPDATE replica SET node = ?, seq = 0", (node,))
            conn.execute("UPDATE sync_state SET pushed_seq = 0")
    finally:
        conn.close()
    return {**found, "file": str(file), "database": str(target), "node": node, "former_node": old,
            "kept": str(keep) if keep is not None and keep.exists() else None}
