"""Change capture: triggers, generated from a table's live columns, that log every
insert, update and delete in the same transaction as the write.

Triggers rather than Python hooks, so that a user's script writing the tables with
plain sqlite3 is captured too. The hybrid logical clock is advanced in SQL from the
`replica` row; capture pauses only while sync applies a pulled change with its own
stamp (replica.capture = 0)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from crm_tui.domain.entities import OPS, local_only_columns
from crm_tui.sync.clock import COUNTER_BITS, COUNTER_MAX

# Milliseconds since the epoch in SQLite 3.40 (unixepoch('subsec') needs 3.42).
NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

# Hybrid logical clock tick: the wall part follows the real clock, the counter breaks
# ties within one millisecond and carries into the wall part before it overflows.
TICK = f"""UPDATE replica SET
        wall = CASE WHEN {NOW_MS} > wall THEN {NOW_MS} WHEN counter >= {COUNTER_MAX} THEN wall + 1 ELSE wall END,
        counter = CASE WHEN {NOW_MS} > wall THEN 0 WHEN counter >= {COUNTER_MAX} THEN 0 ELSE counter + 1 END,
        seq = seq + 1;"""


def captured_columns(conn: sqlite3.Connection, table: str) -> list[str]:
    cols = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    local = local_only_columns(table)
    return [c for c in cols if c != "id" and c not in local]


def _changed_object(cols: list[str], value: str, *, json_values: bool = False) -> str:
    """SQL for a JSON object of the changed columns, each mapped to `value` (a
    template over the column name); `json_values` when `value` is itself JSON."""
    parts = [
        f"SELECT '{c}' AS k, {value.format(c=c)} AS v WHERE NEW.{c} IS NOT OLD.{c}" for c in cols
    ]
    v = "json(v)" if json_values else "v"
    return f"(SELECT json_group_object(k, {v}) FROM (" + " UNION ALL ".join(parts) + "))"


def capture_sql(table: str, cols: list[str]) -> list[str]:
    insert_data = "json_object(" + ", ".join(f"'{c}', NEW.{c}" for c in cols) + ")"
    delete_old = "json_object(" + ", ".join(f"'{c}', OLD.{c}" for c in cols) + ")"
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in cols)
    # The stamp of the version each changed field replaces: sync uses it to tell a
    # sequential overwrite from a concurrent edit (a conflict to keep for review).
    base_of = (
        "(SELECT json_array(b.hlc, b.node) FROM change_log b WHERE b.tbl = '"
        + table
        + "' AND b.row_id = OLD.id AND json_type(b.data, '$.{c}') IS NOT NULL"
        " ORDER BY b.hlc DESC, b.node DESC LIMIT 1)"
    )
    base = _changed_object(cols, base_of, json_values=True)
    log = (
        "INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep) "
        f"SELECT node, seq, wall * {1 << COUNTER_BITS} + counter, '{table}', {{row}}, '{{op}}', "
        "{data}, {old}, {base}, rep FROM replica;"
    )
    enabled = "(SELECT capture FROM replica) = 1"
    return [
        f"DROP TRIGGER IF EXISTS {table}_capture_insert",
        f"DROP TRIGGER IF EXISTS {table}_capture_update",
        f"DROP TRIGGER IF EXISTS {table}_capture_delete",
        f"DROP TRIGGER IF EXISTS {table}_id_immutable",
        f"""CREATE TRIGGER {table}_id_immutable BEFORE UPDATE OF id ON {table}
            WHEN NEW.id IS NOT OLD.id
            BEGIN SELECT RAISE(ABORT, '{table}.id cannot change'); END""",
        f"""CREATE TRIGGER {table}_capture_insert AFTER INSERT ON {table} WHEN {enabled}
            BEGIN {TICK}
            {log.format(row="NEW.id", op="insert", data=insert_data, old="NULL", base="NULL")}
            END""",
        f"""CREATE TRIGGER {table}_capture_update AFTER UPDATE ON {table}
            WHEN {enabled} AND ({changed})
            BEGIN {TICK}
            {log.format(row="NEW.id", op="update", data=_changed_object(cols, "NEW.{c}"),
                        old=_changed_object(cols, "OLD.{c}"), base=base)}
            END""",
        f"""CREATE TRIGGER {table}_capture_delete AFTER DELETE ON {table} WHEN {enabled}
            BEGIN {TICK}
            {log.format(row="OLD.id", op="delete", data="'{}'", old=delete_old, base="NULL")}
            END""",
    ]


def install_capture(conn: sqlite3.Connection, table: str) -> None:
    """(Re)create the capture triggers of `table` from its current columns."""
    for stmt in capture_sql(table, captured_columns(conn, table)):
        conn.execute(stmt)


_OPS = frozenset(OPS)  # the operations the log's CHECK allows (schema.sql), as the domain names them


@contextmanager
def log_ops_checked(conn: sqlite3.Connection, ops: Iterable[str]) -> Iterator[None]:
    """Around one statement that writes change-log rows of the operations `ops`, and
    nothing else (the switch is the connection's). The log's one CHECK, op IN
    ('insert', 'update', 'delete'), makes SQLite build a temporary table of the three
    words for every row it checks: a third of the CPU of inserting a pulled page's log
    rows, a tenth of an import's log statement. The ops are checked here, once,
    against the same words, and the rows written without the per-row CHECK; rows
    with any other op are written with it (and refused by it, as before)."""
    checked = _OPS.issuperset(ops)
    if checked:
        conn.execute("PRAGMA ignore_check_constraints = ON")
    try:
        yield
    finally:
        if checked:
            conn.execute("PRAGMA ignore_check_constraints = OFF")
