"""A big write through a rollback journal (db.connection.written_once): only when no
other connection has the database open, WAL again after it whether it committed or
not, and a program that opens the database meanwhile waits for it instead of failing.
(What a crash in the middle leaves: tests/test_write_funnel.py, a killed import.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crm_tui.db.connection import DatabaseBusy, open_database, transaction, written_once


def mode(conn) -> str:
    return str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()


def customers(conn) -> int:
    return int(conn.execute("SELECT count(*) FROM customers").fetchone()[0])


def add(conn, name: str) -> None:
    conn.execute("INSERT INTO customers (id, name, owner, created_at, updated_at) "
                 "VALUES (lower(hex(randomblob(13))), ?, 'wang', '2026-12-01', '2026-12-01')", (name,))


def test_alone_the_write_goes_through_a_journal_and_wal_comes_back(db_path: Path) -> None:
    conn = open_database(db_path)
    with written_once(conn) as switched, transaction(conn):
        assert switched and mode(conn) == "delete"
        add(conn, "张伟")
        assert Path(f"{db_path}-journal").exists() and not Path(f"{db_path}-wal").exists()
    assert mode(conn) == "wal" and customers(conn) == 1
    conn.close()
    again = open_database(db_path)
    assert customers(again) == 1
    again.close()


def test_a_failed_write_is_rolled_back_and_wal_comes_back(db_path: Path) -> None:
    conn = open_database(db_path)
    with pytest.raises(ZeroDivisionError), written_once(conn) as switched, transaction(conn):
        assert switched
        add(conn, "张伟")
        _ = 1 / 0
    assert mode(conn) == "wal" and customers(conn) == 0
    assert not Path(f"{db_path}-journal").exists()
    conn.close()


def test_small_or_nested_writes_stay_in_wal(db_path: Path) -> None:
    conn = open_database(db_path)
    with written_once(conn, when=False) as switched:
        assert not switched and mode(conn) == "wal"
    with transaction(conn), written_once(conn) as switched:  # a journal cannot change inside a transaction
        assert not switched and mode(conn) == "wal"
    conn.close()


def test_another_connection_of_this_process_keeps_it_in_wal(db_path: Path) -> None:
    conn, other = open_database(db_path), open_database(db_path)
    assert customers(other) == 0
    with written_once(conn) as switched, transaction(conn):
        assert not switched and mode(conn) == "wal"
        add(conn, "张伟")
    assert customers(other) == 1
    conn.close()
    other.close()


# Another program with the database open, which then reads the file's header
# (`is_encrypted`, as opening a second Crm does): closing that descriptor drops its
# process's lock on the database file (POSIX), which is what SQLite checks before
# leaving WAL. Its lock on the -shm file remains: `open_elsewhere` sees that one.
OTHER = """
import sys
from pathlib import Path
from crm_tui.db.connection import is_encrypted, open_database
conn = open_database(sys.argv[1])
print(conn.execute("SELECT count(*) FROM customers").fetchone()[0], is_encrypted(Path(sys.argv[1])), flush=True)
sys.stdin.readline()
print(conn.execute("SELECT count(*) FROM customers").fetchone()[0], flush=True)
"""


def test_another_program_with_the_database_open_keeps_it_in_wal(db_path: Path) -> None:
    open_database(db_path).close()
    other = subprocess.Popen([sys.executable, "-c", OTHER, str(db_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().split() == ["0", "False"]
        conn = open_database(db_path)
        with written_once(conn) as switched, transaction(conn):
            assert not switched and mode(conn) == "wal"
            add(conn, "张伟")
        conn.close()
        out, _ = other.communicate("again\n", timeout=60)
        assert out.strip() == "1"  # it reads the write, through its WAL
    finally:
        other.kill()
        other.wait()


HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode = DELETE")
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE replica SET rep = 'li'")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("committed", flush=True)
time.sleep(30)
"""


def test_opening_the_database_waits_for_a_write_through_a_journal(db_path: Path) -> None:
    """While another program writes through a rollback journal (and holds its write
    lock, with nothing yet in the file), SQLite refuses this connection's switch to
    WAL at once, without waiting: opening waits for the write to end instead of
    telling a user the database is busy."""
    open_database(db_path, rep="wang").close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path), "1.0"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        conn = open_database(db_path)
        assert holder.stdout.readline().strip() == "committed"
        assert mode(conn) == "wal"
        assert conn.execute("SELECT rep FROM replica").fetchone()[0] == "li"  # it waited for the write
        conn.close()
    finally:
        holder.kill()
        holder.wait()


def test_opening_still_gives_up_after_the_busy_timeout(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_tui.db import connection

    monkeypatch.setattr(connection, "BUSY_TIMEOUT_S", 0.3)
    open_database(db_path, rep="wang").close()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(DatabaseBusy, match=f"process {holder.pid}"):
            open_database(db_path)
    finally:
        holder.kill()
        holder.wait()
