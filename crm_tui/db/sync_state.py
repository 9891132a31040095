"""SQL of the local side of sync: changes waiting to be pushed, the server cursor,
applying a pulled batch (with capture paused and the batch's own stamps), and the
conflicts table. The merge rules themselves are pure, in `crm_tui.sync.merge`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_tui.db.bulk import insert_triggers_set_aside
from crm_tui.db.capture import LOCAL_ONLY_COLUMNS
from crm_tui.db.connection import transaction
from crm_tui.db.migrations import SYNCED_TABLES
from crm_tui.sync import clock
from crm_tui.sync.merge import Change, Conflict, Outcome, fold, merge

# table -> function(record values) -> local-only derived columns (e.g. pinyin).
Derive = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]

_CHUNK = 500  # bound on the host parameters of one IN (...) query


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _utc_now(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')").fetchone()[0]


# -- state and pending changes ---------------------------------------------------

def state(conn: sqlite3.Connection) -> dict[str, Any]:
    row = conn.execute(
        "SELECT server_id, cursor, pushed_seq, last_sync_at, last_error, clock_warning FROM sync_state"
    ).fetchone()
    return dict(row)


def local_node(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT node FROM replica").fetchone()[0]


def pending_count(conn: sqlite3.Connection) -> int:
    """Local changes the server has not acknowledged."""
    return conn.execute(
        "SELECT count(*) FROM change_log WHERE node = (SELECT node FROM replica) "
        "AND node_seq > (SELECT pushed_seq FROM sync_state)"
    ).fetchone()[0]


def pending_changes(conn: sqlite3.Connection, after_seq: int, limit: int) -> list[dict[str, Any]]:
    """This replica's own changes after node_seq `after_seq`, oldest first, decoded."""
    rows = conn.execute(
        "SELECT node, node_seq, hlc, tbl, row_id, op, data, old, base, rep FROM change_log "
        "WHERE node = (SELECT node FROM replica) AND node_seq > ? ORDER BY node_seq LIMIT ?",
        (after_seq, limit),
    ).fetchall()
    loads = json.loads
    return [
        {"node": r[0], "node_seq": r[1], "hlc": r[2], "tbl": r[3], "row_id": r[4], "op": r[5],
         "data": loads(r[6]), "old": loads(r[7]) if r[7] else None,
         "base": loads(r[8]) if r[8] else None, "rep": r[9]}
        for r in rows
    ]


def set_pushed(conn: sqlite3.Connection, acked_seq: int) -> None:
    with transaction(conn):
        conn.execute("UPDATE sync_state SET pushed_seq = ?", (acked_seq,))


def bind_server(conn: sqlite3.Connection, server_id: str) -> bool:
    """Remember which server the cursor belongs to; a different server (a new one, or
    one restored from scratch) starts from cursor 0. True when it changed."""
    with transaction(conn):
        current = conn.execute("SELECT server_id FROM sync_state").fetchone()[0]
        if current == server_id:
            return False
        conn.execute("UPDATE sync_state SET server_id = ?, cursor = 0, pushed_seq = 0", (server_id,))
        return True


