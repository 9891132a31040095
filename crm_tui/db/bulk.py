"""Bulk insert for imports and seeding: the same change-log rows and search index
the triggers would write, made by one statement each instead of one per row.

Why: measured on SQLite 3.40, any AFTER INSERT trigger on a table with secondary
indexes makes executemany about 3x slower, and FTS5 indexing row by row from a
trigger is several times slower than one INSERT … SELECT. So the insert triggers are
set aside inside the transaction and restored, byte for byte, before it commits;
every other write goes through the triggers as usual. Sync sets them aside the same
way while it applies a pulled batch."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from crm_tui.db.capture import NOW_MS, captured_columns, log_ops_checked
from crm_tui.db.migrations import contact_search, search_text
from crm_tui.sync.clock import COUNTER_BITS, COUNTER_MAX


@contextmanager
def insert_triggers_set_aside(conn: sqlite3.Connection, tables: Iterable[str]) -> Iterator[None]:
    """Inside the caller's transaction: drop the AFTER INSERT triggers of `tables`,
    and on leaving restore them, byte for byte, and index the customers inserted
    meanwhile. Rows inserted here are NOT captured: the caller logs them itself
    (a bulk insert) or they carry their own stamps (a pulled batch)."""
    if not conn.in_transaction:
        raise RuntimeError("insert triggers may only be set aside inside a transaction")
    tables = list(tables)
    first_customer = conn.execute("SELECT coalesce(max(local_id), 0) FROM customers").fetchone()[0]
    first_contact = conn.execute("SELECT coalesce(max(rowid), 0) FROM contacts").fetchone()[0]
    marks = ", ".join("?" * len(tables))
    triggers = conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks}) "
        "AND sql LIKE '%AFTER INSERT ON%'", tables).fetchall()
    with _set_aside(conn, "TRIGGER", triggers):
        yield
    if "customers" in tables:
        conn.execute(
            f"INSERT INTO customer_search_text (local_id, text) SELECT local_id, {search_text('c')} "
            "FROM customers AS c WHERE local_id > ?", (first_customer,))
        conn.execute("INSERT INTO customer_search (rowid, text) SELECT local_id, text "
                     "FROM customer_search_text WHERE local_id > ?", (first_customer,))
    if "contacts" in tables:
        # After the customers are indexed: this update re-indexes them by its trigger.
        conn.execute(f"UPDATE customers SET contact_search = {contact_search('customers.id')} "
                     "WHERE id IN (SELECT customer_id FROM contacts WHERE rowid > ?)", (first_contact,))


@contextmanager
def indexes_built_after(conn: sqlite3.Connection, table: str, when: bool = True) -> Iterator[None]:
    """Inside the caller's transaction: drop the plain (not UNIQUE) indexes of
    `table` and create them again, from the same SQL, on leaving: one sort per index
    instead of a B-tree insert per row and index. Only worth it into an empty or
    small table; a failure rolls the whole transaction back, indexes and all."""
    if not when:
        yield
        return
    if not conn.in_transaction:
        raise RuntimeError("indexes may only be set aside inside a transaction")
    indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                           "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'", (table,)).fetchall()
    with _set_aside(conn, "INDEX", indexes):
        yield


@contextmanager
def _set_aside(conn: sqlite3.Connection, kind: str, objects: Sequence[tuple[str, str]]) -> Iterator[None]:
    """Drop the schema `objects` (name, the SQL that made them) of `kind` (TRIGGER,
    INDEX) and make them again, from that same SQL, on leaving."""
    for name, _ in objects:
        conn.execute(f'DROP {kind} "{name}"')
    try:
        yield
    finally:
        for _, sql in objects:
            conn.execute(sql)


def bulk_insert(conn: sqlite3.Connection, table: str, cols: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> int:
    """Insert `rows` into `table` inside the caller's transaction, capturing each as
    an 'insert' change stamped with consecutive clock ticks. Returns the count."""
    first_rowid = conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]
    # Into an empty table (a first import), the secondary indexes are built after
    # the rows, each by one sort, instead of row by row.
    with insert_triggers_set_aside(conn, [table]), indexes_built_after(conn, table, first_rowid == 0):
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)
    count, last_rowid = conn.execute(f"SELECT count(*), coalesce(max(rowid), 0) FROM {table} WHERE rowid > ?",
                                     (first_rowid,)).fetchone()
    if not count:
        return 0
    # Clock: the next `count` ticks after max(last stamp, now), as the triggers would.
    wall, counter, now = conn.execute(f"SELECT wall, counter, {NOW_MS} FROM replica").fetchone()
    start = max((wall << COUNTER_BITS) + counter + 1, now << COUNTER_BITS)
    last = start + count - 1
    captured = captured_columns(conn, table)
    data = "json_object(" + ", ".join(f"'{c}', t.{c}" for c in captured) + ")"
    # The n-th inserted row (1-based) takes the n-th tick and sequence number. The
    # rows of one executemany in our write transaction take consecutive rowids
    # (max + 1 each), so n is the rowid's distance from the first: half the cost of
    # numbering them with a window function, which sorts them. Should they not be
    # consecutive, they are numbered.
    if last_rowid - first_rowid == count:
        source, n = f"{table} AS t", f"(t.rowid - {int(first_rowid)})"
        where, order = "WHERE t.rowid > ? ORDER BY t.rowid", ""
    else:
        source, n = f"(SELECT *, row_number() OVER (ORDER BY rowid) AS n FROM {table} WHERE rowid > ?) AS t", "n"
        where, order = "", "ORDER BY n"
    with log_ops_checked(conn, ["insert"]):
        conn.execute(
            "INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep) "
            f"SELECT r.node, r.seq + {n}, ? + {n} - 1, '{table}', t.id, 'insert', {data}, NULL, NULL, r.rep "
            f"FROM replica AS r, {source} {where} {order}",
            (start, first_rowid),
        )
    conn.execute("UPDATE replica SET wall = ?, counter = ?, seq = seq + ?",
                 (last >> COUNTER_BITS, last & COUNTER_MAX, count))
    return count
