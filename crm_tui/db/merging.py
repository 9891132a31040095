"""SQL of merges: the records of a customer by kind, the stamp of a merge, and which
records were changed after it (in the change log, from any replica)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

_CHUNK = 500  # bound on the host parameters of one IN (...)


def ids_of_customer(conn: sqlite3.Connection, table: str, ref: str, customer_id: str) -> list[str]:
    return [r[0] for r in conn.execute(f"SELECT id FROM {table} WHERE {ref} = ? ORDER BY id", (customer_id,))]


def customer_of(conn: sqlite3.Connection, table: str, ref: str, row_id: str, *, missing: str) -> str | None:
    """The customer a record is of (its `ref` field); `missing` for a record not here
    (deleted since: nothing to move back)."""
    row = conn.execute(f"SELECT {ref} FROM {table} WHERE id = ?", (row_id,)).fetchone()
    return missing if row is None else row[0]


def insert_stamp(conn: sqlite3.Connection, table: str, row_id: str) -> int | None:
    """The clock stamp of the logged insert of a record (a merge's)."""
    row = conn.execute("SELECT max(hlc) FROM change_log WHERE tbl = ? AND row_id = ? AND op = 'insert'",
                       (table, row_id)).fetchone()
    return row[0] if row else None


def changed_after(conn: sqlite3.Connection, table: str, ids: Sequence[str], hlc: int, *,
                  ignore_deletes: bool = False) -> list[str]:
    """Ids among `ids` with a change stamped after `hlc` (by anyone)."""
    found: list[str] = []
    extra = " AND op != 'delete'" if ignore_deletes else ""
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i:i + _CHUNK])
        found += [r[0] for r in conn.execute(
            f"SELECT DISTINCT row_id FROM change_log WHERE tbl = ? AND hlc > ?{extra} "
            f"AND row_id IN ({', '.join('?' * len(chunk))}) ORDER BY row_id", (table, hlc, *chunk))]
    return found


def merged_into(conn: sqlite3.Connection, customer_id: str) -> list[str]:
    """The customers merged into this one (merges not undone)."""
    return [r[0] for r in conn.execute(
        "SELECT other_id FROM merges WHERE customer_id = ? AND status = 'merged' ORDER BY merged_at",
        (customer_id,))]
