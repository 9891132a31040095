"""A book as an earlier version left it, for the tests of what a migration does to the
data a rep already has: the migrations before a given one, each in its transaction
with its user_version, as that version ran them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from crm_tui.db.connection import connect, new_node_id, transaction
from crm_tui.db.migrations import MIGRATIONS


def book_before(path: Path, migration: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """An open connection to a new book at `path` with every migration before
    `migration` run, and its replica row (rep wang); the caller closes it."""
    conn = connect(path)
    for number in range(MIGRATIONS.index(migration)):
        with transaction(conn):
            MIGRATIONS[number](conn)
            if number == 0:
                conn.execute("INSERT INTO replica (id, node, rep) VALUES (1, ?, 'wang')", (new_node_id(),))
            conn.execute(f"PRAGMA user_version = {number + 1}")
    return conn
