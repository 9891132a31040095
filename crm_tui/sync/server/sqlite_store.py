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
    ChangeMismatch,
    NodeTaken,
    Page,
    PushOutcome,
    RepInfo,
    SequenceGap,
    Store,
    StoreError,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reps (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
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
    UNIQUE (node, node_seq)
);
"""

_COLUMNS = "server_seq, node, node_seq, hlc, tbl, row_id, op, data, old, base, rep"


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
                for stmt in SCHEMA.split(";"):
                    if stmt.strip():
                        self._conn.execute(stmt)
                self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('server_id', ?)", (uuid.uuid4().hex,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self.server_id = self._conn.execute("SELECT value FROM meta WHERE key = 'server_id'").fetchone()[0]

    # -- reps ------------------------------------------------------------------

    def add_rep(self, name: str, role: str, token_hash: str) -> RepInfo:
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._lock:
            row = self._conn.execute("SELECT revoked_at FROM reps WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise StoreError(f"rep {name!r} already exists; revoke-rep first to issue a new token")
            now = _now()
            self._conn.execute(
                "INSERT INTO reps (name, role, token_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, "
                "created_at = excluded.created_at, revoked_at = NULL",
                (name, role, token_hash, now),
            )
            return RepInfo(name, role, now)

    def list_reps(self) -> list[RepInfo]:
        with self._lock:
            rows = self._conn.execute("SELECT name, role, created_at, revoked_at FROM reps ORDER BY name").fetchall()
        return [RepInfo(*r) for r in rows]

    def revoke_rep(self, name: str) -> bool:
        with self._lock:
            cur = self._conn.execute(
                "UPDATE reps SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (_now(), name)
            )
            return cur.rowcount == 1

    def rep_for_token(self, token_hash: str) -> RepInfo | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT name, role, created_at, revoked_at FROM reps WHERE token_hash = ?", (token_hash,)
            ).fetchone()
        return RepInfo(*row) if row else None

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
                    conn.executemany(
                        "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep, "
                        "pushed_by, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        # Attributed to the rep the token proves, not the name a laptop claims.
                        [(node, c.node_seq, c.hlc, c.tbl, c.row_id, c.op, _json(c.data), _json(c.old),
                          _json(c.base), rep, rep, now) for c in fresh],
                    )
                    last = fresh[-1].node_seq
                    conn.execute("UPDATE nodes SET last_seq = ? WHERE node = ?", (last, node))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return PushOutcome(len(fresh), duplicates, last)

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

    def pull(self, after: int, limit: int, exclude_node: str | None = None) -> Page:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")  # one snapshot for the watermark and the page
            try:
                mark = self._watermark()
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM log WHERE server_seq > ? AND server_seq <= ? "
                    "AND node IS NOT ? ORDER BY server_seq LIMIT ?",
                    (after, mark, exclude_node, limit),
                ).fetchall()
            finally:
                conn.execute("COMMIT")
        cursor = rows[-1][0] if len(rows) == limit else max(mark, after)
        return Page(rows, cursor, mark)

    def count(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM log").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

