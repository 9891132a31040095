"""Encryption at rest: where an encrypted database's key is found (CRM_DB_KEY, the OS
keyring) and converting a database between plain and encrypted (SQLCipher's
`sqlcipher_export` into a new file, checked, then put in the original's place).
The cipher itself is SQLCipher's (AES-256, PBKDF2 key derivation); nothing here
encrypts anything. See docs/privacy.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from crm_tui.db.connection import (
    ERRORS,
    DatabaseError,
    KeyRequired,
    _is_busy,
    connect,
    is_encrypted,
    make_private,
    quote_key,
)
from crm_tui.i18n import t

KEY_ENV = "CRM_DB_KEY"
# The keyring entry of a database: this service, the database's absolute path as user.
KEYRING_SERVICE = "crm_tui"


def _keyring_user(path: Path) -> str:
    return str(Path(path).expanduser().resolve())


def _keyring() -> Any | None:
    """The `keyring` module when a real backend is there (the Secret Service, macOS
    Keychain, Windows Credential Locker); None on a machine without one, where keyring
    only offers its 'fail' or plaintext backends."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - a dependency; a broken install
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration is no keyring
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    return keyring


def keyring_name() -> str | None:
    """The name of the keyring backend in use, or None when there is none."""
    kr = _keyring()
    return None if kr is None else type(kr.get_keyring()).__name__


def find_key(path: str | Path) -> str | None:
    """The key of the encrypted database at `path`: CRM_DB_KEY, then the keyring."""
    key = os.environ.get(KEY_ENV)
    if key:
        return key
    kr = _keyring()
    if kr is None:
        return None
    try:
        found = kr.get_password(KEYRING_SERVICE, _keyring_user(Path(path)))
    except Exception:  # locked, refused or broken: as if it held nothing
        return None
    return found or None


def remember_key(path: str | Path, key: str) -> bool:
    """Keep the key in the OS keyring; False when there is none or it refused."""
    kr = _keyring()
    if kr is None:
        return False
    try:
        kr.set_password(KEYRING_SERVICE, _keyring_user(Path(path)), key)
    except Exception:
        return False
    return True


def forget_key(path: str | Path) -> bool:
    """Remove the database's key from the keyring; False when it held none."""
    kr = _keyring()
    if kr is None:
        return False
    try:
        kr.delete_password(KEYRING_SERVICE, _keyring_user(Path(path)))
    except Exception:
        return False
    return True


# -- converting -----------------------------------------------------------------------

CONVERT_WAIT_S = 2.0


def encrypt(path: str | Path, key: str) -> None:
    """Convert the plain database at `path` into an encrypted one with `key`."""
    path = Path(path)
    if is_encrypted(path):
        raise DatabaseError(t("db.already_encrypted", path=path))
    if not key:
        raise KeyRequired(t("db.key_empty", path=path))
    _convert(path, source_key=None, target_key=key)


def decrypt(path: str | Path, key: str) -> None:
    """Convert the encrypted database at `path` back into a plain one."""
    path = Path(path)
    if not is_encrypted(path):
        raise DatabaseError(t("db.not_encrypted", path=path))
    _convert(path, source_key=key, target_key=None)


def _convert(path: Path, *, source_key: str | None, target_key: str | None) -> None:
    """Copy the database into `<path>.converting` encrypted with `target_key` (None:
    plain), check the copy, then rename it over the original. The original is never
    written to: until the rename it is whole and current; after it, the copy is.
    Refused while another program has the database open (its later writes would go
    to the replaced file and be lost)."""
    if not path.exists():
        raise DatabaseError(t("db.missing", path=path))
    target = path.with_name(path.name + ".converting")
    # Through SQLCipher, which reads a plain database too (ATTACH ... KEY needs it). A
    # short wait: a sync or import finishing its write is waited for, an open UI is not.
    # A wrong key stops here, before anything is made.
    src: Any = connect(path, source_key, cipher=True, timeout=CONVERT_WAIT_S)
    try:
        _remove(target)  # a copy left by a conversion that was killed
        make_private(target)
        # Leaving WAL mode needs the database to ourselves: it fails while another
        # connection has it open, and folds the WAL into the file.
        try:
            mode = src.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except ERRORS.operational as exc:
            if _is_busy(exc):
                raise DatabaseError(t("db.in_use", path=path)) from None
            raise
        if str(mode).lower() != "delete":
            raise DatabaseError(t("db.in_use", path=path))
        version = src.execute("PRAGMA user_version").fetchone()[0]
        src.execute(f"ATTACH DATABASE ? AS converted KEY {quote_key(target_key or '')}", (str(target),))
        src.execute("BEGIN EXCLUSIVE")
        try:
            src.execute("SELECT sqlcipher_export('converted')")
            src.execute(f"PRAGMA converted.user_version = {int(version)}")
            counts = _counts(src)
            src.execute("COMMIT")
        except BaseException:
            src.execute("ROLLBACK")
            raise
        src.execute("DETACH DATABASE converted")
    except BaseException:
        src.close()
        _remove(target)
        raise
    src.close()
    try:
        _check(target, target_key, version, counts)
    except DatabaseError:
        _remove(target)
        raise
    except ERRORS.database as exc:
        _remove(target)
        raise DatabaseError(t("db.convert_failed", path=path, reason=exc)) from None
    # The original's side files: none should be left (it was closed in DELETE mode),
    # and none may stay to be read as the new file's.
    for side in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + side).unlink(missing_ok=True)
    os.replace(target, path)
    _sync_dir(path.parent)


def _counts(conn: Any) -> dict[str, int]:
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}


def _check(target: Path, key: str | None, version: int, counts: dict[str, int]) -> None:
    """The converted copy opens with its key (or as plain SQLite), is intact, and holds
    every table with as many rows as the original, at the same schema version."""
    if is_encrypted(target) != (key is not None):
        raise DatabaseError(t("db.convert_failed", path=target,
                              reason="not encrypted" if key is not None else "still encrypted"))
    try:
        conn: Any = connect(target, key)
    except DatabaseError as exc:
        raise DatabaseError(t("db.convert_failed", path=target, reason=exc)) from None
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        found_version = conn.execute("PRAGMA user_version").fetchone()[0]
        found = _counts(conn)
    finally:
        conn.close()
    if ok != "ok" or found_version != version or found != counts:
        reason = ok if ok != "ok" else (f"schema {found_version} != {version}" if found_version != version
                                        else "row counts differ")
        raise DatabaseError(t("db.convert_failed", path=target, reason=reason))


def _remove(path: Path) -> None:
    for name in (path, path.with_name(path.name + "-journal")):
        name.unlink(missing_ok=True)


def _sync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
