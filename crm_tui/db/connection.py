"""Opening the local database: durability pragmas, migrations, the replica's node id,
the key of an encrypted database, and the one way to write (`transaction`). Every
connection to a laptop's database is made here (`connect`)."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from crm_tui.db import records
from crm_tui.db import schema as new_schema
from crm_tui.db.migrations import MIGRATIONS, SCHEMA_VERSION
from crm_tui.domain.entities import ENTITIES
from crm_tui.domain.search import fold
from crm_tui.i18n import db_reason, os_reason, t


def _null(value: None) -> None:
    return None


# Python's sqlite3 binds str, int, float and bytes as they are, but looks up an
# adaptation for every other value, None included: with no adapter registered for
# None it asks the protocol for __adapt__, which builds and throws away an
# AttributeError, message and all (~0.4 us per None; a first sync of 100k changes
# binds some 700k of them: the log's old and base, a record's empty fields). An
# adapter that returns None binds it as NULL, as before, without the error.
sqlite3.register_adapter(type(None), _null)


class DatabaseError(Exception):
    """A database that cannot be used, with a message meant for the user."""


class DatabaseTooNew(DatabaseError):
    pass


class DatabaseMissing(DatabaseError):
    """A command that only reads was pointed at a file that does not exist."""


class DatabaseBusy(DatabaseError):
    """Another program kept the database locked for longer than BUSY_TIMEOUT_S."""


class KeyRequired(DatabaseError):
    """The database is encrypted and no key was given (nor found: see db/keys.py)."""


class WrongKey(DatabaseError):
    """The key given does not open this encrypted database."""


class _DriverErrors:
    """The exception classes of the SQLite drivers loaded: the standard library's, and
    SQLCipher's once an encrypted database is opened (its classes are its own, not
    subclasses of sqlite3's). `except ERRORS.integrity:` catches either driver's; the
    tuples are read when an exception is raised, so a driver loaded later counts."""

    def __init__(self) -> None:
        self.drivers: list[Any] = []
        self.integrity: tuple[type[BaseException], ...] = ()
        self.operational: tuple[type[BaseException], ...] = ()
        self.database: tuple[type[BaseException], ...] = ()
        # What a value this replica cannot store raises while it is written: a
        # constraint, a value SQLite cannot bind, a number out of range, text that is
        # not UTF-8. Not OperationalError: a full disk or a locked database is no data error.
        self.data: tuple[type[BaseException], ...] = (
            OverflowError, ValueError, TypeError, UnicodeError, KeyError, IndexError)
        self.add(sqlite3)

    def add(self, driver: Any) -> None:
        if driver in self.drivers:
            return
        self.drivers.append(driver)
        self.integrity += (driver.IntegrityError,)
        self.operational += (driver.OperationalError,)
        self.database += (driver.DatabaseError,)
        self.data += (driver.IntegrityError, driver.InterfaceError, driver.ProgrammingError, driver.DataError)


ERRORS = _DriverErrors()


def not_crm(path: Path | str, error: BaseException) -> DatabaseError:
    """The refusal of a file SQLite would not open as a database, in the user's words:
    one it cannot open at all (a folder, no permission), or one that is something else."""
    if getattr(error, "sqlite_errorcode", 0) & 0xFF != 14:
        return DatabaseError(t("db.not_crm", path=path, reason=db_reason(error)))
    reason = t("oserror.eisdir") if Path(path).is_dir() else db_reason(error)
    return DatabaseError(t("db.cannot_open", path=path, reason=reason))


def cipher_driver() -> Any:
    """SQLCipher's DB-API module (sqlcipher3), loaded on first use: a plain database
    never pays for it."""
    try:
        import sqlcipher3.dbapi2 as driver  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # pragma: no cover - it is a dependency; a broken install
        raise DatabaseError(t("db.no_sqlcipher")) from None
    ERRORS.add(driver)
    driver.register_adapter(type(None), _null)  # as for sqlite3: see _null
    return driver


# The first 16 bytes of every plain SQLite database; an SQLCipher database starts
# with its random salt instead.
SQLITE_HEADER = b"SQLite format 3\x00"


def is_encrypted(path: str | Path) -> bool:
    """Whether the file at `path` is an encrypted (SQLCipher) database: not starting
    with SQLite's header, and made of whole pages (a multiple of 512 bytes, as every
    database is), which tells it from a file that is no database at all. A missing or
    new empty file is not."""
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return False
    return size > 0 and size % 512 == 0 and head != SQLITE_HEADER


def quote_key(key: str) -> str:
    """The key as an SQL string literal for PRAGMA key / ATTACH ... KEY."""
    return "'" + key.replace("'", "''") + "'"


# How long a write waits for another writer (a sync, an import in another shell)
# before giving up with a message: long enough for any normal write to finish.
BUSY_TIMEOUT_S = 10.0


def connect(path: str | Path, key: str | None = None, *, cipher: bool = False,
            timeout: float | None = None) -> sqlite3.Connection:
    """A connection with the pragmas every connection needs; no migration. With `key`,
    through SQLCipher: the key is checked before anything else is read or written
    (WrongKey), and temporary tables and indexes stay in memory, where nothing is
    written in clear to a temporary file. `cipher` without a key: a plain database
    through SQLCipher's SQLite (to convert it; see db/encryption.py). `timeout`:
    BUSY_TIMEOUT_S as it is when called (the busy message names that figure)."""
    timeout = BUSY_TIMEOUT_S if timeout is None else timeout
    if key is None and not cipher:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=timeout)
        conn.row_factory = sqlite3.Row
    else:
        conn = _connect_cipher(path, key, timeout)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    # Search's one fold, for the text that has no folded copy (a complaint's description,
    # a deal's title: crm_tui.db.records.search_clause); reads only, never a trigger,
    # so a user's own sqlite3 script can still write every table.
    conn.create_function("search_fold", 1, _search_fold, deterministic=True)
    # A rep's battery dying is a power loss: a saved edit must survive it.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def _search_fold(value: str | None) -> str | None:
    return fold(value) if isinstance(value, str) else value


def _connect_cipher(path: str | Path, key: str | None, timeout: float) -> sqlite3.Connection:
    if key is not None and not key:
        raise KeyRequired(t("db.key_empty", path=path))
    driver = cipher_driver()
    conn: Any = driver.connect(str(path), isolation_level=None, check_same_thread=False, timeout=timeout)
    try:
        # SQLCipher logs a failed page decryption to stderr: a wrong key is our message.
        conn.execute("PRAGMA cipher_log_level = NONE")
        if key is not None:
            conn.execute(f"PRAGMA key = {quote_key(key)}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except driver.OperationalError as exc:
        conn.close()
        if _is_busy(exc):
            raise busy_error(Path(path)) from None
        raise WrongKey(t("db.wrong_key", path=path)) from None
    except driver.DatabaseError:
        conn.close()
        raise WrongKey(t("db.wrong_key", path=path)) from None
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.row_factory = driver.Row
    # SQLCipher's connection is not sqlite3's class, but has its API (DB-API 2 and more).
    return cast(sqlite3.Connection, conn)


# A rep's laptop may have other users: the database, its WAL and shared-memory
# files are the owner's alone, in a directory only the owner can list.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SIDE_FILES = ("-wal", "-shm", "-journal")


def _loose(mode: int, allowed: int) -> bool:
    return bool(stat.S_IMODE(mode) & ~allowed)


def make_private(path: Path, *, private_dir: bool = False) -> list[str]:
    """Create the database file 0600 (in a 0700 directory when we create it, or when
    `private_dir` says the directory is the app's own) before SQLite opens it, and
    tighten an existing database, WAL or shared-memory file open to others. SQLite
    gives the WAL and -shm the database file's mode. Returns a notice per file
    tightened, for the user."""
    notices: list[str] = []
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(parent, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    elif private_dir and _loose(parent.stat().st_mode, PRIVATE_DIR):
        os.chmod(parent, PRIVATE_DIR)
        notices.append(t("db.dir_tightened", path=parent))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
        os.chmod(path, PRIVATE_FILE)
    for name in (path, *(path.with_name(path.name + side) for side in SIDE_FILES)):
        try:
            mode = name.stat().st_mode
        except FileNotFoundError:
            continue
        if _loose(mode, PRIVATE_FILE) and stat.S_ISREG(mode):
            os.chmod(name, PRIVATE_FILE)
            notices.append(t("db.file_tightened", path=name, mode=f"{stat.S_IMODE(mode):o}"))
    return notices


def open_database(path: str | Path, *, rep: str | None = None, private_dir: bool = False,
                  notices: list[str] | None = None, create: bool = True, key: str | None = None,
                  encrypt: bool = False) -> sqlite3.Connection:
    """Open and migrate the database at `path`, made private to its owner first (see
    `make_private`; its notices are added to `notices`); with `create`, make it if
    missing. An encrypted database needs its `key` (KeyRequired, WrongKey); with
    `encrypt`, a database made here is encrypted with `key`. A plain database ignores
    `key`: `crm encrypt` converts it."""
    path = Path(path)
    cipher_key: str | None = None
    if str(path) != ":memory:":
        if not create and not path.exists():
            raise DatabaseMissing(t("db.missing", path=path))
        encrypted = is_encrypted(path)
        if encrypted:
            if not key:
                raise KeyRequired(t("db.key_required", path=path))
            cipher_key = key
        elif encrypt:
            if path.exists() and path.stat().st_size > 0:
                raise DatabaseError(t("db.already_plain", path=path))
            if not key:
                raise KeyRequired(t("db.key_required", path=path))
            cipher_key = key
        try:
            found = make_private(path, private_dir=private_dir)
        except OSError as exc:
            raise DatabaseError(t("db.cannot_open", path=path, reason=os_reason(exc))) from None
        if notices is not None:
            notices.extend(found)
    try:
        conn = connect(path, cipher_key)
        mode = _set_wal(conn)
    except ERRORS.operational as exc:
        if _is_busy(exc):
            raise busy_error(path) from None
        raise not_crm(path, exc) from exc
    except ERRORS.database as exc:
        raise not_crm(path, exc) from exc
    if str(path) != ":memory:" and mode.lower() != "wal":
        raise DatabaseError(t("db.no_wal", path=path, mode=mode))
    migrate(conn, path)
    if rep is not None:
        with transaction(conn):
            conn.execute("UPDATE replica SET rep = ? WHERE rep IS NOT ?", (rep, rep))
    return conn


def _set_wal(conn: sqlite3.Connection) -> str:
    """Put the database in WAL mode; the mode it is in. While another program writes it
    with a rollback journal (a big import, see `written_once`), SQLite refuses the
    switch at once instead of calling the busy handler (the writer holds the lock
    this connection would need, and it holds one the writer needs): so it is tried
    again until the write ends, for as long as any busy wait lasts."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except ERRORS.operational as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def migrate(conn: sqlite3.Connection, path: str | Path = "", *, replay: bool = False) -> None:
    """Bring the database to the current schema. A new one is made from the schema
    all migrations make, written as one script (db/schema.py; `replay` replays them
    one by one instead, as an existing database is upgraded)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DatabaseTooNew(t("db.too_new", path=path, version=version, known=SCHEMA_VERSION))
    if version == SCHEMA_VERSION:
        return
    # Every pending migration in ONE transaction: a new database is made with one
    # commit (one sync of the disk, not one per migration: a fifth of a second of a
    # first `crm import`), and an upgrade that fails leaves the database as it was.
    with transaction(conn):
        if version == 0 and not replay and new_schema.create(conn):
            conn.execute("INSERT INTO replica (id, node) VALUES (1, ?)", (new_node_id(),))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        else:
            for number in range(version, SCHEMA_VERSION):
                MIGRATIONS[number](conn)
                if number == 0:
                    conn.execute("INSERT INTO replica (id, node) VALUES (1, ?)", (new_node_id(),))
                conn.execute(f"PRAGMA user_version = {number + 1}")
        if version == 0:  # a new database: no derived value in it was made by an older rule
            records.set_derived_versions(conn, ((ent.table, d.column, d.version)
                                                for ent in ENTITIES.values() for d in ent.derived))


def new_node_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: BEGIN IMMEDIATE so a second writer waits instead of
    failing half-way; nests as a savepoint."""
    if conn.in_transaction:
        name = f"sp_{uuid.uuid4().hex[:8]}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
    except ERRORS.operational as exc:
        if _is_busy(exc):
            raise busy_error(database_file(conn)) from None
        raise
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def written_once(conn: sqlite3.Connection, when: bool = True) -> Iterator[bool]:
    """Around one big write transaction (a large import): a rollback journal instead
    of the WAL while it lasts, when no other connection has the database open;
    yields whether it switched. WAL writes every page twice, into the WAL and again
    into the file at the checkpoint (a 100k-customer import: 150 MB each way);
    with a rollback journal, the pages added beyond the file's old end are written
    once, and only the few old pages the write changes are copied to the journal
    first. A crash leaves a hot journal that the next opening of the database rolls
    back before anything reads it, truncating what was added, and `open_database`
    sets WAL again, so a killed import still leaves nothing of itself.

    Leaving WAL needs the database to ourselves: with another process's connection
    open (`open_elsewhere`), or another of this process (SQLite refuses the switch
    at once: SQLITE_BUSY), the write stays in WAL. WAL is set again after the
    write, committed or not. Meanwhile a program that opens the database waits
    for the write to end, as a second writer does (`open_database`)."""
    if (not when or conn.in_transaction or conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal"
            or open_elsewhere(database_file(conn))):
        yield False
        return
    try:
        switched = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0].lower() == "delete"
    except ERRORS.operational as exc:
        if not _is_busy(exc):
            raise
        switched = False
    try:
        yield switched
    finally:
        if switched:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
            except ERRORS.operational as exc:
                # Another program opened the database meanwhile and is reading it: it set
                # WAL itself when it opened (every connection does), or the next one will.
                if not _is_busy(exc):
                    raise