def reset_cursor(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        conn.execute("UPDATE sync_state SET cursor = 0")


def adopt_rep(conn: sqlite3.Connection, rep: str) -> bool:
    """Sign this replica's changes, past and future, with `rep` (the name the server
    knows us by). True when it changed."""
    with transaction(conn):
        if conn.execute("SELECT rep FROM replica").fetchone()[0] == rep:
            return False
        conn.execute("UPDATE replica SET rep = ?", (rep,))
        conn.execute("UPDATE change_log SET rep = ? WHERE node = (SELECT node FROM replica) AND rep IS NOT ?",
                     (rep, rep))
        return True


def finish_sync(conn: sqlite3.Connection, error: str | None) -> None:
    with transaction(conn):
        if error is None:
            conn.execute("UPDATE sync_state SET last_sync_at = ?, last_error = NULL", (_utc_now(conn),))
        else:
            conn.execute("UPDATE sync_state SET last_error = ?", (error,))


# -- applying a pulled batch -------------------------------------------------------

@dataclass
class Applied:
    """What one applied batch did."""

    received: int = 0       # new changes stored in the log
    duplicates: int = 0     # changes already held (a re-sent page, our own echo)
    rows_written: int = 0
    rows_deleted: int = 0
    orphans: int = 0        # child records whose customer is deleted: left out
    conflicts: int = 0
    by_table: dict[str, int] = field(default_factory=dict)
    refused_stamp: int | None = None  # a far-future stamp not adopted by our clock


class _Tables:
    """Column lists and statements of the synced tables, read from the live schema."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.columns: dict[str, list[str]] = {}
        self.sql: dict[tuple[str, str, tuple[str, ...]], str] = {}
        self.allowed: dict[str, frozenset[str]] = {}
        self.depths: dict[str, int] = {}

    def cols(self, table: str) -> list[str]:
        if table not in self.columns:
            self.columns[table] = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
        return self.columns[table]

    def record(self, table: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values this schema stores for a record (a newer replica may send more)."""
        if table not in self.allowed:
            self.allowed[table] = frozenset(self.cols(table)) - LOCAL_ONLY_COLUMNS - {"id"}
        allowed = self.allowed[table]
        return {k: v for k, v in values.items() if k in allowed}

    def depth(self, table: str) -> int:
        """How many foreign keys deep a table is: parents are written before children."""
        if table not in self.depths:
            self.depths[table] = 0  # guards against a cycle
            parents = {r[2] for r in self.conn.execute(f"PRAGMA foreign_key_list({table})")} - {table}
            self.depths[table] = 1 + max((self.depth(p) for p in parents), default=-1)
        return self.depths[table]

    def statement(self, kind: str, table: str, cols: tuple[str, ...]) -> str:
        key = (kind, table, cols)
        if key not in self.sql:
            if kind == "insert":
                self.sql[key] = (f"INSERT INTO {table} (id, {', '.join(cols)}) "
                                 f"VALUES (?, {', '.join('?' * len(cols))})")
            else:
                self.sql[key] = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
        return self.sql[key]


def _history(conn: sqlite3.Connection, groups: Mapping[tuple[str, str], Sequence[Change]],
             ) -> dict[tuple[str, str], list[Change]]:
    """The changes already in the local log for these records, reduced to the fields
    the new changes write (every insert and delete is kept: they decide whether the
    record exists). The rest of a record is read from its table row, which holds the
    merged state; JSON is picked apart in SQL so old inserts are not decoded whole."""
    candidates: dict[str, list[str]] = {}
    for tbl, row_id in groups:
        candidates.setdefault(tbl, []).append(row_id)
    by_table: dict[str, tuple[list[str], set[str]]] = {}
    for tbl, all_ids in candidates.items():
        # Most records of a big pull are new here: find the few with a past first,
        # through the covering index, before picking JSON apart.
        for i in range(0, len(all_ids), _CHUNK):
            chunk = all_ids[i:i + _CHUNK]
            for (row_id,) in conn.execute(
                    f"SELECT DISTINCT row_id FROM change_log WHERE tbl = ? AND row_id IN ({', '.join('?' * len(chunk))})",
                    (tbl, *chunk)):
                ids, names = by_table.setdefault(tbl, ([], set()))
                ids.append(row_id)
                for c in groups[(tbl, row_id)]:
                    names.update(c.data)
    found: dict[tuple[str, str], list[Change]] = {}
    for tbl, (ids, names) in by_table.items():
        fields = sorted(names)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            sql = ("SELECT c.node, c.node_seq, c.hlc, c.row_id, c.op, c.rep, j.key, j.value, j.type, "
                   "json_extract(c.base, '$.\"' || j.key || '\"') FROM change_log c "
                   f"LEFT JOIN json_each(c.data) j ON j.key IN ({', '.join('?' * len(fields))}) "
                   f"WHERE c.tbl = ? AND c.row_id IN ({', '.join('?' * len(chunk))})")
            parts: dict[tuple[str, int], tuple[tuple, dict[str, Any], dict[str, Any]]] = {}
            for node, seq, hlc, row_id, op, rep, key, value, kind, base in conn.execute(sql, (*fields, tbl, *chunk)):
                _, data, bases = parts.setdefault((node, seq), ((node, seq, hlc, row_id, op, rep), {}, {}))
                if key is not None:
                    data[key] = _json_value(value, kind)
                    if base is not None:
                        bases[key] = json.loads(base)
            for (node, seq, hlc, row_id, op, rep), data, bases in parts.values():
                found.setdefault((tbl, row_id), []).append(
                    Change(node, seq, hlc, tbl, row_id, op, data, None, bases or None, rep))
    return found


def _json_value(value: Any, kind: str) -> Any:
    """A value from json_each back to what json.loads gives."""
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind in ("object", "array"):
        return json.loads(value)
    return value


def _full_history(conn: sqlite3.Connection, tbl: str, row_id: str) -> list[Change]:
    loads = json.loads
    return [Change(r[0], r[1], r[2], tbl, row_id, r[3], loads(r[4]), None, loads(r[5]) if r[5] else None, r[6])
            for r in conn.execute("SELECT node, node_seq, hlc, op, data, base, rep FROM change_log "
                                  "WHERE tbl = ? AND row_id = ?", (tbl, row_id))]


def _known(conn: sqlite3.Connection, batch: Sequence[Change]) -> set[tuple[str, int]]:
    """The (node, node_seq) of the batch already in the local log."""
    spans: dict[str, tuple[int, int]] = {}
    for c in batch:
        lo, hi = spans.get(c.node, (c.node_seq, c.node_seq))
        spans[c.node] = (min(lo, c.node_seq), max(hi, c.node_seq))
    known: set[tuple[str, int]] = set()
    for node, (lo, hi) in spans.items():
        known.update((r[0], r[1]) for r in conn.execute(
            "SELECT node, node_seq FROM change_log WHERE node = ? AND node_seq BETWEEN ? AND ?", (node, lo, hi)
        ))
    return known


def apply_batch(conn: sqlite3.Connection, batch: Sequence[Change], *, cursor: int,
                max_offset_ms: int = clock.DEFAULT_MAX_OFFSET_MS, server_now_ms: int = 0,
                derive: Derive | None = None,
                before_commit: Callable[[], None] | None = None) -> Applied:
    """Apply pulled changes (in server order) and move the cursor, in one transaction:
    a crash anywhere leaves either all of it or none of it. Duplicates are skipped;
    capture is paused so the changes keep their own stamps in the log."""
    report = Applied()
    tables = _Tables(conn)
    with transaction(conn):
        conn.execute("UPDATE replica SET capture = 0")
        known = _known(conn, batch)
        fresh: list[Change] = []
        for c in batch:
            if c.key in known:
                report.duplicates += 1
                continue
            known.add(c.key)
            fresh.append(c)
        groups: dict[tuple[str, str], list[Change]] = {}
        for c in fresh:
            groups.setdefault((c.tbl, c.row_id), []).append(c)
        history = _history(conn, groups)
        conn.executemany(
            "INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.node, c.node_seq, c.hlc, c.tbl, c.row_id, c.op, _dumps(c.data),
              None if c.old is None else _dumps(c.old), None if c.base is None else _dumps(c.base), c.rep)
             for c in fresh],
        )
        report.received = len(fresh)
        conflicts: list[Conflict] = []
        superseded: list[tuple[str, str, str, tuple[int, str]]] = []
        writer = _Writer(conn, tables, derive, report)
        # Capture is off, so the insert triggers would only slow the batch down
        # and index new customers row by row (see crm_tui/db/bulk.py).
        with insert_triggers_set_aside(conn, SYNCED_TABLES):
            for (tbl, row_id), changes in groups.items():
                report.by_table[tbl] = report.by_table.get(tbl, 0) + len(changes)
                past = history.get((tbl, row_id))
                if past is None and len(changes) == 1 and changes[0].op == "insert":
                    values: dict[str, Any] | None = dict(changes[0].data)  # a new record: nothing to merge
                else:
                    row_state = fold(past or ())
                    outcome = Outcome()
                    for c in changes:
                        merge(row_state, c, outcome)
                    conflicts += outcome.conflicts
                    superseded += [(tbl, row_id, name, stamp) for name, stamp in outcome.superseded]
                    values = row_state.values()
                if tbl in SYNCED_TABLES:  # a table from a newer schema stays in the log only
                    writer.write(tbl, row_id, values, past is not None)
            writer.flush()
        _record_conflicts(conn, conflicts, superseded)
        report.conflicts = len(conflicts)
        report.refused_stamp = _advance_clock(conn, fresh, max_offset_ms, server_now_ms)
        conn.execute("UPDATE sync_state SET cursor = ?", (cursor,))
        conn.execute("UPDATE replica SET capture = 1")
        if before_commit is not None:
            before_commit()  # a test seam: a crash here must leave nothing behind
    return report


