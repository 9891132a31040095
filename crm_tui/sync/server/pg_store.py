"""The server store on PostgreSQL (psycopg 3, a connection pool): the same contract as
the SQLite store, for a team whose server runs several workers on one database.

The difference that matters is the commit watermark (DESIGN invariant 7). Here many
pushes run at once: a push takes its server sequences, and another push may take
later ones and commit first. A puller whose cursor moved past the later ones would
never see the earlier. So every push first registers itself in `inflight`, in its
own committed transaction, with a sequence value `low` taken before any of its
changes' sequences; its changes then go in, and the registration leaves in the same
transaction that makes them visible. The watermark is the sequence's last value read
first, lowered below the smallest `low` still registered: a change at or below it was
taken after its push registered, so it is either committed or still announced.
A registration left by a push whose connection died no longer counts (its backend is
gone from pg_stat_activity, which PostgreSQL clears only after the rollback)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

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

# Version 1: the schema as first released on PostgreSQL, equal to the SQLite store's
# version 1 plus what only PostgreSQL needs (the sequence, `inflight`). Later versions
# are MIGRATIONS, numbered as in sqlite_store so one number means one schema.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS reps (
    name text PRIMARY KEY,
    role text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at text NOT NULL,
    revoked_at text,
    territories text NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS nodes (
    node text PRIMARY KEY,
    rep text NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0
);
CREATE SEQUENCE IF NOT EXISTS log_seq;
CREATE TABLE IF NOT EXISTS log (
    server_seq bigint PRIMARY KEY DEFAULT nextval('log_seq'),
    node text NOT NULL,
    node_seq bigint NOT NULL,
    hlc bigint NOT NULL,
    tbl text NOT NULL,
    row_id text NOT NULL,
    op text NOT NULL,
    data text NOT NULL,
    old text,
    base text,
    rep text NOT NULL,
    pushed_by text NOT NULL,
    received_at text NOT NULL,
    scope text,
    UNIQUE (node, node_seq)
);
CREATE TABLE IF NOT EXISTS inflight (
    low bigint PRIMARY KEY,
    pid integer NOT NULL,
    backend_start timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS row_scope (
    tbl text NOT NULL, row_id text NOT NULL, scope text NOT NULL, PRIMARY KEY (tbl, row_id)
);
CREATE TABLE IF NOT EXISTS customer_scope (
    customer_id text PRIMARY KEY,
    owner text, owner_hlc bigint NOT NULL DEFAULT 0,
    territory text, territory_hlc bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS customer_scope_owner ON customer_scope (owner);
CREATE INDEX IF NOT EXISTS customer_scope_territory ON customer_scope (territory);
CREATE TABLE IF NOT EXISTS served (
    rep text NOT NULL, customer_id text NOT NULL,
    pending boolean NOT NULL DEFAULT false,
    PRIMARY KEY (rep, customer_id)
);
"""

MIGRATIONS: list[str] = [
    # 2: the server's epoch, a timeline id: a restore from a backup starts a new one.
    "INSERT INTO meta VALUES ('epoch', md5(random()::text || clock_timestamp()::text)) ON CONFLICT DO NOTHING",
]
SCHEMA_VERSION = 1 + len(MIGRATIONS)

# Any constant: the advisory lock that lets one of several starting workers migrate.
_MIGRATION_LOCK = 0x63726D5F6D6967

_COLUMNS = "server_seq, node, node_seq, hlc, tbl, row_id, op, data, old, base, rep"
_REP = "name, role, created_at, revoked_at, territories"
# A push that meets another in a deadlock (scope rows locked in another order) is
# rolled back whole by PostgreSQL; it is simply run again.
_RETRIES = 5


