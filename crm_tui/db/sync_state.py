"""SQL of the local side of sync: changes waiting to be pushed, the server cursor,
the statements that apply a pulled batch (with capture paused and the batch's own
stamps), pulled changes set aside, our changes the server refused, and the conflicts
table. Deciding what to write is `crm_tui.api.sync_apply`; the merge rules are pure,
in `crm_tui.sync.merge`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from crm_tui.db.bulk import insert_triggers_set_aside
from crm_tui.db.capture import TICK, captured_columns, log_ops_checked
from crm_tui.db.connection import ERRORS, transaction
from crm_tui.db.migrations import SYNCED_TABLES
from crm_tui.db.records import forget_class_state
from crm_tui.domain.entities import local_only_columns
from crm_tui.domain.privacy import ERASE_REQUESTS
from crm_tui.domain.record_rules import TOTALS
from crm_tui.sync.clock import COUNTER_BITS
from crm_tui.sync.merge import Change, Conflict

# table -> function(record values) -> local-only derived columns (e.g. pinyin).
Derive = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]

_CHUNK = 500  # bound on the host parameters of one IN (...) query


# One encoder for every value logged: json.dumps with options builds a new encoder at
# each call, which took almost half the time of encoding a pulled change's data.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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
    """Local changes the server has not acknowledged (this replica's, and those of its
    node ids before a restore)."""
    return conn.execute(
        "SELECT count(*) FROM change_log WHERE node = (SELECT node FROM replica) "
        "AND node_seq > (SELECT pushed_seq FROM sync_state)"
    ).fetchone()[0] + conn.execute(
        "SELECT count(*) FROM former_nodes f JOIN change_log c ON c.node = f.node AND c.node_seq > f.pushed_seq"
    ).fetchone()[0]


def former_nodes(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """(node, pushed_seq) of the node ids this database had before a restore."""
    return [(r[0], r[1]) for r in conn.execute("SELECT node, pushed_seq FROM former_nodes ORDER BY node")]


def set_former_pushed(conn: sqlite3.Connection, node: str, acked_seq: int, *, done: bool) -> None:
    """How far the server acknowledged a former node id; once `done` (nothing of it
    left to send) it is forgotten."""
    with transaction(conn):
        if done:
            conn.execute("DELETE FROM former_nodes WHERE node = ?", (node,))
        else:
            conn.execute("UPDATE former_nodes SET pushed_seq = ? WHERE node = ?", (acked_seq, node))


def pending_changes(conn: sqlite3.Connection, after_seq: int, limit: int,
                    node: str | None = None) -> list[dict[str, Any]]:
    """The changes of `node` (default: this replica's own) after node_seq `after_seq`,
    oldest first, decoded."""
    rows = conn.execute(
        "SELECT node, node_seq, hlc, tbl, row_id, op, data, old, base, rep FROM change_log "
        "WHERE node = coalesce(?, (SELECT node FROM replica)) AND node_seq > ? ORDER BY node_seq LIMIT ?",
        (node, after_seq, limit),
    ).fetchall()
    loads = json.loads
    return [
        {"node": r[0], "node_seq": r[1], "hlc": r[2], "tbl": r[3], "row_id": r[4], "op": r[5],
         "data": loads(r[6]), "old": loads(r[7]) if r[7] else None,
         "base": loads(r[8]) if r[8] else None, "rep": r[9]}
        for r in rows
    ]


def pending_totals(conn: sqlite3.Connection, after_seq: int, limit: int,
                   node: str | None = None) -> list[frozenset[str]]:
    """Of the changes `pending_changes` would read, up to `limit`: the orders and
    quotations each is about ('orders:ID'), for cutting pushes between them
    (crm_tui.sync.batches): the record itself, or a line's order (the one it names,
    and the one it named before; a line edited without naming it, its order now)."""
    parts = []
    for kind, (lines, link) in TOTALS.items():
        parts.append(f"WHEN '{kind}' THEN json_array('{kind}:' || row_id)")
        parts.append(
            f"WHEN '{lines}' THEN json_array('{kind}:' || coalesce(json_extract(data, '$.{link}'), "
            f"json_extract(old, '$.{link}'), (SELECT {link} FROM {lines} WHERE id = change_log.row_id)), "
            f"'{kind}:' || json_extract(old, '$.{link}'))")
    rows = conn.execute(
        f"SELECT CASE tbl {' '.join(parts)} END FROM change_log "
        "WHERE node = coalesce(?, (SELECT node FROM replica)) AND node_seq > ? ORDER BY node_seq LIMIT ?",
        (node, after_seq, limit),
    ).fetchall()
    loads = json.loads
    return [frozenset(k for k in loads(r[0]) if k) if r[0] else frozenset() for r in rows]


def set_pushed(conn: sqlite3.Connection, acked_seq: int) -> None:
    with transaction(conn):
        conn.execute("UPDATE sync_state SET pushed_seq = ?", (acked_seq,))


# What bind_server found: the server of the last sync, another server (or the first),
# or the same server on a new timeline (restored from a backup).
SAME_SERVER, OTHER_SERVER, NEW_EPOCH = "same", "other", "epoch"


def bind_server(conn: sqlite3.Connection, server_id: str, epoch: str) -> str:
    """Remember which server and timeline the cursor belongs to. Another server, or
    the same one on another epoch, starts from cursor 0 with nothing pushed: the
    laptop sends every change of its own again (the server skips those it holds)."""
    with transaction(conn):
        current, known = conn.execute("SELECT server_id, epoch FROM sync_state").fetchone()
        if current == server_id and known in (epoch, None):
            if known is None:  # synced before epochs existed: this is its timeline
                conn.execute("UPDATE sync_state SET epoch = ?", (epoch,))
            return SAME_SERVER
        conn.execute("UPDATE sync_state SET server_id = ?, epoch = ?, cursor = 0, pushed_seq = 0",
                     (server_id, epoch))
        return NEW_EPOCH if current == server_id else OTHER_SERVER


def holds_others_changes(conn: sqlite3.Connection) -> bool:
    """Whether this replica holds any change made elsewhere (then a pull from 0 must
    read the history, not a snapshot: see crm_tui.sync.protocol.PullRequest)."""
    return conn.execute("SELECT 1 FROM change_log WHERE node <> (SELECT node FROM replica) LIMIT 1"
                        ).fetchone() is not None


def adopt_rep(conn: sqlite3.Connection, rep: str) -> bool:
    """Sign this replica's changes, past and future, with `rep` (the name the server
    knows us by). True when it changed.

    What this replica made under its former name and never sent is re-owned too:
    before the first `crm login` a laptop knows its rep only by the machine's login
    name, and the server takes a new record only as its author's. Only records whose
    insert is still unsent and that the former name owns move, with those unsent
    changes; what the server holds, and records made for another owner, stay."""
    with transaction(conn):
        former = conn.execute("SELECT rep FROM replica").fetchone()[0]
        if former == rep:
            return False
        conn.execute("UPDATE replica SET rep = ?", (rep,))
        conn.execute("UPDATE change_log SET rep = ? WHERE node = (SELECT node FROM replica) AND rep IS NOT ?",
                     (rep, rep))
        if former:
            _reown_unsent(conn, former, rep)
        return True


def _reown_unsent(conn: sqlite3.Connection, former: str, rep: str) -> None:
    unsent = "node = (SELECT node FROM replica) AND node_seq > (SELECT pushed_seq FROM sync_state)"
    made = conn.execute(f"SELECT tbl, row_id FROM change_log WHERE {unsent} AND op = 'insert' "
                        "AND json_extract(data, '$.owner') = ?", (former,)).fetchall()
    if not made:
        return
    set_capture(conn, False)  # the unsent changes are rewritten below: nothing new to send
    requests = [row_id for tbl, row_id in made if tbl == ERASE_REQUESTS]
    try:
        for tbl, row_id in made:
            if tbl in SYNCED_TABLES:
                conn.execute(f"UPDATE {tbl} SET owner = ? WHERE id = ? AND owner = ?", (rep, row_id, former))
        # An erase request names who filed it, the rep the server takes it from.
        conn.executemany("UPDATE erase_requests SET requested_by = ? WHERE id = ? AND requested_by = ?",
                         [(rep, row_id, former) for row_id in requests])
    finally:
        set_capture(conn, True)
    conn.executemany(f"UPDATE change_log SET data = json_set(data, '$.owner', ?) WHERE {unsent} "
                     "AND tbl = ? AND row_id = ? AND json_extract(data, '$.owner') = ?",
                     [(rep, tbl, row_id, former) for tbl, row_id in made])
    conn.executemany(f"UPDATE change_log SET data = json_set(data, '$.requested_by', ?) WHERE {unsent} "
                     "AND tbl = ? AND row_id = ? AND json_extract(data, '$.requested_by') = ?",
                     [(rep, ERASE_REQUESTS, row_id, former) for row_id in requests])
    forget_class_state(conn)  # owners changed where the change log does not show it


def finish_sync(conn: sqlite3.Connection, error: str | None) -> None:
    with transaction(conn):
        if error is None:
            conn.execute("UPDATE sync_state SET last_sync_at = ?, last_error = NULL", (_utc_now(conn),))
        else:
            conn.execute("UPDATE sync_state SET last_error = ?", (error,))


# -- applying a pulled batch: the SQL ---------------------------------------------------
# The orchestration (which changes are new, folding history, merging, deciding the
# values, setting aside what cannot be applied) is in crm_tui/api/sync_apply.py.

class MissingParent(sqlite3.IntegrityError):
    """A record names a parent (its customer) that this replica has never received:
    not a deleted customer (its records are left out, as the cascade did) but one
    that never existed here."""

    def __init__(self, tbl: str, column: str, parent: str, value: Any):
        super().__init__(f"{tbl}.{column}: {parent} {value!r} does not exist here")
        self.tbl, self.column, self.parent, self.value = tbl, column, parent, value


class Tables:
    """Column lists, foreign keys and statements of the synced tables, read from the
    live schema."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.columns: dict[str, list[str]] = {}
        self.sql: dict[tuple[str, str, tuple[str, ...]], str] = {}
        self.allowed: dict[str, frozenset[str]] = {}
        self.depths: dict[str, int] = {}
        self.fks: dict[str, list[tuple[str, str]]] = {}

    def cols(self, table: str) -> list[str]:
        if table not in self.columns:
            self.columns[table] = [r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")]
        return self.columns[table]

    def synced_columns(self, table: str) -> frozenset[str] | None:
        """The columns a pulled change may write in `table`; None for a table this
        schema does not sync."""
        if table not in SYNCED_TABLES:
            return None
        if table not in self.allowed:
            self.allowed[table] = frozenset(self.cols(table)) - local_only_columns(table) - {"id"}
        return self.allowed[table]

    def synced(self) -> dict[str, frozenset[str]]:
        """The columns a pulled change may write, of every table this schema syncs:
        what check_storable needs, read once, so that it can run where the database
        is not (crm_tui.api.pull_worker)."""
        return {table: columns for table in SYNCED_TABLES if (columns := self.synced_columns(table)) is not None}

    def record(self, table: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values this schema stores for a record."""
        allowed = self.synced_columns(table) or frozenset()
        if allowed.issuperset(values):  # a pulled record: its fields were checked against these
            return dict(values)
        return {k: v for k, v in values.items() if k in allowed}

    def depth(self, table: str) -> int:
        """How many foreign keys deep a table is: parents are written before children."""
        if table not in self.depths:
            self.depths[table] = 0  # guards against a cycle
            parents = {p for _, p in self.foreign_keys(table)} - {table}
            self.depths[table] = 1 + max((self.depth(p) for p in parents), default=-1)
        return self.depths[table]

    def foreign_keys(self, table: str) -> list[tuple[str, str]]:
        """(column, parent table) of each foreign key of `table`."""
        if table not in self.fks:
            self.fks[table] = [(r[3], r[2]) for r in self.conn.execute(f"PRAGMA foreign_key_list({table})")]
        return self.fks[table]

    def statement(self, kind: str, table: str, cols: tuple[str, ...]) -> str:
        key = (kind, table, cols)
        if key not in self.sql:
            if kind == "insert":
                self.sql[key] = (f"INSERT INTO {table} (id, {', '.join(cols)}) "
                                 f"VALUES (?, {', '.join('?' * len(cols))})")
            else:
                self.sql[key] = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in cols)} WHERE id = ?"
        return self.sql[key]


def history(conn: sqlite3.Connection, groups: Mapping[tuple[str, str], Sequence[Change]],
            ) -> dict[tuple[str, str], list[Change]]:
    """The changes already in the local log for these records, reduced to the fields
    the new changes write (every insert and delete is kept: they decide whether the
    record exists). The rest of a record is read from its table row, which holds the
    merged state; JSON is picked apart in SQL so old inserts are not decoded whole.
    The new changes' field names must be known columns (they go into a JSON path)."""
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


def never_received(conn: sqlite3.Connection, tables: Tables, inserts: Sequence[Change],
                   named: Collection[tuple[str, str]]) -> dict[tuple[str, int], MissingParent]:
    """The inserts of new records (no row, no history, no other change in the batch)
    that name a parent with no row, no history here and no change in the batch
    (`named`: the (table, id) of every record the batch changes), by (node,
    node_seq), with the MissingParent their write would raise: whatever else the
    batch holds, so known before anything is written. A look-up per distinct parent
    named from outside the batch; the few found missing are then checked one by one."""
    wanted: dict[str, set[str]] = {}
    for c in inserts:
        for column, parent in tables.foreign_keys(c.tbl):
            value = c.data.get(column)
            if type(value) is str and (parent, value) not in named:
                wanted.setdefault(parent, set()).add(value)
    absent: set[tuple[str, str]] = set()
    for parent, values in wanted.items():
        ids = list(values)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            absent.update((parent, v) for v in set(chunk) - {r[0] for r in conn.execute(
                f"SELECT id FROM {parent} WHERE id IN ({', '.join('?' * len(chunk))})", chunk)})
    absent = {key for key in absent if not _has_history(conn, *key)}
    found: dict[tuple[str, int], MissingParent] = {}
    for c in inserts if absent else ():
        for column, parent in tables.foreign_keys(c.tbl):  # in the order the writer checks them
            value = c.data.get(column)
            if (parent, value) in absent:
                if not _has_history(conn, c.tbl, c.row_id) and not conn.execute(
                        f"SELECT 1 FROM {c.tbl} WHERE id = ?", (c.row_id,)).fetchone():
                    found[c.key] = MissingParent(c.tbl, column, parent, value)
                break
    return found


def _has_history(conn: sqlite3.Connection, tbl: str, row_id: str) -> bool:
    return conn.execute("SELECT 1 FROM change_log WHERE tbl = ? AND row_id = ? LIMIT 1",
                        (tbl, row_id)).fetchone() is not None


def full_history(conn: sqlite3.Connection, tbl: str, row_id: str, *, node: str | None = None,
                 excluding: Sequence[int] = ()) -> list[Change]:
    """Every change of one record in the local log; without the changes of `node`
    numbered in `excluding` (refused by the server)."""
    loads = json.loads
    skip = set(excluding)
    return [Change(r[0], r[1], r[2], tbl, row_id, r[3], loads(r[4]), None, loads(r[5]) if r[5] else None, r[6])
            for r in conn.execute("SELECT node, node_seq, hlc, op, data, base, rep FROM change_log "
                                  "WHERE tbl = ? AND row_id = ?", (tbl, row_id))
            if not (r[0] == node and r[1] in skip)]


def known(conn: sqlite3.Connection, batch: Sequence[Change]) -> set[tuple[str, int]]:
    """The (node, node_seq) of the batch already held: in the local log, or set aside."""
    seqs: dict[str, list[int]] = {}
    for c in batch:  # a pull's page: one or a few nodes, thousands of changes
        of_node = seqs.get(c.node)
        if of_node is None:
            of_node = seqs[c.node] = []
        of_node.append(c.node_seq)
    found: set[tuple[str, int]] = set()
    for node, numbers in seqs.items():
        lo, hi = min(numbers), max(numbers)
        for table in ("change_log", "set_aside"):
            found.update((r[0], r[1]) for r in conn.execute(
                f"SELECT node, node_seq FROM {table} WHERE node = ? AND node_seq BETWEEN ? AND ?", (node, lo, hi)
            ))
    return found


# A change's data, old and base as the log stores them (JSON text).
LogTexts = tuple[str, str | None, str | None]


def log_texts(c: Change) -> LogTexts:
    """The JSON texts of a pulled change's log row: the one encoding of the log, also
    used where a page is made ready outside the database (crm_tui.api.pull_worker)."""
    return _dumps(c.data), None if c.old is None else _dumps(c.old), None if c.base is None else _dumps(c.base)


def log_changes(conn: sqlite3.Connection, changes: Sequence[Change],
                texts: Mapping[tuple[str, int], LogTexts] | None = None) -> None:
    """Store pulled changes in the local log with their own stamps; `texts` holds the
    log texts (log_texts) of those already encoded, by (node, node_seq)."""
    texts = texts or {}
    rows = []
    for c in changes:
        data, old, base = texts.get((c.node, c.node_seq)) or log_texts(c)
        rows.append((c.node, c.node_seq, c.hlc, c.tbl, c.row_id, c.op, data, old, base, c.rep))
    with log_ops_checked(conn, [r[5] for r in rows]):
        conn.executemany(
            "INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def page_cache(conn: sqlite3.Connection, size: int) -> int:
    """Set SQLite's page cache of this connection (PRAGMA cache_size: negative in KiB,
    positive in pages); returns the size it had."""
    before = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    conn.execute(f"PRAGMA cache_size = {int(size)}")
    return before


def set_capture(conn: sqlite3.Connection, on: bool) -> None:
    """Capture pauses while pulled changes are written with their own stamps."""
    conn.execute("UPDATE replica SET capture = ?", (1 if on else 0,))


def set_cursor(conn: sqlite3.Connection, cursor: int) -> None:
    conn.execute("UPDATE sync_state SET cursor = ?", (cursor,))


def clock_state(conn: sqlite3.Connection) -> tuple[int, int]:
    """The replica's hybrid logical clock: (wall ms, counter)."""
    wall, counter = conn.execute("SELECT wall, counter FROM replica").fetchone()
    return wall, counter


def set_clock(conn: sqlite3.Connection, wall: int, counter: int) -> None:
    conn.execute("UPDATE replica SET wall = ?, counter = ?", (wall, counter))


def set_clock_warning(conn: sqlite3.Connection, warning: str) -> None:
    conn.execute("UPDATE sync_state SET clock_warning = ?", (warning,))


def triggers_set_aside(conn: sqlite3.Connection) -> Any:
    """Capture is off while a batch is applied, so the insert triggers would only slow
    it down and index new customers row by row (see crm_tui/db/bulk.py)."""
    return insert_triggers_set_aside(conn, SYNCED_TABLES)


class Writer:
    """Writes merged records to their tables. New records (no history here) are
    inserted in bulk, parents before children; a record with history is written on
    its own, after the pending bulk inserts when it refers to one of them, so a
    reference to a record inserted in the same batch always finds it. (A pending
    record whose customer is deleted meanwhile fails its foreign key when inserted
    and is left out, as it would have been removed by the cascade.) A record whose
    parent this replica never received raises MissingParent.

    The edits of records this replica holds (most merged changes of a first sync: a
    record inserted by an earlier page, edited in this one) are written in bulk too,
    with the result of writing them one by one: their rows are read ahead, a query
    per table and chunk of ids (read_ahead), and their updates wait, grouped by the
    columns they set, until any other write of the batch (a delete, a revived
    record, the bulk inserts), which runs after them as it did. A delete forgets the
    rows read ahead (its cascade may have removed some). A group of updates that
    fails is written again one by one, where what the failure means is decided
    (_write_one), as before."""

    BULK = 5000

    def __init__(self, conn: sqlite3.Connection, tables: Tables, derive: Derive | None):
        self.conn, self.tables, self.derive = conn, tables, derive
        self.buckets: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        self.pending_ids: set[str] = set()
        # Edits waiting to be written: (table, columns set) -> (*values, id) rows.
        self.updates: dict[tuple[str, tuple[str, ...]], list[tuple[Any, ...]]] = {}
        # Rows read ahead for write_merged: (table, id) -> the row, or None: not there.
        self.current: dict[tuple[str, str], Any] = {}
        self.rows_written = self.rows_deleted = self.orphans = 0
        self.deleted: list[tuple[str, str]] = []  # (table, id) of the records deleted
        # (table, id) of the record being written on its own, while it is: when a
        # write fails, the record it failed on (None: a bulk statement failed).
        self.failing: tuple[str, str] | None = None

    def _record(self, tbl: str, values: Mapping[str, Any]) -> dict[str, Any]:
        record = self.tables.record(tbl, values)
        if self.derive and tbl in self.derive:
            record.update(self.derive[tbl](record))
        return record

    def write_new(self, tbl: str, row_id: str, values: Mapping[str, Any] | None) -> None:
        """A record with no history here (queued for a bulk insert)."""
        if values is not None:
            record = self._record(tbl, values)
            self.buckets.setdefault((tbl, tuple(record)), []).append((row_id, *record.values()))
            self.pending_ids.add(row_id)
            if len(self.pending_ids) >= self.BULK:
                self.flush()

    def write_merged(self, tbl: str, row_id: str, values: Mapping[str, Any] | None,
                     whole: Callable[[], Mapping[str, Any] | None]) -> None:
        """A record with history: `values` are the merged fields the new changes wrote
        (None: it does not exist); `whole` gives the whole record from its complete
        history, for a record missing from its table (revived, or left out before)."""
        key = (tbl, row_id)
        if key in self.current:
            current = self.current.pop(key)
        else:
            current = self.conn.execute(f"SELECT * FROM {tbl} WHERE id = ?", (row_id,)).fetchone()
        if values is None:
            if current is not None:
                self._delete(tbl, row_id)
                self.rows_deleted += 1
                self.deleted.append((tbl, row_id))
            return
        if current is None:
            full = whole()
            if full is not None:
                record = self._record(tbl, full)
                self._flush_for(record)
                self._flush_updates()
                self._one(tbl, tuple(record), (row_id, *record.values()), exists=False)
            return
        now = dict(current)
        record = self._record(tbl, {**now, **values})
        changed = tuple(k for k, v in record.items() if now.get(k) != v)
        if changed:
            self._flush_for({k: record[k] for k in changed})
            self.updates.setdefault((tbl, changed), []).append((*(record[k] for k in changed), row_id))

    def read_ahead(self, records: Iterable[tuple[str, str]]) -> None:
        """Read the rows of records about to be written by write_merged: a query per
        table and chunk of ids instead of one each."""
        ids: dict[str, list[str]] = {}
        for tbl, row_id in records:
            ids.setdefault(tbl, []).append(row_id)
        for tbl, of_table in ids.items():
            for i in range(0, len(of_table), _CHUNK):
                chunk = of_table[i:i + _CHUNK]
                found = {row["id"]: row for row in self.conn.execute(
                    f"SELECT * FROM {tbl} WHERE id IN ({', '.join('?' * len(chunk))})", chunk)}
                self.current.update(((tbl, row_id), found.get(row_id)) for row_id in chunk)

    def _delete(self, tbl: str, row_id: str) -> None:
        self._flush_updates()
        self.conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
        self.current.clear()  # its cascade may have removed rows read ahead

    def _flush_updates(self) -> None:
        """Write the edits waiting: an executemany per table and set of columns."""
        updates, self.updates = self.updates, {}  # not again from a delete while one group fails
        for (tbl, cols), rows in updates.items():
            try:
                self.conn.executemany(self.tables.statement("update", tbl, cols), rows)
            except ERRORS.data:
                # One by one, as before: the rows written already are written again,
                # with the same values; _write_one decides what a failure means.
                for *values, row_id in rows:
                    self._one(tbl, cols, (row_id, *values), exists=True)
                continue
            self.rows_written += len(rows)

    def _flush_for(self, record: Mapping[str, Any]) -> None:
        """Insert the pending new records first if this one may point to one of them."""
        if self.pending_ids and any(isinstance(v, str) and v in self.pending_ids for v in record.values()):
            self.flush()

    def flush(self) -> None:
        self._flush_updates()  # written before these inserts, as one by one
        for key in sorted(self.buckets, key=lambda k: self.tables.depth(k[0])):
            tbl, cols = key
            rows = self.buckets[key]
            statement = self.tables.statement("insert", tbl, cols)
            start = 0
            while start < len(rows):
                self.failing = None
                before = self.conn.total_changes
                try:
                    self.conn.executemany(statement, rows[start:] if start else rows)
                except ERRORS.integrity:
                    # A row points to a deleted customer, or exists already: the rows
                    # before it are in (only the failing statement is undone), it goes
                    # its own way, and the bulk insert goes on after it.
                    at = start + self.conn.total_changes - before
                    self.rows_written += at - start
                    self._one(tbl, cols, rows[at], exists=False)
                    start = at + 1
                    continue
                self.rows_written += len(rows) - start
                break
        self.buckets.clear()
        self.pending_ids.clear()

    def _one(self, tbl: str, cols: tuple[str, ...], row: tuple[Any, ...], exists: bool) -> None:
        row_id, values = row[0], row[1:]
        self.failing = (tbl, row_id)
        self._write_one(tbl, cols, row_id, values, row, exists)
        self.failing = None

    def _write_one(self, tbl: str, cols: tuple[str, ...], row_id: str, values: tuple[Any, ...],
                   row: tuple[Any, ...], exists: bool) -> None:
        try:
            if exists:
                self.conn.execute(self.tables.statement("update", tbl, cols), (*values, row_id))
            else:
                self.conn.execute(self.tables.statement("insert", tbl, cols), row)
            self.rows_written += 1
        except ERRORS.integrity as exc:
            if not exists and "UNIQUE" in str(exc):
                # A row written while capture was off has no history: overwrite it.
                self.conn.execute(self.tables.statement("update", tbl, cols), (*values, row_id))
                self.rows_written += 1
                return
            if "FOREIGN KEY" not in str(exc):
                raise
            self._never_received(tbl, dict(zip(cols, values, strict=True)))
            # The record points to a deleted (tombstoned) customer: it goes the way the
            # cascade took it on the replica that deleted the customer.
            self.orphans += 1
            if exists:
                self._delete(tbl, row_id)

    def _never_received(self, tbl: str, record: Mapping[str, Any]) -> None:
        """Raise MissingParent when a parent the record names has no row and no
        history here."""
        for column, parent in self.tables.foreign_keys(tbl):
            value = record.get(column)
            if value is None or self.conn.execute(f"SELECT 1 FROM {parent} WHERE id = ?", (value,)).fetchone():
                continue
            if not self.conn.execute("SELECT 1 FROM change_log WHERE tbl = ? AND row_id = ? LIMIT 1",
                                     (parent, value)).fetchone():
                raise MissingParent(tbl, column, parent, value)


def record_conflicts(conn: sqlite3.Connection, conflicts: Sequence[Conflict],
                     superseded: Sequence[tuple[str, str, str, tuple[int, str]]]) -> None:
    """Keep the conflicts found, then settle those whose winner a later edit that saw
    it overwrote. In that order: a conflict and the edit that settled it can arrive in
    one batch (a customer coming into view with its history), and a settlement applied
    first would find nothing to settle and leave the conflict open."""
    if conflicts:
        conn.executemany(
            "INSERT OR IGNORE INTO conflicts (tbl, row_id, field, winner_value, winner_hlc, winner_node, "
            "winner_rep, loser_value, loser_hlc, loser_node, loser_rep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(c.tbl, c.row_id, c.field, _dumps(c.winner_value), c.winner_stamp[0], c.winner_stamp[1],
              c.winner_rep, _dumps(c.loser_value), c.loser_stamp[0], c.loser_stamp[1], c.loser_rep)
             for c in conflicts],
        )
    if superseded:
        conn.executemany(
            "UPDATE conflicts SET resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), resolution = 'superseded' "
            "WHERE tbl = ? AND row_id = ? AND field = ? AND winner_hlc = ? AND winner_node = ? "
            "AND resolved_at IS NULL",
            [(t, r, f, s[0], s[1]) for t, r, f, s in superseded],
        )


# -- set-aside pulled changes -------------------------------------------------------

@dataclass(frozen=True)
class SetAside:
    """A pulled change this replica cannot apply, with why."""

    node: str | None
    node_seq: int | None
    server_seq: int | None
    tbl: str
    row_id: str
    op: str
    change: str  # the change as received, JSON
    code: str
    reason: str


def set_aside(conn: sqlite3.Connection, items: Sequence[SetAside], schema_version: int) -> int:
    """Keep changes that cannot be applied; a change already set aside stays as it
    was. Returns how many are new."""
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO set_aside (node, node_seq, server_seq, tbl, row_id, op, change, code, reason, "
        "schema_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(i.node, i.node_seq, i.server_seq, i.tbl, i.row_id, i.op, i.change, i.code, i.reason, schema_version)
         for i in items],
    )
    return conn.total_changes - before