class _Writer:
    """Writes merged records to their tables. New records (no history here) are
    inserted in bulk, parents before children; a record with history is written on
    its own, after the pending bulk inserts when it refers to one of them, so a
    reference to a record inserted in the same batch always finds it. (A pending
    record whose customer is deleted meanwhile fails its foreign key when inserted
    and is left out, as it would have been removed by the cascade.)"""

    BULK = 5000

    def __init__(self, conn: sqlite3.Connection, tables: _Tables, derive: Derive | None, report: Applied):
        self.conn, self.tables, self.derive, self.report = conn, tables, derive, report
        self.buckets: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        self.pending_ids: set[str] = set()

    def _record(self, tbl: str, values: Mapping[str, Any]) -> dict[str, Any]:
        record = self.tables.record(tbl, values)
        if self.derive and tbl in self.derive:
            record.update(self.derive[tbl](record))
        return record

    def write(self, tbl: str, row_id: str, values: dict[str, Any] | None, had_history: bool) -> None:
        if not had_history:
            if values is not None:
                record = self._record(tbl, values)
                self.buckets.setdefault((tbl, tuple(record)), []).append((row_id, *record.values()))
                self.pending_ids.add(row_id)
                if len(self.pending_ids) >= self.BULK:
                    self.flush()
            return
        current = self.conn.execute(f"SELECT * FROM {tbl} WHERE id = ?", (row_id,)).fetchone()
        if values is None:
            if current is not None:
                self.conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
                self.report.rows_deleted += 1
                # Nothing is left to review on a deleted record.
                mark_resolved_row(self.conn, tbl, row_id, "deleted")
            return
        if current is None:
            # Revived, or left out before (a deleted customer): the whole record comes
            # from its complete history, not just the fields merged here.
            whole = fold(_full_history(self.conn, tbl, row_id)).values()
            if whole is not None:
                record = self._record(tbl, whole)
                self._flush_for(record)
                self._one(tbl, tuple(record), (row_id, *record.values()), exists=False)
            return
        now = dict(current)
        record = self._record(tbl, {**now, **values})
        changed = tuple(k for k, v in record.items() if now.get(k) != v)
        if changed:
            self._flush_for({k: record[k] for k in changed})
            self._one(tbl, changed, (row_id, *(record[k] for k in changed)), exists=True)

    def _flush_for(self, record: Mapping[str, Any]) -> None:
        """Insert the pending new records first if this one may point to one of them."""
        if self.pending_ids and any(isinstance(v, str) and v in self.pending_ids for v in record.values()):
            self.flush()

    def flush(self) -> None:
        for key in sorted(self.buckets, key=lambda k: self.tables.depth(k[0])):
            tbl, cols = key
            rows = self.buckets[key]
            self.conn.execute("SAVEPOINT bulk")
            try:
                self.conn.executemany(self.tables.statement("insert", tbl, cols), rows)
                self.conn.execute("RELEASE bulk")
                self.report.rows_written += len(rows)
            except sqlite3.IntegrityError:
                # One of them points to a deleted customer (or exists already): one by one.
                self.conn.execute("ROLLBACK TO bulk")
                self.conn.execute("RELEASE bulk")
                for row in rows:
                    self._one(tbl, cols, row, exists=False)
        self.buckets.clear()
        self.pending_ids.clear()

    def _one(self, tbl: str, cols: tuple[str, ...], row: tuple[Any, ...], exists: bool) -> None:
        row_id, values = row[0], row[1:]
        try:
            if exists:
                self.conn.execute(self.tables.statement("update", tbl, cols), (*values, row_id))
            else:
                self.conn.execute(self.tables.statement("insert", tbl, cols), row)
            self.report.rows_written += 1
        except sqlite3.IntegrityError as exc:
            if not exists and "UNIQUE" in str(exc):
                # A row written while capture was off has no history: overwrite it.
                self.conn.execute(self.tables.statement("update", tbl, cols), (*values, row_id))
                self.report.rows_written += 1
                return
            if "FOREIGN KEY" not in str(exc):
                raise
            # The record points to a deleted (tombstoned) customer: it goes the way the
            # cascade took it on the replica that deleted the customer.
            self.report.orphans += 1
            if exists:
                self.conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))