def _rep(row: Sequence) -> RepInfo:
    return RepInfo(row[0], row[1], row[2], row[3], tuple(t for t in (row[4] or "").split(",") if t))


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class PostgresStore(Store):
    def __init__(self, url: str, *, max_connections: int = 10, application_name: str = "crm-server"):
        self.url = url
        try:
            self._pool = ConnectionPool(
                url, min_size=1, max_size=max_connections, open=True, timeout=30,
                # A connection broken by a database restart is replaced, not handed out.
                check=ConnectionPool.check_connection,
                kwargs={"autocommit": True, "application_name": application_name},
            )
            self._pool.wait(timeout=15)
        except (psycopg.Error, Exception) as exc:  # PoolTimeout and bad URLs alike
            raise StoreError(f"cannot connect to PostgreSQL at {_safe(url)}: {exc}") from None
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            self._migrate(conn)
            self.server_id = self._meta(conn, "server_id")

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        with self._pool.connection() as conn:
            yield conn

    def _migrate(self, conn: psycopg.Connection) -> None:
        has_meta = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]
        version = 0
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 1
        check_schema_version(version, SCHEMA_VERSION)
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('server_id', %s) ON CONFLICT DO NOTHING", (uuid.uuid4().hex,))
        for sql in MIGRATIONS[max(version, 1) - 1:]:
            conn.execute(sql)
        conn.execute("INSERT INTO meta VALUES ('schema_version', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        # Registrations of pushes whose connections died (a crash) count no more.
        conn.execute("DELETE FROM inflight i WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
                     "WHERE a.pid = i.pid AND a.backend_start = i.backend_start)")

    @staticmethod
    def _meta(conn: psycopg.Connection, key: str) -> str:
        return conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()[0]

    def schema_version(self) -> int:
        with self._conn() as conn:
            return int(self._meta(conn, "schema_version"))

    # -- reps ------------------------------------------------------------------

    def add_rep(self, name: str, role: str, token_hash: str, territories: Sequence[str] = ()) -> RepInfo:
        if role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        now = _now()
        terr = ",".join(t.strip() for t in territories if t.strip())
        with self._conn() as conn, conn.transaction():
            row = conn.execute("SELECT revoked_at FROM reps WHERE name = %s FOR UPDATE", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise StoreError(f"rep {name!r} already exists; revoke-rep first to issue a new token")
            conn.execute(
                "INSERT INTO reps (name, role, token_hash, created_at, territories) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, "
                "created_at = excluded.created_at, revoked_at = NULL, territories = excluded.territories",
                (name, role, token_hash, now, terr),
            )
        return _rep((name, role, now, None, terr))

    def list_reps(self) -> list[RepInfo]:
        with self._conn() as conn:
            return [_rep(r) for r in conn.execute(f"SELECT {_REP} FROM reps ORDER BY name").fetchall()]

    def set_rep(self, name: str, *, role: str | None = None,
                territories: Sequence[str] | None = None) -> RepInfo:
        if role is not None and role not in ROLES:
            raise StoreError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        terr = None if territories is None else ",".join(t.strip() for t in territories if t.strip())
        with self._conn() as conn:
            row = conn.execute(
                "UPDATE reps SET role = coalesce(%s, role), territories = coalesce(%s, territories) "
                f"WHERE name = %s RETURNING {_REP}", (role, terr, name)).fetchone()
        if row is None:
            raise StoreError(f"no rep named {name!r}")
        return _rep(row)

    def revoke_rep(self, name: str) -> bool:
        with self._conn() as conn:
            cur = conn.execute("UPDATE reps SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
                               (_now(), name))
            return cur.rowcount == 1

    def rep_for_token(self, token_hash: str) -> RepInfo | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_REP} FROM reps WHERE token_hash = %s", (token_hash,)).fetchone()
        return _rep(row) if row else None

    # -- the log ---------------------------------------------------------------

    def push(self, rep: str, node: str, changes: Sequence[WireChange]) -> PushOutcome:
        ordered = sorted(changes, key=lambda c: c.node_seq)
        for attempt in range(_RETRIES):
            try:
                return self._push_once(rep, node, ordered)
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _push_once(self, rep: str, node: str, ordered: list[WireChange]) -> PushOutcome:
        with self._conn() as conn:
            # Announce the push before taking any sequence for its changes (see the
            # module's docstring); committed at once, so pullers see it.
            low = conn.execute(
                "INSERT INTO inflight (low, pid, backend_start) SELECT nextval('log_seq'), pid, backend_start "
                "FROM pg_stat_activity WHERE pid = pg_backend_pid() RETURNING low").fetchone()[0]
            try:
                with conn.transaction():
                    outcome = self._append(conn, rep, node, ordered)
                    conn.execute("DELETE FROM inflight WHERE low = %s", (low,))
                return outcome
            except BaseException:
                # Rolled back: withdraw the announcement (if the connection itself is
                # gone, its backend is too, and the announcement no longer counts).
                if not conn.broken:
                    conn.execute("DELETE FROM inflight WHERE low = %s", (low,))
                raise

    def _append(self, conn: psycopg.Connection, rep: str, node: str, ordered: list[WireChange]) -> PushOutcome:
        conn.execute("INSERT INTO nodes (node, rep) VALUES (%s, %s) ON CONFLICT DO NOTHING", (node, rep))
        owner, last = conn.execute("SELECT rep, last_seq FROM nodes WHERE node = %s FOR UPDATE", (node,)).fetchone()
        if owner != rep:
            raise NodeTaken(f"node {node} belongs to rep {owner!r}, not {rep!r}")
        fresh = [c for c in ordered if c.node_seq > last]
        duplicates = len(ordered) - len(fresh)
        if duplicates:
            self._check_duplicates(conn, node, ordered[:duplicates])
        expected = last + 1
        for change in fresh:
            if change.node_seq != expected:
                raise SequenceGap(node, last + 1, change.node_seq)
            expected += 1
        if not fresh:
            return PushOutcome(0, duplicates, last)
        now = _now()
        scopes, served, rows, owners = self._scopes(conn, rep, fresh)
        with conn.cursor() as cur, cur.copy(
            "COPY log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep, pushed_by, received_at, scope) "
            "FROM STDIN"
        ) as copy:
            for c, scope in zip(fresh, scopes, strict=True):
                # Attributed to the rep the token proves, not the name a laptop claims.
                copy.write_row((node, c.node_seq, c.hlc, c.tbl, c.row_id, c.op, _json(c.data), _json(c.old),
                                _json(c.base), rep, rep, now, scope))
        # The visibility tables after the log: rows locked in key order, so two
        # pushes touching the same customers wait for each other rather than deadlock.
        with conn.cursor() as cur:
            if served:
                cur.executemany("INSERT INTO served (rep, customer_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                sorted(set(served)))
            if rows:
                cur.executemany("INSERT INTO row_scope VALUES (%s, %s, %s) ON CONFLICT (tbl, row_id) "
                                "DO UPDATE SET scope = excluded.scope", sorted(rows, key=lambda r: r[:2]))
            for name, found in owners.items():
                if found:
                    cur.executemany(
                        f"INSERT INTO customer_scope AS s (customer_id, {name}, {name}_hlc) VALUES (%s, %s, %s) "
                        f"ON CONFLICT (customer_id) DO UPDATE SET {name} = excluded.{name}, "
                        f"{name}_hlc = excluded.{name}_hlc WHERE excluded.{name}_hlc > s.{name}_hlc",
                        sorted(found, key=lambda f: f[0]))
        last = fresh[-1].node_seq
        conn.execute("UPDATE nodes SET last_seq = %s WHERE node = %s", (last, node))
        return PushOutcome(len(fresh), duplicates, last)

    @staticmethod
    def _scopes(conn: psycopg.Connection, rep: str, changes: Sequence[WireChange]):  # type: ignore[no-untyped-def]
        """The customer each change belongs to, and the visibility rows to write: the
        same rules as the SQLite store (a record's customer, each customer's owner and
        territory, the customers a rep created)."""
        unknown = sorted({(c.tbl, c.row_id) for c in changes
                          if c.tbl != SCOPE_TABLE and not c.data.get(SCOPE_FIELD)})
        held: dict[tuple[str, str], str] = {}
        if unknown:
            held = {(t, r): s for t, r, s in conn.execute(
                "SELECT s.tbl, s.row_id, s.scope FROM row_scope s JOIN unnest(%s::text[], %s::text[]) "
                "AS k(tbl, row_id) ON s.tbl = k.tbl AND s.row_id = k.row_id",
                ([k[0] for k in unknown], [k[1] for k in unknown])).fetchall()}
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
                        value = c.data[name]
                        found.append((c.row_id, None if value is None else str(value), c.hlc))
            elif c.data.get(SCOPE_FIELD):
                scope = str(c.data[SCOPE_FIELD])
                rows.append((c.tbl, c.row_id, scope))
            elif key in known:
                scope = known[key]
            else:
                scope = held.get(key)
            known[key] = scope
            scopes.append(scope)
        return scopes, served, rows, owners

    @staticmethod
    def _check_duplicates(conn: psycopg.Connection, node: str, changes: Sequence[WireChange]) -> None:
        held = dict(conn.execute(
            "SELECT node_seq, hlc FROM log WHERE node = %s AND node_seq BETWEEN %s AND %s",
            (node, changes[0].node_seq, changes[-1].node_seq)).fetchall())
        for c in changes:
            if held.get(c.node_seq, c.hlc) != c.hlc:
                raise ChangeMismatch(
                    f"change {c.node_seq} of node {node} is not the one the server holds under that number")

    def acked_seq(self, node: str) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT last_seq FROM nodes WHERE node = %s", (node,)).fetchone()
        return row[0] if row else 0

    def watermark(self) -> int:
        with self._conn() as conn:
            return self._watermark(conn)

    @staticmethod
    def _watermark(conn: psycopg.Connection) -> int:
        """Two statements in this order, each its own snapshot (autocommit): the
        sequence first, then the registrations still live."""
        taken = conn.execute("SELECT coalesce(pg_sequence_last_value('log_seq'), 0)").fetchone()[0]
        low = conn.execute(
            "SELECT min(i.low) FROM inflight i JOIN pg_stat_activity a "
            "ON a.pid = i.pid AND a.backend_start = i.backend_start").fetchone()[0]
        return taken if low is None else min(taken, low - 1)

    def pull(self, after: int, limit: int, exclude_node: str | None = None,
             rep: RepInfo | None = None) -> Page:
        scoped = rep is not None and rep.role != "manager"
        with self._conn() as conn:
            visible, params = "", []
            if scoped:
                assert rep is not None
                visible = "SELECT customer_id FROM customer_scope WHERE owner = %s OR territory = ANY(%s)"
                params = [rep.name, list(rep.territories)]
                if self._must_restart(conn, rep.name, visible, params, after):
                    return Page([], 0, self._watermark(conn), reset=True)
            # The watermark before the page: the page's later snapshot sees every
            # change at or below it.
            mark = self._watermark(conn)
            where = "server_seq > %s AND server_seq <= %s AND node IS DISTINCT FROM %s"
            if scoped:
                where += f" AND (scope IS NULL OR scope IN ({visible}))"
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM log WHERE {where} ORDER BY server_seq LIMIT %s",
                (after, mark, exclude_node, *params, limit),
            ).fetchall()
        cursor = rows[-1][0] if len(rows) == limit else max(mark, after)
        return Page(rows, cursor, mark)

    @staticmethod
    def _must_restart(conn: psycopg.Connection, rep: str, visible: str, params: list, after: int) -> bool:
        """As in the SQLite store: customers new in the rep's view behind a cursor > 0
        send the rep back to 0, and keep doing so until it pulls from 0."""
        with conn.transaction():
            conn.execute(
                "INSERT INTO served (rep, customer_id, pending) "
                f"SELECT %s, customer_id, %s FROM ({visible}) v ON CONFLICT DO NOTHING",
                (rep, after > 0, *params),
            )
            if after == 0:
                conn.execute("UPDATE served SET pending = false WHERE rep = %s AND pending", (rep,))
                return False
            return conn.execute("SELECT 1 FROM served WHERE rep = %s AND pending LIMIT 1",
                                (rep,)).fetchone() is not None

    def count(self) -> int:
        with self._conn() as conn:
            return conn.execute("SELECT count(*) FROM log").fetchone()[0]

    def close(self) -> None:
        self._pool.close()


def _safe(url: str) -> str:
    """The URL without a password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the given URL"
    info.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in info.items() if k in ("host", "port", "dbname", "user"))
