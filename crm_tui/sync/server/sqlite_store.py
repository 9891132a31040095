"""The embedded server store: one SQLite file, WAL, one writer. The log is
append-only; `server_seq` is its INTEGER PRIMARY KEY, so a pull of the newest
changes costs the same on a 10k log as on a 1M log."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

from crm_tui.sync.protocol import WireChange
from crm_tui.sync.server.store import (
    ROLES,
    SCOPE_FIELD,
    SCOPE_TABLE,
    ChangeMismatch,
    NodeTaken,
    Page,
    PushOutcome,
    RepInfo,
    SequenceGap,
    Store,
    StoreError,
    check_schema_version,
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
-- Visibility: which customer each record belongs to, each customer's owner and
-- territory (last writer wins), and which customers each rep has been served.
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
CREATE TABLE IF NOT EXISTS served (
    rep TEXT NOT NULL, customer_id TEXT NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,  -- came into view behind the rep's cursor: pull from 0
    PRIMARY KEY (rep, customer_id)
) WITHOUT ROWID;
"""

# The server schema is versioned in `meta` (key schema_version). Version 1 is SCHEMA as
# first released, before it carried a version; each entry of MIGRATIONS takes it one
# further, in one transaction with the new version. A new table may go straight into
# SCHEMA (CREATE ... IF NOT EXISTS runs on every start); changing an existing table
# needs a migration here and in pg_store.MIGRATIONS.
MIGRATIONS: list[str] = [
    # 2: the server's epoch, a timeline id: a restore from a backup starts a new one.
    "INSERT OR IGNORE INTO meta VALUES ('epoch', lower(hex(randomblob(16))))",
]
SCHEMA_VERSION = 1 + len(MIGRATIONS)

_COLUMNS = "server_seq, node, node_seq, hlc, tbl, row_id, op, data, old, base, rep"
_REP = "name, role, created_at, revoked_at, territories"