def _record_conflicts(conn: sqlite3.Connection, conflicts: Sequence[Conflict],
                      superseded: Sequence[tuple[str, str, str, tuple[int, str]]]) -> None:
    if superseded:
        conn.executemany(
            "UPDATE conflicts SET resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), resolution = 'superseded' "
            "WHERE tbl = ? AND row_id = ? AND field = ? AND winner_hlc = ? AND winner_node = ? "
            "AND resolved_at IS NULL",
            [(t, r, f, s[0], s[1]) for t, r, f, s in superseded],
        )
    if conflicts:
        conn.executemany(
            "INSERT OR IGNORE INTO conflicts (tbl, row_id, field, winner_value, winner_hlc, winner_node, "
            "winner_rep, loser_value, loser_hlc, loser_node, loser_rep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.tbl, c.row_id, c.field, _dumps(c.winner_value), c.winner_stamp[0], c.winner_stamp[1],
              c.winner_rep, _dumps(c.loser_value), c.loser_stamp[0], c.loser_stamp[1], c.loser_rep)
             for c in conflicts],
        )


def _advance_clock(conn: sqlite3.Connection, fresh: Sequence[Change], max_offset_ms: int,
                   server_now_ms: int) -> int | None:
    """Hybrid logical clock receive: our next stamp comes after everything we hold,
    except a stamp absurdly far ahead, which is refused (and reported). "Ahead" is
    measured from the later of our clock and the server's: the server already refused
    anything further ahead of its own clock, so a laptop whose clock is slow still
    follows every stamp the server let through."""
    if not fresh:
        return None
    wall, counter = conn.execute("SELECT wall, counter FROM replica").fetchone()
    now = max(clock.now_ms(), server_now_ms)
    refused = None
    for hlc in sorted({c.hlc for c in fresh}, reverse=True):
        got = clock.receive(wall, counter, hlc, now=now, max_offset_ms=max_offset_ms)
        if got.refused is None:
            wall, counter = got.wall, got.counter
            break
        refused = refused or got.refused
    conn.execute("UPDATE replica SET wall = ?, counter = ?", (wall, counter))
    if refused is not None:
        conn.execute(
            "UPDATE sync_state SET clock_warning = ?",
            (f"a pulled change was stamped {clock.ahead_ms(refused, now) // 1000} s in the future; "
             "our clock did not follow it",),
        )
    return refused


