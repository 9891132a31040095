"""Encryption at rest, for the CLI and the UI: whether a database needs a key, checking
a key, and turning encryption on or off for an existing database (with the key kept
in the OS keyring on request). The work is done in crm_tui/db/encryption.py; see
docs/privacy.md."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crm_tui.config import resolve_db_path
from crm_tui.db import encryption as sql
from crm_tui.db.connection import DatabaseMissing, connect, is_encrypted
from crm_tui.i18n import t

KEY_ENV = sql.KEY_ENV


def needs_key(path: str | os.PathLike[str] | None) -> bool:
    """True when the database is encrypted and its key is neither in CRM_DB_KEY nor
    in the keyring: it must be asked for."""
    db = resolve_db_path(path)
    return is_encrypted(db) and sql.find_key(db) is None


def is_encrypted_db(path: str | os.PathLike[str] | None) -> bool:
    return is_encrypted(resolve_db_path(path))


def find_key(path: str | os.PathLike[str] | None) -> str | None:
    return sql.find_key(resolve_db_path(path))


def check_key(path: str | os.PathLike[str] | None, key: str) -> None:
    """Raise WrongKey (KeyRequired for an empty key) unless `key` opens the database."""
    connect(resolve_db_path(path), key).close()


@dataclass
class KeyOutcome:
    """What became of the key after a change: kept in the keyring (its name) or not."""

    path: Path
    remembered: str | None = None
    keyring_missing: bool = False
    forgotten: bool = False

    def messages(self) -> list[str]:
        out = []
        if self.remembered:
            out.append(t("encryption.remembered", backend=self.remembered))
        if self.keyring_missing:
            out.append(t("encryption.no_keyring"))
        if self.forgotten:
            out.append(t("encryption.forgotten"))
        return out


def remember(path: Path, key: str) -> KeyOutcome:
    """Keep the key in the OS keyring where there is one."""
    if sql.remember_key(path, key):
        return KeyOutcome(path, remembered=sql.keyring_name() or "keyring")
    return KeyOutcome(path, keyring_missing=True)


def encrypt(path: str | os.PathLike[str] | None, key: str, *, remember_key: bool = False) -> KeyOutcome:
    """Encrypt the existing plain database with `key` (the file is replaced only once
    its encrypted copy checks out)."""
    db = resolve_db_path(path)
    if not db.exists():
        raise DatabaseMissing(t("db.missing", path=db))
    sql.encrypt(db, key)
    return remember(db, key) if remember_key else KeyOutcome(db)


def decrypt(path: str | os.PathLike[str] | None, key: str) -> KeyOutcome:
    """Turn encryption off: the database becomes a plain SQLite file again; its key
    leaves the keyring."""
    db = resolve_db_path(path)
    if not db.exists():
        raise DatabaseMissing(t("db.missing", path=db))
    sql.decrypt(db, key)
    return KeyOutcome(db, forgotten=sql.forget_key(db))
