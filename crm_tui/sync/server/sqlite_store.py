"""The embedded server store: one SQLite file, WAL, one writer. The log is
append-only; `server_seq` is its INTEGER PRIMARY KEY, so a pull of the newest
changes costs the same on a 10k log as on a 1M log."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from crm_tui.domain.changes import rep_scope
from crm_tui.domain.privacy import scrub_plan
from crm_tui.i18n import t as text
from crm_tui.sync.protocol import WireChange
from crm_tui.sync.server.judge import HeldRecord, Judge, PlaceRow, Refusal, Verdicts
from crm_tui.sync.server.store import (
    ALIVE,
    AUDIT_KINDS,
    BORN,
    LOG_COLUMNS,
    MARK_NODE,
    MARK_TABLE,
    REP_COLUMNS,
    AuditEntry,
    NodeTaken,
    Page,
    PushOutcome,
    RepInfo,
    Store,
    StoredChange,
    StoreError,
    assemble_page,
    audit_query,
    change_size_sql,
    check_role,
    check_schema_version,
    erasures_accepted,
    held_record,
    json_or_null,
    live_records,
    mark_scope,
    no_rep,
    now_stamp,
    rep_exists,
    rep_from_row,
    resent_refusals,
    scrub_erased,
    snapshot_edits,
    snapshot_page,
    split_fresh,
    view_change,
    view_marks,
    winning_fields,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reps (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    territories TEXT NOT NULL DEFAULT ''   -- comma separated
);
CREATE TABLE IF NOT EXISTS nodes (
    node TEXT PRIMARY KEY,
    rep TEXT NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS log (
    server_seq INTEGER PRIMARY KEY,
    node TEXT NOT NULL,
    node_seq INTEGER NOT NULL,
    hlc INTEGER NOT NULL,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    op TEXT NOT NULL,
    data TEXT NOT NULL,
    old TEXT,
    base TEXT,
    rep TEXT NOT NULL,
    pushed_by TEXT NOT NULL,
    received_at TEXT NOT NULL,
    scope TEXT,                     -- the customer the record belongs to (visibility)
    UNIQUE (node, node_seq)
);
CREATE INDEX IF NOT EXISTS log_scope ON log (scope, server_seq);
-- Visibility: which customer each record belongs to ('' for none), each customer's
-- owner and territory (last writer wins), and which customers each rep has been served.
CREATE TABLE IF NOT EXISTS row_scope (
    tbl TEXT NOT NULL, row_id TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY (tbl, row_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS customer_scope (
    customer_id TEXT PRIMARY KEY,
    owner TEXT, owner_hlc INTEGER NOT NULL DEFAULT 0,
    territory TEXT, territory_hlc INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS customer_scope_owner ON customer_scope (owner);
CREATE INDEX IF NOT EXISTS customer_scope_territory ON customer_scope (territory);
-- The customers each laptop (node) of a rep holds in its view.
CREATE TABLE IF NOT EXISTS node_view (
    node TEXT NOT NULL, customer_id TEXT NOT NULL, PRIMARY KEY (node, customer_id)
) WITHOUT ROWID;
-- Pushed changes the server refused: never in the log, their node_seq used up.
CREATE TABLE IF NOT EXISTS refused (
    node TEXT NOT NULL, node_seq INTEGER NOT NULL, hlc INTEGER NOT NULL,
    tbl TEXT NOT NULL, row_id TEXT NOT NULL, rep TEXT NOT NULL,
    code TEXT NOT NULL, reason TEXT NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (node, node_seq)
) WITHOUT ROWID;
-- Snapshot bootstrap (see store.ALIVE): the change winning each field of each record,
-- and the laptops (nodes) being served a snapshot, up to which server sequence.
CREATE TABLE IF NOT EXISTS winners (
    tbl TEXT NOT NULL, row_id TEXT NOT NULL, field TEXT NOT NULL,
    hlc INTEGER NOT NULL, node TEXT NOT NULL, server_seq INTEGER NOT NULL,
    PRIMARY KEY (tbl, row_id, field)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS winners_seq ON winners (server_seq);
CREATE TABLE IF NOT EXISTS bootstrap (node TEXT PRIMARY KEY, until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    rep TEXT, node TEXT, address TEXT, count INTEGER, detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_rep ON audit (rep, id);
-- Customers erased (docs/privacy.md): their log entries are scrubbed, and so is any
-- change about them pushed later.
CREATE TABLE IF NOT EXISTS erased (
    customer_id TEXT PRIMARY KEY, erased_at TEXT NOT NULL
) WITHOUT ROWID;
"""