# -- conflicts ------------------------------------------------------------------------

def _conflict(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for key in ("winner_value", "loser_value"):
        out[key] = json.loads(out[key]) if out[key] is not None else None
    return out


def list_conflicts(conn: sqlite3.Connection, *, include_resolved: bool = False,
                   limit: int | None = None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM conflicts" + ("" if include_resolved else " WHERE resolved_at IS NULL") + " ORDER BY id"
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_conflict(r) for r in conn.execute(sql, params)]


def get_conflict(conn: sqlite3.Connection, conflict_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM conflicts WHERE id = ?", (conflict_id,)).fetchone()
    return _conflict(row) if row else None


def open_conflict_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM conflicts WHERE resolved_at IS NULL").fetchone()[0]


def mark_resolved(conn: sqlite3.Connection, conflict_id: int, resolution: str) -> None:
    """Inside the caller's transaction (with the write that resolves it)."""
    conn.execute(
        "UPDATE conflicts SET resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), resolution = ? WHERE id = ?",
        (resolution, conflict_id),
    )


def mark_resolved_row(conn: sqlite3.Connection, tbl: str, row_id: str, resolution: str) -> None:
    conn.execute(
        "UPDATE conflicts SET resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), resolution = ? "
        "WHERE tbl = ? AND row_id = ? AND resolved_at IS NULL", (resolution, tbl, row_id),
    )


# -- customers leaving this rep's view -----------------------------------------------

def forget_customers(conn: sqlite3.Connection, customer_ids: Sequence[str],
                     scoped_tables: Mapping[str, str]) -> int:
    """Remove customers that left this rep's view, with their records and the history
    of both (so that if they come back, the server's history of them is applied
    afresh), inside the caller's transaction and without capturing anything: it is
    not an edit. This laptop's own changes not yet acknowledged by the server stay in
    the log and are pushed (and refused) as usual, so nothing is lost silently.
    `scoped_tables` maps each table of records to its customer field. Returns the
    number of customers removed."""
    if not customer_ids:
        return 0
    node, pushed = conn.execute("SELECT (SELECT node FROM replica), pushed_seq FROM sync_state").fetchone()
    keep_own = "NOT (node = ? AND node_seq > ?)"
    capture = conn.execute("SELECT capture FROM replica").fetchone()[0]
    conn.execute("UPDATE replica SET capture = 0")
    removed = 0
    for customer_id in customer_ids:
        rows: list[tuple[str, str]] = [("customers", customer_id)]
        for tbl, link in scoped_tables.items():
            ids = {r[0] for r in conn.execute(f"SELECT id FROM {tbl} WHERE {link} = ?", (customer_id,))}
            ids |= {r[0] for r in conn.execute(
                f"SELECT DISTINCT row_id FROM change_log WHERE tbl = ? AND json_extract(data, '$.{link}') = ?",
                (tbl, customer_id))}
            rows += [(tbl, i) for i in sorted(ids)]
        for tbl, row_id in reversed(rows):  # records before their customer
            conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
            conn.execute(f"DELETE FROM change_log WHERE tbl = ? AND row_id = ? AND {keep_own}",
                         (tbl, row_id, node, pushed))
            mark_resolved_row(conn, tbl, row_id, "left view")
        removed += 1
    conn.execute("UPDATE replica SET capture = ?", (capture,))
    return removed
