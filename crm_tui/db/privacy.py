"""SQL of privacy: finding every record about a customer (now or in the change log),
scrubbing their personal fields from the tables, the change log and the conflicts,
and making the freed bytes leave the database file and its WAL. Which fields are
personal is decided in `crm_tui.domain.privacy`; this module only writes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from crm_tui.domain.entities import ENTITIES
from crm_tui.domain.privacy import ERASED_NAME

_CHUNK = 500  # bound on the host parameters of one IN (...)

# table -> {field: scrubbed value}
Plan = Mapping[str, Mapping[str, Any]]


def table_exists(conn: sqlite3.Connection, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is not None


def related_ids(conn: sqlite3.Connection, customer_id: str, kinds: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """table -> ids of its records that point (or once pointed) to the customer:
    those in the table now and those the change log remembers (deleted since)."""
    found: dict[str, list[str]] = {}
    for table, ref in kinds:
        if not table_exists(conn, table):
            continue
        ids = {r[0] for r in conn.execute(f"SELECT id FROM {table} WHERE {ref} = ?", (customer_id,))}
        ids.update(r[0] for r in conn.execute(
            "SELECT DISTINCT row_id FROM change_log WHERE tbl = ? AND json_extract(data, ?) = ?",
            (table, f'$."{ref}"', customer_id)))
        found[table] = sorted(ids)
    return found


def rows(conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        out += [dict(r) for r in conn.execute(
            f"SELECT * FROM {table} WHERE id IN ({', '.join('?' * len(chunk))}) ORDER BY id", chunk)]
    return out


def log_count(conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> int:
    total = 0
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        total += conn.execute(f"SELECT count(*) FROM change_log WHERE tbl = ? AND row_id IN "
                              f"({', '.join('?' * len(chunk))})", (table, *chunk)).fetchone()[0]
    return total


def own_changes_count(conn: sqlite3.Connection, table: str, ids: Sequence[str], since_seq: int) -> int:
    """Changes made on this replica to these records after its change `since_seq`
    (the edits a sync pushed or is about to push)."""
    total = 0
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i:i + _CHUNK]
        total += conn.execute(
            f"SELECT count(*) FROM change_log WHERE tbl = ? AND row_id IN ({', '.join('?' * len(chunk))}) "
            "AND node = (SELECT node FROM replica) AND node_seq > ?", (table, *chunk, since_seq)).fetchone()[0]
    return total


def _json_replace(column: str, fields: Sequence[str]) -> str:
    """SQL replacing the fields present in a JSON object column (absent ones stay absent)."""
    paths = ", ".join(f"'$.\"{f}\"', ?" for f in fields)
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE json_replace({column}, {paths}) END"


def scrub(conn: sqlite3.Connection, customer_id: str, related: Mapping[str, Sequence[str]], plan: Plan) -> None:
    """Inside the caller's transaction: overwrite the personal fields of the customer
    and of `related` records in their tables, in every change-log entry about them
    (new values and replaced ones) and drop their conflicts. Not captured: an erase
    syncs as its own record, never as edits whose `old` would carry the data again."""
    capture = conn.execute("SELECT capture FROM replica").fetchone()[0]
    conn.execute("UPDATE replica SET capture = 0")
    try:
        for table, ids in [("customers", [customer_id]), *related.items()]:
            values = plan.get(table)
            if not values or not ids or not table_exists(conn, table):
                continue
            fields = list(values)
            params = [values[f] for f in fields]
            sets = ", ".join(f'"{f}" = ?' for f in fields)
            if table in ENTITIES:  # the derived columns spell the name (the pinyin key, the folded text);
                # '' is what they are for the erased values (a marker or NULL: no Chinese, ASCII)
                sets += "".join(f", {d.column} = ''" for d in ENTITIES[table].derived)
            for i in range(0, len(ids), _CHUNK):
                chunk = list(ids[i:i + _CHUNK])
                marks = ", ".join("?" * len(chunk))
                conn.execute(f"UPDATE {table} SET {sets} WHERE id IN ({marks})", (*params, *chunk))
                conn.execute(
                    f"UPDATE change_log SET data = {_json_replace('data', fields)}, "
                    f"old = {_json_replace('old', fields)} WHERE tbl = ? AND row_id IN ({marks})",
                    (*params, *params, table, *chunk))
                conn.execute(f"DELETE FROM conflicts WHERE tbl = ? AND row_id IN ({marks})", (table, *chunk))
                # Sync's own copies: pulled changes set aside, our pushes the server refused.
                if table_exists(conn, "set_aside"):
                    conn.execute(f"DELETE FROM set_aside WHERE tbl = ? AND row_id IN ({marks})", (table, *chunk))
                if table_exists(conn, "rejected"):
                    conn.execute(f"UPDATE rejected SET data = {_json_replace('data', fields)} "
                                 f"WHERE tbl = ? AND row_id IN ({marks})", (*params, table, *chunk))
    finally:
        conn.execute("UPDATE replica SET capture = ?", (capture,))


def purge_freed_bytes(conn: sqlite3.Connection) -> bool:
    """After an erase has committed: rebuild the search index's segments (a deleted
    FTS entry stays in older segments until they merge), rewrite the file (VACUUM:
    no stale copy of a row survives in free space; its temporary copy kept in
    memory) and fold the WAL into it and truncate it. False when another connection
    holds the WAL open, so it could not be truncated now (the next erase retries)."""
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("INSERT INTO customer_search (customer_search) VALUES ('optimize')")
    temp_store = conn.execute("PRAGMA temp_store").fetchone()[0]  # MEMORY on an encrypted database
    conn.execute("PRAGMA temp_store = MEMORY")
    try:
        conn.execute("VACUUM")
    finally:
        conn.execute(f"PRAGMA temp_store = {int(temp_store)}")
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def erased_ids(conn: sqlite3.Connection, candidates: Sequence[str] | None = None) -> set[str]:
    if candidates is None:
        return {r[0] for r in conn.execute("SELECT id FROM erasures")}
    out: set[str] = set()
    for i in range(0, len(candidates), _CHUNK):
        chunk = list(candidates[i:i + _CHUNK])
        out.update(r[0] for r in conn.execute(
            f"SELECT id FROM erasures WHERE id IN ({', '.join('?' * len(chunk))})", chunk))
    return out


def any_erasure(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM erasures LIMIT 1").fetchone() is not None


def customer_of(conn: sqlite3.Connection, table: str, ref: str, row_id: str) -> str | None:
    """The customer a record points to now, or did in its logged insert."""
    if table_exists(conn, table):
        row = conn.execute(f"SELECT {ref} FROM {table} WHERE id = ?", (row_id,)).fetchone()
        if row is not None:
            return row[0]
    row = conn.execute("SELECT json_extract(data, ?) FROM change_log WHERE tbl = ? AND row_id = ? "
                       "AND json_extract(data, ?) IS NOT NULL ORDER BY hlc LIMIT 1",
                       (f'$."{ref}"', table, row_id, f'$."{ref}"')).fetchone()
    return row[0] if row else None


def holds_person(conn: sqlite3.Connection, customer_id: str) -> bool:
    """Whether this replica holds the customer with their personal data, not scrubbed:
    before an erase's scrub, whether it takes anything off this laptop."""
    row = conn.execute("SELECT name FROM customers WHERE id = ?", (customer_id,)).fetchone()
    return row is not None and row[0] != ERASED_NAME


def erasure(conn: sqlite3.Connection, customer_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM erasures WHERE id = ?", (customer_id,)).fetchone()
    return dict(row) if row else None


def history(conn: sqlite3.Connection, table: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The change-log entries of these records, decoded, oldest first."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), _CHUNK):
        chunk = list(ids[i:i + _CHUNK])
        for r in conn.execute(f"SELECT * FROM change_log WHERE tbl = ? AND row_id IN "
                              f"({', '.join('?' * len(chunk))}) ORDER BY hlc, node", (table, *chunk)):
            entry = dict(r)
            for key in ("data", "old", "base"):
                entry[key] = json.loads(entry[key]) if entry[key] else None
            out.append(entry)
    return out


def set_role(conn: sqlite3.Connection, role: str | None) -> None:
    conn.execute("UPDATE sync_state SET role = ? WHERE role IS NOT ?", (role, role))


def role(conn: sqlite3.Connection) -> str | None:
    return conn.execute("SELECT role FROM sync_state").fetchone()[0]
