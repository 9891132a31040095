"""Backing up the laptop's database and restoring it (`crm backup`, `crm restore`).
A backup is taken online, while the UI and other commands work on the database; a
restore puts an older state back and makes sure the next sync loses nothing the
server holds and stores nothing twice (crm_tui.db.backup says how)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_tui.db import backup as files
from crm_tui.db.connection import PRIVATE_DIR, DatabaseError
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api import Crm


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")


def default_backup_path(database: Path) -> Path:
    """Where `crm backup` writes without -o: a `backups` folder beside the database,
    one file per backup, named by the database and the UTC time."""
    return database.parent / "backups" / f"{database.stem}-{_stamp()}.db"


def backup(crm: Crm, out: Path | None = None) -> dict[str, Any]:
    """A consistent copy of `crm`'s database in `out` (default: default_backup_path),
    private to its owner; an encrypted database's copy is encrypted with its key."""
    out = Path(out) if out is not None else default_backup_path(crm.path)
    if out.resolve() == crm.path.resolve():
        raise ValidationError.one("output", t("reason.backup_is_database", path=str(out)))
    if out.is_dir():
        raise ValidationError.one("output", t("reason.backup_is_folder", path=str(out)))
    if not out.parent.exists():
        out.parent.mkdir(parents=True, mode=PRIVATE_DIR)
    with crm.lock:
        return {"database": str(crm.path), **files.write_backup(crm.conn, out, crm.key)}


def restore(database: Path, file: Path, key: str | None = None) -> dict[str, Any]:
    """Put the backup `file` in place of `database` (close the UI on it first). The
    database as it was is kept beside it (`<name>-before-restore-<time>.db`), so a
    restore can be undone. A file that is not a crm_tui backup, or an encrypted backup
    that `key` (the database's key) does not open, is refused, with the reason, before
    anything changes."""
    database, file = Path(database), Path(file)
    try:
        files.summary(file, key)
    except DatabaseError as exc:
        raise ValidationError.one("file", str(exc)) from None
    if database.exists() and file.resolve() == database.resolve():
        raise ValidationError.one("file", t("reason.restore_is_database", path=str(file)))
    keep = database.with_name(f"{database.stem}-before-restore-{_stamp()}.db") if database.exists() else None
    try:
        return files.restore_backup(file, database, keep=keep, key=key)
    except DatabaseError as exc:  # the current database's key did not open it: nothing changed
        raise ValidationError.one("database", str(exc)) from None
