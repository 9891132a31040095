"""None bound through a crm connection is stored as SQL NULL, by execute and by
executemany, plain and encrypted: crm_tui.db.connection gives the DB-API module an
adapter for None (binding None otherwise builds and drops an AttributeError each
time, ~0.4 us, some 700k times in a first sync of 100k changes: docs/benchmarks.md),
and that adapter must store exactly what the module stored without it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crm_tui.db.connection import cipher_driver, connect

ROWS = [("x", None), (None, None), (None, 0)]
STORED = [("x", "text", None, "null"), (None, "null", None, "null"), (None, "null", 0, "integer")]


@pytest.mark.parametrize("key", [None, "a key"])
def test_none_is_bound_as_null_by_execute_and_executemany(tmp_path: Path, key: str | None) -> None:
    conn = connect(tmp_path / "x.db", key)
    conn.execute("CREATE TABLE t (a TEXT DEFAULT 'a default', b INTEGER DEFAULT 7)")
    conn.execute("INSERT INTO t VALUES (?, ?)", ROWS[0])
    conn.executemany("INSERT INTO t VALUES (?, ?)", ROWS[1:])
    assert [tuple(r) for r in conn.execute("SELECT a, typeof(a), b, typeof(b) FROM t ORDER BY rowid")] == STORED
    assert conn.execute("SELECT count(*) FROM t WHERE a IS ?", (None,)).fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM t WHERE a = ?", (None,)).fetchone()[0] == 0  # NULL equals nothing
    assert conn.execute("SELECT ? IS NULL", (None,)).fetchone()[0] == 1
    conn.close()


def test_none_is_adapted_without_the_protocol_lookup() -> None:
    # The module asks PrepareProtocol for __adapt__ (an AttributeError each time)
    # only when no adapter is registered for the value's type.
    assert (type(None), sqlite3.PrepareProtocol) in sqlite3.adapters
    driver = cipher_driver()
    assert (type(None), driver.PrepareProtocol) in driver.adapters