# Kept apart from SCHEMA, whose statements split on ";": a trigger body holds its own.
APPEND_ONLY = [
    f"CREATE TRIGGER IF NOT EXISTS audit_no_{op.lower()} BEFORE {op} ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END"
    for op in ("UPDATE", "DELETE")
]

# The bytes a change takes in a pull answer (store.change_size), in this store's SQL.
_CHANGE_SIZE_SQL = change_size_sql("length(CAST({} AS BLOB))")


# The server schema is versioned in `meta` (key schema_version). Version 1 is SCHEMA as
# first released, before it carried a version; each entry of MIGRATIONS takes it one
# further, in one transaction with the new version. A new table may go straight into
# SCHEMA (CREATE ... IF NOT EXISTS runs on every start); changing an existing table or
# filling a new one from old rows is a migration, here and in pg_store.MIGRATIONS.
MIGRATIONS: list[str] = [
    # 2: the server's epoch, a timeline id: a restore from a backup starts a new one.
    "INSERT OR IGNORE INTO meta VALUES ('epoch', lower(hex(randomblob(16))))",
    # 3: snapshot bootstrap: the winners of every record's fields, from the log so far.
    "INSERT OR REPLACE INTO winners (tbl, row_id, field, hlc, node, server_seq) "
    "SELECT tbl, row_id, field, hlc, node, server_seq FROM ("
    " SELECT *, row_number() OVER (PARTITION BY tbl, row_id, field ORDER BY hlc DESC, node DESC) AS rn FROM ("
    "  SELECT l.tbl, l.row_id, j.key AS field, l.hlc, l.node, l.server_seq FROM log l, json_each(l.data) j"
    "  WHERE l.node <> ''"
    f"  UNION ALL SELECT tbl, row_id, '{ALIVE}', hlc, node, server_seq FROM log WHERE op <> 'update' AND node <> ''))"
    " WHERE rn = 1",
    # 4: the insert that made each record (store.BORN), which a snapshot's edits are based on.
    "INSERT OR REPLACE INTO winners (tbl, row_id, field, hlc, node, server_seq) "
    f"SELECT tbl, row_id, '{BORN}', hlc, node, server_seq FROM ("
    " SELECT *, row_number() OVER (PARTITION BY tbl, row_id ORDER BY hlc DESC, node DESC) AS rn FROM log"
    " WHERE op = 'insert' AND node <> '') WHERE rn = 1",
    # 5, 6: a rep's target is seen by that rep (and the managers) only: its scope is
    # '@' + the rep (crm_tui.domain.changes.rep_scope), from the changes naming the rep.
    "UPDATE log SET scope = (SELECT '@' || json_extract(i.data, '$.rep') FROM log i WHERE i.tbl = 'targets' "
    " AND i.row_id = log.row_id AND coalesce(json_extract(i.data, '$.rep'), '') <> '' ORDER BY i.hlc DESC LIMIT 1) "
    "WHERE tbl = 'targets'",
    "INSERT OR REPLACE INTO row_scope (tbl, row_id, scope) "
    "SELECT 'targets', row_id, coalesce(max(scope), '') FROM log WHERE tbl = 'targets' GROUP BY row_id",
]
SCHEMA_VERSION = 1 + len(MIGRATIONS)






