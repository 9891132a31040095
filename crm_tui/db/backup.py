"""Backups of the laptop's database and their restore: SQLite's backup API, through
the db layer's own connection opener, taken while the UI and other commands keep
working. An encrypted database's backup is encrypted with the same key (SQLCipher's
backup API between two connections keyed alike): no page of it is ever in clear.

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
    ERRORS,
    PRIVATE_FILE,
    SIDE_FILES,
    DatabaseError,
    KeyRequired,
    connect,
    is_encrypted,
    make_private,
    new_node_id,
    open_database,
    transaction,
)
from crm_tui.db.migrations import SCHEMA_VERSION
from crm_tui.i18n import db_reason, t

# Tables every crm_tui laptop database has had since its first version.
_CRM_TABLES = frozenset({"replica", "change_log", "sync_state", "customers"})


def write_backup(conn: sqlite3.Connection, out: Path, key: str | None = None) -> dict[str, Any]:
    """A consistent copy of the database of `conn` in `out` (0600), written beside it
    first and renamed, so a cut backup never leaves a half file under that name. The
    caller holds the database's lock only as long as SQLite's copy takes: readers and
    writers in other processes go on (WAL). `key`: `conn` is an encrypted database's
    (SQLCipher) connection, and the copy is encrypted with the same key."""
    out = Path(out)
    part = out.with_name(out.name + ".part")
    part.unlink(missing_ok=True)
    make_private(part)
    try:
        dst = connect(part, key)
        try:
            conn.backup(dst)  # one read transaction: every committed change, none half
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        finally:
            dst.close()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.chmod(part, PRIVATE_FILE)
    part.replace(out)
    return {"file": str(out), "bytes": out.stat().st_size, **summary(out, key)}


def summary(path: Path, key: str | None = None) -> dict[str, Any]:
    """What a backup file holds, or DatabaseError when it is not a crm_tui database
    this version can open: an encrypted one needs its `key` (KeyRequired, WrongKey)."""
    path = Path(path)
    if not path.is_file():
        raise DatabaseError(t("db.backup.missing", path=path))
    encrypted = is_encrypted(path)
    if encrypted and not key:
        raise KeyRequired(t("db.key_required", path=path))
    try:
        conn = connect(path, key if encrypted else None)
    except ERRORS.database as exc:
        raise DatabaseError(t("db.backup.not_backup", path=path, reason=db_reason(exc))) from None
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not names >= _CRM_TABLES:
            raise DatabaseError(t("db.backup.no_tables", path=path))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DatabaseError(t("db.backup.too_new", path=path, version=version, known=SCHEMA_VERSION))
        node, rep = conn.execute("SELECT node, rep FROM replica").fetchone()
        customers = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
        changes = conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    except ERRORS.database as exc:
        raise DatabaseError(t("db.backup.not_backup", path=path, reason=db_reason(exc))) from None
    finally:
        conn.close()
    return {"schema": version, "node": node, "rep": rep, "customers": customers, "changes": changes,
            "encrypted": encrypted}


def restore_backup(file: Path, target: Path, *, keep: Path | None = None,
                   key: str | None = None) -> dict[str, Any]:
    """Put the backup `file` in place of the database at `target` (the UI and other
    commands on it must be closed), after copying the current one to `keep`; upgrade
    it if it is older, and give it a new node id (see the module's docstring). A file
    that is not a crm_tui backup, or an encrypted one `key` does not open, is refused
    before anything changes. The restored database is encrypted, with `key`, when the
    backup is: as it was when the backup was taken."""
    file, target = Path(file), Path(target)
    found = summary(file, key)
    backup_key = key if found["encrypted"] else None
    target_key = key if is_encrypted(target) else None
    if keep is not None and target.exists():
        current = connect(target, target_key)
        try:
            write_backup(current, keep, target_key)
        finally:
            current.close()
    if backup_key is None and target_key is None:
        make_private(target)
        src, dst = connect(file), connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        # SQLite's backup cannot turn a plain file into an encrypted one or back: the
        # backup is copied, keyed alike, beside the database and renamed over it.
        restoring = target.with_name(target.name + ".restoring")
        src = connect(file, backup_key)
        try:
            write_backup(src, restoring, backup_key)
        finally:
            src.close()
        for side in SIDE_FILES:  # the replaced file's, never to be read as the new one's
            target.with_name(target.name + side).unlink(missing_ok=True)
        os.replace(restoring, target)
    conn = open_database(target, key=backup_key)  # WAL again, and migrated if the backup is older
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