def set_aside_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM set_aside").fetchone()[0]


def list_set_aside(conn: sqlite3.Connection, limit: int | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT id, node, node_seq, server_seq, tbl, row_id, op, code, reason, set_aside_at, change "
           "FROM set_aside ORDER BY id")
    params: tuple[Any, ...] = ()
    if limit is not None:
        sql += " LIMIT ?"
        params = (limit,)
    return [dict(r) for r in conn.execute(sql, params)]


def set_aside_to_retry(conn: sqlite3.Connection, schema_version: int, codes: Sequence[str]) -> list[tuple[int, str]]:
    """(id, change JSON) of set-aside changes worth another try: those set aside under
    an older schema than this one, and those whose reason may have gone (`codes`)."""
    return [(r[0], r[1]) for r in conn.execute(
        f"SELECT id, change FROM set_aside WHERE schema_version < ? OR code IN ({', '.join('?' * len(codes))}) "
        "ORDER BY id", (schema_version, *codes))]


def drop_set_aside(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    conn.executemany("DELETE FROM set_aside WHERE id = ?", [(i,) for i in ids])


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


def _storable(record_id: int) -> bool:
    """Whether SQLite can hold the id at all: a bigger one names no row (binding it
    raised OverflowError, a traceback for `crm conflicts resolve 99999999999999999999`)."""
    return -(2**63) <= record_id < 2**63


def get_conflict(conn: sqlite3.Connection, conflict_id: int) -> dict[str, Any] | None:
    if not _storable(conflict_id):
        return None
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
    forget_class_state(conn)  # records go with their history: the change log will not show it
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


# -- our changes the server refused ---------------------------------------------------

def record_refusals(conn: sqlite3.Connection, refusals: Sequence[tuple[int, str, str, str, str]]) -> int:
    """Keep each refused change of ours, (node_seq, tbl, row_id, code, reason), beside
    what it wrote (from our log). A refusal of a change that a later retry of the same
    record already re-issued is kept as superseded. A refusal already kept (the same
    batch answered twice) stays as it was. Returns how many are new and open."""
    node = local_node(conn)
    new_open = 0
    for node_seq, tbl, row_id, code, reason in refusals:
        row = conn.execute("SELECT tbl, row_id, op, data FROM change_log WHERE node = ? AND node_seq = ?",
                           (node, node_seq)).fetchone()
        tbl, row_id, op, data = (row[0], row[1], row[2], row[3]) if row else (tbl, row_id, "", None)
        covered = conn.execute("SELECT 1 FROM rejected WHERE tbl = ? AND row_id = ? AND retry_seq > ? LIMIT 1",
                               (tbl, row_id, node_seq)).fetchone() is not None
        cur = conn.execute(
            "INSERT OR IGNORE INTO rejected (node_seq, tbl, row_id, op, data, code, reason, resolved_at, resolution) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, CASE WHEN ? THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END, "
            "CASE WHEN ? THEN 'superseded' END)",
            (node_seq, tbl, row_id, op, data, code, reason, covered, covered))
        new_open += cur.rowcount > 0 and not covered
    return new_open


def _rejected(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["data"] = json.loads(out["data"]) if out["data"] else None
    return out


def list_rejected(conn: sqlite3.Connection, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    sql = "SELECT * FROM rejected" + ("" if include_resolved else " WHERE resolved_at IS NULL") + " ORDER BY id"
    return [_rejected(r) for r in conn.execute(sql)]


def get_rejected(conn: sqlite3.Connection, rejected_id: int) -> dict[str, Any] | None:
    if not _storable(rejected_id):
        return None
    row = conn.execute("SELECT * FROM rejected WHERE id = ?", (rejected_id,)).fetchone()
    return _rejected(row) if row else None


def open_rejected_of(conn: sqlite3.Connection, tbl: str, row_id: str) -> list[dict[str, Any]]:
    return [_rejected(r) for r in conn.execute(
        "SELECT * FROM rejected WHERE tbl = ? AND row_id = ? AND resolved_at IS NULL ORDER BY node_seq",
        (tbl, row_id))]


def rejected_count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM rejected WHERE resolved_at IS NULL").fetchone()[0]


def refused_seqs(conn: sqlite3.Connection, tbl: str, row_id: str) -> list[int]:
    """Our changes of one record the server refused and that were not discarded."""
    return [r[0] for r in conn.execute(
        "SELECT node_seq FROM rejected WHERE tbl = ? AND row_id = ? AND resolution IS NOT 'discarded'",
        (tbl, row_id))]


def mark_rejected(conn: sqlite3.Connection, ids: Sequence[int], resolution: str,
                  retry_seq: int | None = None) -> None:
    conn.executemany(
        "UPDATE rejected SET resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), resolution = ?, retry_seq = ? "
        "WHERE id = ?", [(resolution, retry_seq, i) for i in ids])


def current_row(conn: sqlite3.Connection, tbl: str, row_id: str) -> dict[str, Any] | None:
    """A record's synced columns as its table holds them now."""
    row = conn.execute(f"SELECT * FROM {tbl} WHERE id = ?", (row_id,)).fetchone()
    if row is None:
        return None
    return {k: row[k] for k in captured_columns(conn, tbl)}


def log_own_change(conn: sqlite3.Connection, tbl: str, row_id: str, op: str, data: Mapping[str, Any],
                   base: Mapping[str, Any] | None) -> int:
    """Write one change of ours to the log with a fresh stamp, as the capture
    triggers do (a re-issue of a record's state, which no write of the table would
    capture since nothing in it changes). Returns its node_seq."""
    conn.execute(TICK)
    conn.execute(
        "INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep) "
        f"SELECT node, seq, wall * {1 << COUNTER_BITS} + counter, ?, ?, ?, ?, NULL, ?, rep FROM replica",
        (tbl, row_id, op, _dumps(data), None if base is None else _dumps(base)))
    return conn.execute("SELECT seq FROM replica").fetchone()[0]


def drop_own_change(conn: sqlite3.Connection, node_seq: int) -> None:
    """Remove a change of ours that the server refused from the local log, and close
    the conflicts its value took part in."""
    node = local_node(conn)
    row = conn.execute("SELECT tbl, row_id, hlc FROM change_log WHERE node = ? AND node_seq = ?",
                       (node, node_seq)).fetchone()
    if row is None:
        return
    conn.execute(
        "UPDATE conflicts SET resolved_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), resolution = 'discarded' "
        "WHERE tbl = ? AND row_id = ? AND resolved_at IS NULL AND ((loser_node = ? AND loser_hlc = ?) "
        "OR (winner_node = ? AND winner_hlc = ?))", (row[0], row[1], node, row[2], node, row[2]))
    conn.execute("DELETE FROM change_log WHERE node = ? AND node_seq = ?", (node, node_seq))


def write_uncaptured(conn: sqlite3.Connection, tbl: str, row_id: str, record: Mapping[str, Any] | None) -> bool:
    """Put a record back to `record` (None: remove it) without capture, inside the
    caller's transaction. False when it cannot be written because its customer is
    gone here: then it is removed, as the cascade would have."""
    forget_class_state(conn)  # the change log will not show this write
    set_capture(conn, False)
    try:
        if record is None:
            conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
            return True
        cols = list(record)
        try:
            conn.execute(
                f"INSERT INTO {tbl} (id, {', '.join(cols)}) VALUES (?{', ?' * len(cols)}) "
                f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols)}",
                (row_id, *record.values()))
        except ERRORS.integrity:
            conn.execute(f"DELETE FROM {tbl} WHERE id = ?", (row_id,))
            return False
        return True
    finally:
        set_capture(conn, True)