def _is_busy(exc: BaseException) -> bool:
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(exc)


def database_file(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()["file"] or ":memory:")


def busy_error(path: Path) -> DatabaseBusy:
    """The message for a database another writer holds: who, when the system says."""
    holders = lock_holders(path)
    who = ", ".join(t("db.process", pid=pid, command=_command(pid)) for pid in holders) or t("db.another_program")
    return DatabaseBusy(t("db.busy", path=path, who=who, seconds=f"{BUSY_TIMEOUT_S:g}"))


def lock_holders(path: Path) -> list[int]:
    """Processes holding SQLite's write lock on `path`, read from /proc/locks (Linux;
    elsewhere none are known). In WAL mode the write lock is byte 120 of the -shm
    file; with a rollback journal, a write lock on the database file itself."""
    shm_key, db_key, locks = _file_key(f"{path}-shm"), _file_key(path), _file_locks()
    if db_key is None or locks is None:
        return []
    pids: list[int] = []
    for kind, pid, key, start, end in locks:
        holds = kind == "WRITE" and (
            key == db_key or (key == shm_key and int(start) <= 120 and (end == "EOF" or int(end) >= 120)))
        if holds and pid not in pids:
            pids.append(pid)
    return pids


def open_elsewhere(path: Path) -> bool:
    """Whether another process may have the database at `path` open: one holds a lock
    on its -shm file (a connection in WAL mode holds one, on byte 128, for as long as
    it is open), or that cannot be told (no /proc/locks). SQLite's own check, a lock
    on the database file, is not enough: a process loses its locks on a file when
    it closes any descriptor of that file (POSIX), e.g. a second connection's, or
    reading the file's header (`is_encrypted`)."""
    shm_key, locks = _file_key(f"{path}-shm"), _file_locks()
    if locks is None:
        return True
    return any(key == shm_key and pid != os.getpid() for _, pid, key, _, _ in locks)


def _file_key(path: str | Path) -> str | None:
    """A file's device and inode as /proc/locks names them; None if it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"


def _file_locks() -> list[tuple[str, int, str, str, str]] | None:
    """The file locks held now (kind, process, file key, first byte, last byte), from
    /proc/locks; None where it cannot be read."""
    try:
        with open("/proc/locks") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    locks = []
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not a holder
            continue
        try:
            locks.append((parts[3], int(parts[4]), parts[5], parts[6], parts[7]))
        except (IndexError, ValueError):
            continue
    return locks


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        return "?"
    return " ".join(a.decode(errors="replace") for a in args if a)[:80] or "?"
