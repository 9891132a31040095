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


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with the pragmas every connection needs; no migration."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
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
                  notices: list[str] | None = None) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at `path`, made private to
    its owner first (see `make_private`; its notices are added to `notices`)."""
    path = Path(path)
    if str(path) != ":memory:":
        try:
            found = make_private(path, private_dir=private_dir)
        except OSError as exc:
            raise DatabaseError(f"{path}: cannot open the database ({exc.strerror or exc})") from None
        if notices is not None:
            notices.extend(found)
    try:
        conn = connect(path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
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
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