def _rep(row: Sequence) -> RepInfo:
    return RepInfo(row[0], row[1], row[2], row[3], tuple(t for t in (row[4] or "").split(",") if t))


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._migrate()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self.server_id = self._meta("server_id")

    def _migrate(self) -> None:
        """Create or upgrade the schema (inside the caller's write transaction);
        refuse a newer one before touching it."""
        conn = self._conn
        has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        version = 0
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 1  # a database from before versioning
        check_schema_version(version, SCHEMA_VERSION)
        for stmt in SCHEMA.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('server_id', ?)", (uuid.uuid4().hex,))
        for sql in MIGRATIONS[max(version, 1) - 1:]:
            conn.execute(sql)
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _meta(self, key: str) -> str:
        return self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def schema_version(self) -> int:
        with self._lock:
            return int(self._meta("schema_version"))

    # -- reps ------------------------------------------------------------------

    def add_rep(self, name: str, role: str, token_hash: str, territories: Sequence[str] = ()) -> RepInfo:
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._lock:
            row = self._conn.execute("SELECT revoked_at FROM reps WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise StoreError(f"rep {name!r} already exists; revoke-rep first to issue a new token")
            now = _now()
            terr = ",".join(t.strip() for t in territories if t.strip())
            self._conn.execute(
                "INSERT INTO reps (name, role, token_hash, created_at, territories) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, "
                "created_at = excluded.created_at, revoked_at = NULL, territories = excluded.territories",
                (name, role, token_hash, now, terr),
            )
            return _rep((name, role, now, None, terr))

    def list_reps(self) -> list[RepInfo]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_REP} FROM reps ORDER BY name").fetchall()
        return [_rep(r) for r in rows]

    def set_rep(self, name: str, *, role: str | None = None,
                territories: Sequence[str] | None = None) -> RepInfo:
        if role is not None and role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        terr = None if territories is None else ",".join(t.strip() for t in territories if t.strip())
        with self._lock:
            cur = self._conn.execute(
                "UPDATE reps SET role = coalesce(?, role), territories = coalesce(?, territories) WHERE name = ?",
                (role, terr, name))
            if cur.rowcount != 1:
                raise StoreError(f"no rep named {name!r}")
            return _rep(self._conn.execute(f"SELECT {_REP} FROM reps WHERE name = ?", (name,)).fetchone())

    def revoke_rep(self, name: str) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE reps SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (_now(), name)
            )
            return cur.rowcount == 1

    def rep_for_token(self, token_hash: str) -> RepInfo | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_REP} FROM reps WHERE token_hash = ?", (token_hash,)).fetchone()
        return _rep(row) if row else None

    # -- the log ---------------------------------------------------------------

    def push(self, rep: str, node: str, changes: Sequence[WireChange]) -> PushOutcome:
        ordered = sorted(changes, key=lambda c: c.node_seq)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT rep, last_seq FROM nodes WHERE node = ?", (node,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO nodes (node, rep) VALUES (?, ?)", (node, rep))
                    last = 0
                elif row[0] != rep:
                    raise NodeTaken(f"node {node} belongs to rep {row[0]!r}, not {rep!r}")
                else:
                    last = row[1]
                fresh = [c for c in ordered if c.node_seq > last]
                duplicates = len(ordered) - len(fresh)
                if duplicates:
                    self._check_duplicates(node, ordered[:duplicates])
                expected = last + 1
                for change in fresh:
                    if change.node_seq != expected:
                        raise SequenceGap(node, last + 1, change.node_seq)
                    expected += 1
                if fresh:
                    now = _now()
                    scopes = self._scopes(rep, fresh)
                    conn.executemany(
                        "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep, "
                        "pushed_by, received_at, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        # Attributed to the rep the token proves, not the name a laptop claims.
                        [(node, c.node_seq, c.hlc, c.tbl, c.row_id, c.op, _json(c.data), _json(c.old),
                          _json(c.base), rep, rep, now, scope) for c, scope in zip(fresh, scopes, strict=True)],
                    )
                    last = fresh[-1].node_seq
                    conn.execute("UPDATE nodes SET last_seq = ? WHERE node = ?", (last, node))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return PushOutcome(len(fresh), duplicates, last)

    def _scopes(self, rep: str, changes: Sequence[WireChange]) -> list[str | None]:
        """The customer each change belongs to, keeping the visibility tables up to
        date: a record's customer, each customer's owner and territory, and the
        customers a rep created (they hold those already)."""
        conn = self._conn
        known: dict[tuple[str, str], str | None] = {}
        scopes: list[str | None] = []
        served: list[tuple[str, str]] = []
        rows: list[tuple[str, str, str]] = []
        owners: dict[str, list[tuple[str, object, int]]] = {"owner": [], "territory": []}
        for c in changes:
            key = (c.tbl, c.row_id)
            if c.tbl == SCOPE_TABLE:
                scope: str | None = c.row_id
                if c.op == "insert":
                    served.append((rep, c.row_id))
                for name, found in owners.items():
                    if name in c.data:
                        found.append((c.row_id, c.data[name], c.hlc))
            elif c.data.get(SCOPE_FIELD):
                scope = str(c.data[SCOPE_FIELD])
                rows.append((c.tbl, c.row_id, scope))
            elif key in known:
                scope = known[key]
            else:
                row = conn.execute("SELECT scope FROM row_scope WHERE tbl = ? AND row_id = ?", key).fetchone()
                scope = row[0] if row else None
            known[key] = scope
            scopes.append(scope)
        conn.executemany("INSERT OR IGNORE INTO served (rep, customer_id) VALUES (?, ?)", served)
        conn.executemany("INSERT OR REPLACE INTO row_scope VALUES (?, ?, ?)", rows)
        for name, found in owners.items():
            conn.executemany(
                f"INSERT INTO customer_scope (customer_id, {name}, {name}_hlc) VALUES (?, ?, ?) "
                f"ON CONFLICT (customer_id) DO UPDATE SET {name} = excluded.{name}, "
                f"{name}_hlc = excluded.{name}_hlc WHERE excluded.{name}_hlc > {name}_hlc",
                found,
            )
        return scopes

    def _check_duplicates(self, node: str, changes: Sequence[WireChange]) -> None:
        held = dict(self._conn.execute(
            "SELECT node_seq, hlc FROM log WHERE node = ? AND node_seq BETWEEN ? AND ?",
            (node, changes[0].node_seq, changes[-1].node_seq)))
        for c in changes:
            if held.get(c.node_seq, c.hlc) != c.hlc:
                raise ChangeMismatch(
                    f"change {c.node_seq} of node {node} is not the one the server holds under that number")

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
             rep: RepInfo | None = None) -> Page:
        scoped = rep is not None and rep.role != "manager"
        with self._lock:
            conn = self._conn
            visible, params = "", []
            if scoped:
                assert rep is not None
                visible = ("SELECT customer_id FROM customer_scope WHERE owner = ? "
                           f"OR territory IN ({', '.join('?' * len(rep.territories))})")
                params = [rep.name, *rep.territories]
                if self._must_restart(rep.name, visible, params, after):
                    return Page([], 0, self._watermark(), reset=True)
            conn.execute("BEGIN")  # one snapshot for the watermark and the page
            try:
                mark = self._watermark()
                where = "server_seq > ? AND server_seq <= ? AND node IS NOT ?"
                if scoped:
                    where += f" AND (scope IS NULL OR scope IN ({visible}))"
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM log WHERE {where} ORDER BY server_seq LIMIT ?",
                    (after, mark, exclude_node, *params, limit),
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        cursor = rows[-1][0] if len(rows) == limit else max(mark, after)
        return Page(rows, cursor, mark)

    def _must_restart(self, rep: str, visible: str, params: list, after: int) -> bool:
        """Note the customers that came into the rep's view. Their past is behind a
        cursor > 0, so the rep must pull again from 0; the server keeps saying so until
        the rep does (a lost answer cannot make it skip them)."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT OR IGNORE INTO served (rep, customer_id, pending) "
                f"SELECT ?, customer_id, ? FROM ({visible})", (rep, int(after > 0), *params),
            )
            if after == 0:
                conn.execute("UPDATE served SET pending = 0 WHERE rep = ? AND pending = 1", (rep,))
                restart = False
            else:
                restart = conn.execute(
                    "SELECT 1 FROM served WHERE rep = ? AND pending = 1 LIMIT 1", (rep,)).fetchone() is not None
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return restart

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM log").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