class SqliteStore(Store):
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA busy_timeout = 30000")
        # An erase overwrites log entries: the bytes they replace are zeroed, not freed.
        self._conn.execute("PRAGMA secure_delete = ON")
        # Which fields of which table an erase scrubs: the rule lives in the domain.
        self.privacy_plan = scrub_plan()
        with self._write() as conn:
            self._migrate(conn)
            self.server_id = self._meta(conn, "server_id")
            self.epoch = self._meta(conn, "epoch")

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Create or upgrade the schema (in the caller's write transaction); refuse a
        newer one before touching it."""
        version = 0
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 1  # a database from before versioning
        check_schema_version(version, SCHEMA_VERSION)
        for stmt in [*SCHEMA.split(";"), *APPEND_ONLY]:
            if stmt.strip():
                conn.execute(stmt)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('server_id', ?)", (uuid.uuid4().hex,))
        for sql in MIGRATIONS[max(version, 1) - 1:]:
            conn.execute(sql)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @staticmethod
    def _meta(conn: sqlite3.Connection, key: str) -> str:
        return conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def schema_version(self) -> int:
        with self._lock:
            return int(self._meta(self._conn, "schema_version"))

    def new_timeline(self) -> str:
        with self._write() as conn:
            self.epoch = uuid.uuid4().hex
            conn.execute("UPDATE meta SET value = ? WHERE key = 'epoch'", (self.epoch,))
        return self.epoch

    def _write(self) -> _Write:
        """A write transaction under the lock: `with self._write() as conn:`."""
        return _Write(self)

    # -- reps ------------------------------------------------------------------

    def add_rep(self, name: str, role: str, token_hash: str, territories: Sequence[str] = ()) -> RepInfo:
        check_role(role)
        terr = ",".join(t.strip() for t in territories if t.strip())
        with self._write() as conn:
            row = conn.execute("SELECT revoked_at FROM reps WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise rep_exists(name)
            now = now_stamp()
            conn.execute(
                "INSERT INTO reps (name, role, token_hash, created_at, territories) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, "
                "created_at = excluded.created_at, revoked_at = NULL, territories = excluded.territories",
                (name, role, token_hash, now, terr),
            )
            self._audit(conn, "rep_added" if row is None else "rep_readded", rep=name,
                        detail={"role": role, "territories": terr.split(",") if terr else []})
            return rep_from_row((name, role, now, None, terr))

    def list_reps(self) -> list[RepInfo]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {REP_COLUMNS} FROM reps ORDER BY name").fetchall()
        return [rep_from_row(r) for r in rows]

    def set_rep(self, name: str, *, role: str | None = None,
                territories: Sequence[str] | None = None) -> RepInfo:
        if role is not None:
            check_role(role)
        terr = None if territories is None else ",".join(t.strip() for t in territories if t.strip())
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE reps SET role = coalesce(?, role), territories = coalesce(?, territories) WHERE name = ?",
                (role, terr, name))
            if cur.rowcount != 1:
                raise no_rep(name)
            rep = rep_from_row(conn.execute(f"SELECT {REP_COLUMNS} FROM reps WHERE name = ?", (name,)).fetchone())
            self._audit(conn, "rep_changed", rep=name, detail={"role": rep.role, "territories": list(rep.territories)})
            return rep

    def revoke_rep(self, name: str) -> bool:
        with self._write() as conn:
            cur = conn.execute("UPDATE reps SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now_stamp(), name))
            if cur.rowcount == 1:
                self._audit(conn, "rep_revoked", rep=name)
            return cur.rowcount == 1

    def rep_for_token(self, token_hash: str) -> RepInfo | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {REP_COLUMNS} FROM reps WHERE token_hash = ?", (token_hash,)).fetchone()
        return rep_from_row(row) if row else None

    # -- the log ---------------------------------------------------------------

    def push(self, rep: RepInfo, node: str, changes: Sequence[WireChange]) -> PushOutcome:
        ordered = sorted(changes, key=lambda c: c.node_seq)
        with self._write() as conn:
            row = conn.execute("SELECT rep, last_seq FROM nodes WHERE node = ?", (node,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO nodes (node, rep) VALUES (?, ?)", (node, rep.name))
                last = 0
            elif row[0] != rep.name:
                raise NodeTaken(node, row[0], rep.name)
            else:
                last = row[1]
            held, fresh = split_fresh(node, ordered, last)
            refused_before = self._check_duplicates(node, held) if held else []
            judge = Judge(rep.actor, self._place_of, self._scope_of, self._record_of, self._records_in)
            verdicts = judge.judge_all(fresh)
            erasing = False
            if fresh:
                self._persist(rep.name, node, verdicts, {c.node_seq: c.hlc for c in fresh})
                erasing = self._erase_pushed(verdicts)
                last = fresh[-1].node_seq
                conn.execute("UPDATE nodes SET last_seq = ? WHERE node = ?", (last, node))
        if erasing:
            self.purge()
        return PushOutcome(len(verdicts.accepted), len(held) - len(refused_before), last,
                           tuple(refused_before + verdicts.refused))

    def _place_of(self, customer_id: str) -> PlaceRow | None:
        return self._conn.execute("SELECT owner, owner_hlc, territory, territory_hlc FROM customer_scope "
                                  "WHERE customer_id = ?", (customer_id,)).fetchone()

    def _scope_of(self, tbl: str, row_id: str) -> str | None:
        row = self._conn.execute("SELECT scope FROM row_scope WHERE tbl = ? AND row_id = ?", (tbl, row_id)).fetchone()
        return row[0] if row else None

    def _record_of(self, tbl: str, row_id: str) -> HeldRecord | None:
        return held_record(self._conn.execute(
            "SELECT w.field, w.hlc, w.node, w.server_seq, l.data FROM winners w JOIN log l "
            "ON l.server_seq = w.server_seq WHERE w.tbl = ? AND w.row_id = ?", (tbl, row_id)).fetchall())

    def _records_in(self, tbl: str, customer_id: str) -> dict[str, HeldRecord]:
        # the customer's records from the log's scope index; the judge keeps those still theirs
        return live_records(self._conn.execute(
            "SELECT w.row_id, w.field, w.hlc, w.node, w.server_seq, l.data, l.op FROM winners w JOIN log l "
            "ON l.server_seq = w.server_seq WHERE w.tbl = ? AND w.row_id IN "
            "(SELECT row_id FROM log WHERE scope = ? AND tbl = ?)", (tbl, customer_id, tbl)).fetchall())

    def _persist(self, rep: str, node: str, v: Verdicts, hlcs: dict[int, int]) -> None:
        """Store what the judge decided, in the push's transaction."""
        conn, now = self._conn, now_stamp()
        v.accepted = self._scrubbed(v.accepted)
        conn.executemany(
            "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep, "
            "pushed_by, received_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            # Attributed to the rep the token proves, not the name a laptop claims.
            [(node, c.node_seq, c.hlc, c.tbl, c.row_id, c.op, json_or_null(c.data), json_or_null(c.old),
              json_or_null(c.base), rep, rep, now, scope) for c, scope in v.accepted],
        )
        accepted = [c for c, _ in v.accepted]
        if accepted:
            by_seq = dict(conn.execute("SELECT node_seq, server_seq FROM log WHERE node = ? AND node_seq >= ?",
                                       (node, accepted[0].node_seq)).fetchall())
            conn.executemany(
                "INSERT INTO winners VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tbl, row_id, field) DO UPDATE "
                "SET hlc = excluded.hlc, node = excluded.node, server_seq = excluded.server_seq "
                "WHERE (excluded.hlc, excluded.node) > (winners.hlc, winners.node)",
                winning_fields(accepted, [by_seq[c.node_seq] for c in accepted]))
        conn.executemany("INSERT OR REPLACE INTO row_scope VALUES (?, ?, ?)",
                         [(t, r, scope) for (t, r), scope in v.row_scopes.items()])
        conn.executemany(
            "INSERT INTO customer_scope VALUES (?, ?, ?, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET "
            "owner = excluded.owner, owner_hlc = excluded.owner_hlc, "
            "territory = excluded.territory, territory_hlc = excluded.territory_hlc",
            [(cid, *place) for cid, place in v.places.items()])
        # The laptop that created a customer holds it already: no need to serve it back.
        conn.executemany("INSERT OR IGNORE INTO node_view VALUES (?, ?)", [(node, cid) for cid in v.created])
        conn.executemany(
            "INSERT INTO refused (node, node_seq, hlc, tbl, row_id, rep, code, reason, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(node, r.node_seq, hlcs[r.node_seq], r.tbl, r.row_id, rep, r.code, r.kept, now) for r in v.refused])
        for r in v.refused:
            self._audit(conn, "refused", rep=rep, node=node,
                        detail={"node_seq": r.node_seq, "tbl": r.tbl, "row_id": r.row_id, "code": r.code,
                                "reason": r.kept})

    # -- erase (docs/privacy.md) ----------------------------------------------------

    def _erased_among(self, customer_ids: set[str]) -> set[str]:
        ids = sorted(i for i in customer_ids if i)
        found: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            found.update(r[0] for r in self._conn.execute(
                f"SELECT customer_id FROM erased WHERE customer_id IN ({', '.join('?' * len(chunk))})", chunk))
        return found

    def _scrubbed(self, accepted: list[tuple[WireChange, str | None]]) -> list[tuple[WireChange, str | None]]:
        return scrub_erased(accepted, self._erased_among({scope for _, scope in accepted if scope}),
                            self.privacy_plan)

    def _erase_pushed(self, v: Verdicts) -> bool:
        """Carry out the erasures the judge accepted in this push (a manager's)."""
        ids = erasures_accepted(v)
        for customer_id in ids:
            self._erase(customer_id)
        return bool(ids)

    def _erase(self, customer_id: str) -> int:
        """Inside a write transaction: scrub every log entry about the customer and
        remember them as erased. The count of entries scrubbed."""
        conn = self._conn
        conn.execute("INSERT OR IGNORE INTO erased VALUES (?, ?)", (customer_id, now_stamp()))
        scrubbed = 0
        for table, values in self.privacy_plan.items():
            fields = list(values)
            if not fields:
                continue
            params = [values[f] for f in fields]
            paths = ", ".join(f"'$.\"{f}\"', ?" for f in fields)
            cur = conn.execute(
                f"UPDATE log SET data = json_replace(data, {paths}), "
                f"old = CASE WHEN old IS NULL THEN NULL ELSE json_replace(old, {paths}) END "
                "WHERE scope = ? AND tbl = ?", (*params, *params, customer_id, table))
            scrubbed += cur.rowcount
        return scrubbed

    def erase(self, customer_id: str) -> int:
        with self._write():
            count = self._erase(customer_id)
        self.purge()
        return count

    def purge(self) -> bool:
        """Fold the WAL into the file and truncate it, so scrubbed bytes leave it."""
        with self._lock:
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0

    def _check_duplicates(self, node: str, changes: Sequence[WireChange]) -> list[Refusal]:
        """Changes sent again must be the ones held (stored or refused); the refusals
        among them, to answer again."""
        lo, hi = changes[0].node_seq, changes[-1].node_seq
        held = dict(self._conn.execute(
            "SELECT node_seq, hlc FROM log WHERE node = ? AND node_seq BETWEEN ? AND ?", (node, lo, hi)))
        refused = {r[0]: r for r in self._conn.execute(
            "SELECT node_seq, hlc, tbl, row_id, code, reason FROM refused WHERE node = ? AND node_seq BETWEEN ? AND ?",
            (node, lo, hi))}
        return resent_refusals(node, changes, held, refused)
    def acked_seq(self, node: str) -> int:
        with self._lock:
            row = self._conn.execute("SELECT last_seq FROM nodes WHERE node = ?", (node,)).fetchone()
        return row[0] if row else 0

    def watermark(self) -> int:
        with self._lock:
            return self._watermark()

    def _watermark(self) -> int:
        # One writer: whatever a read transaction sees is committed, in order.
        return self._conn.execute("SELECT coalesce(max(server_seq), 0) FROM log").fetchone()[0]

    def pull(self, after: int, limit: int, exclude_node: str | None = None,
             rep: RepInfo | None = None, max_bytes: int | None = None, snapshot: bool = False) -> Page:
        scoped = rep is not None and rep.role != "manager"
        if scoped:
            assert rep is not None
            visible = ("SELECT customer_id FROM customer_scope WHERE owner = ? "
                       f"OR territory IN ({', '.join('?' * len(rep.territories))})")
            view_params: list[object] = [rep.name, *rep.territories]
            if exclude_node:
                self._note_view(rep.name, exclude_node, visible, view_params, after, max_bytes)
            # their customers' records, records of no one, their own targets, their marks
            where = "(scope IS NULL OR scope IN (" + visible + ") OR scope = ? OR (node = '' AND scope = ?))"
            params: list[object] = [*view_params, rep_scope(rep.name), mark_scope(exclude_node)]
        else:
            where, params = f"node <> '{MARK_NODE}'", []
        until = self._bootstrap(exclude_node, after, snapshot)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")  # one snapshot for the watermark and the page
            try:
                mark = self._watermark()
                if until is not None:
                    # The snapshot: the changes that still win something, up to `until`.
                    seqs = [r[0] for r in conn.execute(
                        "SELECT DISTINCT server_seq FROM winners WHERE server_seq > ? AND server_seq <= ? "
                        "ORDER BY server_seq LIMIT ?", (after, until, limit))]
                    rows = conn.execute(
                        f"SELECT {LOG_COLUMNS} FROM log WHERE server_seq IN (SELECT value FROM json_each(?)) "
                        f"AND node IS NOT ? AND {where} ORDER BY server_seq",
                        (json.dumps(seqs), exclude_node, *params)).fetchall()
                    edits, records = snapshot_edits(rows)
                    wins = conn.execute("SELECT server_seq, field FROM winners WHERE server_seq IN "
                                        "(SELECT value FROM json_each(?))", (json.dumps(edits),)).fetchall()
                    born = {}
                    for key in records:
                        made = conn.execute(f"SELECT hlc, node FROM winners WHERE tbl = ? AND row_id = ? "
                                            f"AND field = '{BORN}'", key).fetchone()
                        if made:
                            born[key] = tuple(made)
                    return snapshot_page(rows, wins, born, exclude_node, seqs, limit, until, mark, max_bytes)
                rows = conn.execute(
                    f"SELECT {LOG_COLUMNS} FROM log WHERE server_seq > ? AND server_seq <= ? AND node IS NOT ? "
                    f"AND {where} ORDER BY server_seq LIMIT ?",
                    (after, mark, exclude_node, *params, limit),
                ).fetchall()
                return assemble_page(rows, after, limit, mark, max_bytes, self._history)
            finally:
                conn.execute("COMMIT")

    def _history(self, customer_id: str, after: int, before: int) -> list[StoredChange]:
        return self._conn.execute(
            f"SELECT {LOG_COLUMNS} FROM log WHERE scope = ? AND server_seq > ? AND server_seq < ? AND node <> '' "
            "ORDER BY server_seq", (customer_id, after, before)).fetchall()
    def _bootstrap(self, node: str | None, after: int, snapshot: bool) -> int | None:
        """Where the snapshot of a laptop that asked for one from 0 ends (the watermark
        when it started), or None once it is past it, or when it did not ask: from
        there on, the log as usual."""
        if node is None:
            return None
        if after == 0:
            with self._write() as conn:
                if not snapshot:
                    conn.execute("DELETE FROM bootstrap WHERE node = ?", (node,))
                    return None
                until = self._watermark()
                conn.execute("INSERT OR REPLACE INTO bootstrap VALUES (?, ?)", (node, until))
            return until
        with self._lock:
            row = self._conn.execute("SELECT until FROM bootstrap WHERE node = ?", (node,)).fetchone()
        return row[0] if row and after < row[0] else None


    def _note_view(self, rep: str, node: str, visible: str, params: list[object], after: int,
                   max_bytes: int | None = None) -> None:
        """Compare the rep's view with what this laptop was served and put the
        difference into the log as view marks (see the contract in store.py). A laptop
        pulling from 0 gets its whole view by the ordinary pull; marks are for
        customers whose past lies behind its cursor."""
        with self._write() as conn:
            owner = conn.execute("SELECT rep FROM nodes WHERE node = ?", (node,)).fetchone()
            if owner is None:
                conn.execute("INSERT INTO nodes (node, rep) VALUES (?, ?)", (node, rep))
            elif owner[0] != rep:
                raise NodeTaken(node, owner[0], rep)
            entered, left = view_change(
                (r[0] for r in conn.execute(visible, params)),
                (r[0] for r in conn.execute("SELECT customer_id FROM node_view WHERE node = ?", (node,))))
            if not entered and not left:
                return
            conn.executemany("INSERT INTO node_view VALUES (?, ?)", [(node, c) for c in entered])
            conn.executemany("DELETE FROM node_view WHERE node = ? AND customer_id = ?", [(node, c) for c in left])
            marks = view_marks(entered, left, after, lambda: conn.execute(
                f"SELECT scope, server_seq, {_CHANGE_SIZE_SQL} FROM log WHERE scope IN "
                "(SELECT value FROM json_each(?)) AND server_seq <= ? AND node <> '' ORDER BY scope, server_seq",
                (json.dumps(entered), after)), max_bytes)
            if marks:
                base = conn.execute("SELECT coalesce(max(node_seq), 0) FROM log WHERE node = ''").fetchone()[0]
                now = now_stamp()
                conn.executemany(
                    "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, rep, pushed_by, received_at, scope) "
                    "VALUES ('', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(base + i, MARK_TABLE, c, kind, data, rep, rep, now, mark_scope(node))
                     for i, (c, kind, data) in enumerate(marks, 1)])

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM log WHERE node <> ''").fetchone()[0]

    def refused_count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM refused").fetchone()[0]

    # -- the audit -------------------------------------------------------------

    def _audit(self, conn: sqlite3.Connection, kind: str, *, rep: str | None = None, node: str | None = None,
               address: str | None = None, count: int | None = None, detail: object = None) -> None:
        if kind not in AUDIT_KINDS:
            raise StoreError(text("server.errors.unknown_audit_kind", kind=repr(kind)))
        conn.execute("INSERT INTO audit (at, kind, rep, node, address, count, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (now_stamp(), kind, rep, node, address, count, json_or_null(detail)))

    def record_audit(self, kind: str, *, rep: str | None = None, node: str | None = None,
                     address: str | None = None, count: int | None = None, detail: object = None) -> None:
        with self._write() as conn:
            self._audit(conn, kind, rep=rep, node=node, address=address, count=count, detail=detail)

    def audit(self, *, rep: str | None = None, since: str | None = None, kind: str | None = None,
              limit: int | None = None) -> list[AuditEntry]:
        sql, params = audit_query("?", rep=rep, since=since, kind=kind, limit=limit)
        with self._lock:
            return [AuditEntry(*r) for r in self._conn.execute(sql, params)]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _Write:
    """The store's lock and one IMMEDIATE transaction: committed on success, rolled
    back on any error."""

    def __init__(self, store: SqliteStore):
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        try:
            self.store._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._lock.release()
            raise
        return self.store._conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        try:
            self.store._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()
