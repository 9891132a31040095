"""Opening the local database: durability pragmas, migrations, the replica's node id,
and the one way to write (`transaction`)."""

from __future__ import annotations

import os
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from crm_tui.db.migrations import MIGRATIONS, SCHEMA_VERSION


class DatabaseError(Exception):
    """A database that cannot be used, with a message meant for the user."""


class DatabaseTooNew(DatabaseError):
    pass


class DatabaseMissing(DatabaseError):
    """A command that only reads was pointed at a file that does not exist."""


class DatabaseBusy(DatabaseError):
    """Another program kept the database locked for longer than BUSY_TIMEOUT_S."""


# How long a write waits for another writer (a sync, an import in another shell)
# before giving up with a message: long enough for any normal write to finish.
BUSY_TIMEOUT_S = 10.0


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the pragmas every connection needs; no migration."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    # A rep's battery dying is a power loss: a saved edit must survive it.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


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
        notices.append(f"{parent}: the data directory was open to other users; now only you can use it (0700)")
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
            notices.append(f"{name}: was readable by other users (mode {stat.S_IMODE(mode):o}); "
                           "now only you can read it (0600)")
    return notices


def open_database(path: str | Path, *, rep: str | None = None, private_dir: bool = False,
                  notices: list[str] | None = None, create: bool = True) -> sqlite3.Connection:
    """Open and migrate the database at `path`, made private to its owner first (see
    `make_private`; its notices are added to `notices`); with `create`, make it if
    missing."""
    path = Path(path)
    if str(path) != ":memory:":
        if not create and not path.exists():
            raise DatabaseMissing(f"there is no database at {path}")
        try:
            found = make_private(path, private_dir=private_dir)
        except OSError as exc:
            raise DatabaseError(f"{path}: cannot open the database ({exc.strerror or exc})") from None
        if notices is not None:
            notices.extend(found)
    try:
        conn = connect(path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise busy_error(path) from None
        raise DatabaseError(f"{path}: not a crm_tui database ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path}: not a crm_tui database ({exc})") from exc
    if str(path) != ":memory:" and mode.lower() != "wal":
        raise DatabaseError(f"{path}: could not switch to WAL journal mode (got {mode})")
    migrate(conn, path)
    if rep is not None:
        with transaction(conn):
            conn.execute("UPDATE replica SET rep = ? WHERE rep IS NOT ?", (rep, rep))
    return conn


def migrate(conn: sqlite3.Connection, path: str | Path = "") -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DatabaseTooNew(
            f"{path}: this database was made by a newer crm_tui (schema {version}, "
            f"this version knows up to {SCHEMA_VERSION}); upgrade crm_tui to open it"
        )
    for number in range(version, SCHEMA_VERSION):
        with transaction(conn):
            MIGRATIONS[number](conn)
            if number == 0:
                conn.execute("INSERT INTO replica (id, node) VALUES (1, ?)", (new_node_id(),))
            conn.execute(f"PRAGMA user_version = {number + 1}")


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
    except sqlite3.OperationalError as exc:
        if _is_busy(exc):
            raise busy_error(database_file(conn)) from None
        raise
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in str(exc)


def database_file(conn: sqlite3.Connection) -> Path:
    return Path(conn.execute("PRAGMA database_list").fetchone()["file"] or ":memory:")


def busy_error(path: Path) -> DatabaseBusy:
    """The message for a database another writer holds: who, when the system says."""
    holders = lock_holders(path)
    who = ", ".join(f"process {pid} ({_command(pid)})" for pid in holders) or "another program"
    return DatabaseBusy(f"{path}: the database is busy: {who} has been writing to it for more than "
                        f"{BUSY_TIMEOUT_S:g} s; try again when it has finished")


def lock_holders(path: Path) -> list[int]:
    """Processes holding SQLite's write lock on `path`, read from /proc/locks (Linux;
    elsewhere none are known). In WAL mode the write lock is byte 120 of the -shm
    file; with a rollback journal, a write lock on the database file itself."""
    try:
        shm = os.stat(f"{path}-shm")
        shm_key = f"{os.major(shm.st_dev):02x}:{os.minor(shm.st_dev):02x}:{shm.st_ino}"
    except OSError:
        shm_key = None
    try:
        db = os.stat(path)
        db_key = f"{os.major(db.st_dev):02x}:{os.minor(db.st_dev):02x}:{db.st_ino}"
        with open("/proc/locks") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    pids: list[int] = []
    for line in lines:
        parts = line.split()
        if "->" in parts:  # a waiter, not a holder
            continue
        try:
            kind, pid, key, start, end = parts[3], int(parts[4]), parts[5], parts[6], parts[7]
        except (IndexError, ValueError):
            continue
        holds = kind == "WRITE" and (
            key == db_key or (key == shm_key and int(start) <= 120 and (end == "EOF" or int(end) >= 120)))
        if holds and pid not in pids:
            pids.append(pid)
    return pids


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            args = fh.read().split(b"\0")
    except OSError:
        return "?"
    return " ".join(a.decode(errors="replace") for a in args if a)[:80] or "?"
