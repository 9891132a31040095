"""The server store on PostgreSQL (psycopg 3, a connection pool): the same contract as
the SQLite store, for a team whose server runs several workers on one database.

The difference that matters is the commit watermark (DESIGN invariant 7). Here many
pushes run at once: a push takes its server sequences, and another push may take
later ones and commit first. A puller whose cursor moved past the later ones would
never see the earlier. So every write to the log first announces itself in
`inflight`, in its own committed transaction, with a sequence value `low` taken
before any of its rows' sequences; its rows then go in, and the announcement leaves
in the same transaction that makes them visible. The watermark is the sequence's
last value, read first, lowered below the smallest `low` still announced: a row at
or below it was numbered after its writer announced itself, so it is either
committed or still announced. An announcement left by a writer whose connection died
no longer counts (its backend is gone from pg_stat_activity, which PostgreSQL clears
only after rolling the transaction back)."""

from __future__ import annotations

import json
import re
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from crm_tui.domain.changes import is_rep_scope, rep_scope
from crm_tui.domain.privacy import scrub_fields, scrub_plan
from crm_tui.i18n import t as text
from crm_tui.sync.protocol import WireChange
from crm_tui.sync.server.judge import HeldRecord, Judge, PlaceRow, Refusal, Verdicts, concerned
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
    redacted,
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

# Version 1: the schema as first released, the SQLite store's version 1 plus what only
# PostgreSQL needs (the sequences, `inflight`, `rate_buckets`). Later versions are
# MIGRATIONS, numbered as in sqlite_store so that one number means one schema.
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
CREATE SEQUENCE IF NOT EXISTS mark_seq;
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
CREATE INDEX IF NOT EXISTS log_scope ON log (scope, server_seq);
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
CREATE TABLE IF NOT EXISTS node_view (
    node text NOT NULL, customer_id text NOT NULL, PRIMARY KEY (node, customer_id)
);
CREATE TABLE IF NOT EXISTS refused (
    node text NOT NULL, node_seq bigint NOT NULL, hlc bigint NOT NULL,
    tbl text NOT NULL, row_id text NOT NULL, rep text NOT NULL,
    code text NOT NULL, reason text NOT NULL, received_at text NOT NULL,
    PRIMARY KEY (node, node_seq)
);
-- Snapshot bootstrap (see store.ALIVE): the change winning each field of each record
-- (node ids compare as in Python, by code point), and the laptops being served a
-- snapshot, up to which server sequence.
CREATE TABLE IF NOT EXISTS winners (
    tbl text NOT NULL, row_id text NOT NULL, field text NOT NULL,
    hlc bigint NOT NULL, node text COLLATE "C" NOT NULL, server_seq bigint NOT NULL,
    PRIMARY KEY (tbl, row_id, field)
);
CREATE INDEX IF NOT EXISTS winners_seq ON winners (server_seq);
CREATE TABLE IF NOT EXISTS bootstrap (node text PRIMARY KEY, until bigint NOT NULL);
-- Rate limits: token buckets shared by every server process.
CREATE TABLE IF NOT EXISTS rate_buckets (
    who text PRIMARY KEY,
    tokens double precision NOT NULL,
    at timestamptz NOT NULL,
    allowed boolean NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id bigserial PRIMARY KEY,
    at text NOT NULL,
    kind text NOT NULL,
    rep text, node text, address text, count bigint, detail text
);
CREATE INDEX IF NOT EXISTS audit_rep ON audit (rep, id);
-- Customers erased (docs/privacy.md): their log entries are scrubbed, and so is any
-- change about them pushed later.
CREATE TABLE IF NOT EXISTS erased (customer_id text PRIMARY KEY, erased_at text NOT NULL);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
"""

MIGRATIONS: list[str] = [
    # 2: the server's epoch, a timeline id: a restore from a backup starts a new one.
    "INSERT INTO meta VALUES ('epoch', md5(random()::text || clock_timestamp()::text)) ON CONFLICT DO NOTHING",
    # 3: snapshot bootstrap: the winners of every record's fields, from the log so far.
    "INSERT INTO winners (tbl, row_id, field, hlc, node, server_seq) "
    "SELECT DISTINCT ON (tbl, row_id, field) tbl, row_id, field, hlc, node, server_seq FROM ("
    " SELECT l.tbl, l.row_id, k AS field, l.hlc, l.node, l.server_seq "
    " FROM log l, jsonb_object_keys(l.data::jsonb) k WHERE l.node <> ''"
    f" UNION ALL SELECT tbl, row_id, '{ALIVE}', hlc, node, server_seq FROM log WHERE op <> 'update' AND node <> ''"
    ") x ORDER BY tbl, row_id, field, hlc DESC, node COLLATE \"C\" DESC ON CONFLICT DO NOTHING",
    # 4: the insert that made each record (store.BORN), which a snapshot's edits are based on.
    "INSERT INTO winners (tbl, row_id, field, hlc, node, server_seq) "
    f"SELECT DISTINCT ON (tbl, row_id) tbl, row_id, '{BORN}', hlc, node, server_seq FROM log "
    "WHERE op = 'insert' AND node <> '' ORDER BY tbl, row_id, hlc DESC, node COLLATE \"C\" DESC "
    "ON CONFLICT (tbl, row_id, field) DO UPDATE SET hlc = excluded.hlc, node = excluded.node, "
    "server_seq = excluded.server_seq",
    # 5, 6: a rep's target is seen by that rep (and the managers) only: its scope is
    # '@' + the rep (crm_tui.domain.changes.rep_scope), from the changes naming the rep.
    "UPDATE log l SET scope = s.scope FROM (SELECT DISTINCT ON (row_id) row_id, '@' || (data::jsonb ->> 'rep') AS scope "
    " FROM log WHERE tbl = 'targets' AND coalesce(data::jsonb ->> 'rep', '') <> '' ORDER BY row_id, hlc DESC) s "
    "WHERE l.tbl = 'targets' AND l.row_id = s.row_id",
    "INSERT INTO row_scope (tbl, row_id, scope) SELECT 'targets', row_id, coalesce(max(scope), '') FROM log "
    "WHERE tbl = 'targets' GROUP BY row_id ON CONFLICT (tbl, row_id) DO UPDATE SET scope = excluded.scope",
]
SCHEMA_VERSION = 1 + len(MIGRATIONS)

# Everything the store creates, for a restore to drop before it puts a backup's back.
TABLES = ("meta", "reps", "nodes", "log", "inflight", "row_scope", "customer_scope", "node_view", "refused",
          "winners", "bootstrap", "rate_buckets", "audit", "erased")

# The bytes a change takes in a pull answer (store.change_size), in this store's SQL.
_CHANGE_SIZE_SQL = change_size_sql("octet_length({})")


def drop_all(conn: psycopg.Connection) -> None:
    """Drop the store's objects from the connection's schema, in one transaction."""
    with conn.transaction():
        conn.execute(f"DROP TABLE IF EXISTS {', '.join(TABLES)} CASCADE")
        conn.execute("DROP SEQUENCE IF EXISTS log_seq, mark_seq CASCADE")
        conn.execute("DROP FUNCTION IF EXISTS audit_append_only() CASCADE")


# Any constant: the advisory lock that lets one of several starting workers migrate.
_MIGRATION_LOCK = 0x63726D5F6D6967

# Pushes about one customer's records that the judge weighs against each other (a
# sale's refunds, the record an edit leaves) are judged and stored one at a time: two
# workers judging at once would each miss what the other is about to store. (SQLite's
# one writer needs none of this.) A push holds, until it commits, a lock per such
# customer (the two-key advisory locks: this class, the customer's hash), taken in
# order before the judge reads anything, and the class's lock of all customers in
# shared mode; a push about more customers than PostgreSQL's lock table should hold
# at once takes that one in exclusive mode instead.
_CUSTOMER_LOCK = 0x63726D  # crm
_ALL_CUSTOMERS = -1  # no customer's key: a hash is 0 or more
_MAX_CUSTOMER_LOCKS = 256

# A push that meets another in a deadlock is rolled back whole by PostgreSQL; it is
# simply run again.
_RETRIES = 5



def one_row(cur: psycopg.Cursor[Any]) -> Any:
    """The row a statement always returns (an aggregate, a RETURNING, the row of a
    node or key this transaction has just made sure of). None is a defect, named."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("PostgreSQL returned no row where the store always expects one")
    return row




# libpq's reasons a connection fails that an administrator meets, each with the
# catalog's text (libpq writes them in English whatever the user's language; the
# server's own, FATAL ones, in its lc_messages). A reason not listed is said by the
# catalog's `server.pg_reason.other`, with libpq's words quoted.
_CONNECT_REASONS = [
    (re.compile(r"Connection refused"), "server.errors.pg_refused"),
    (re.compile(r'database "(?P<db>[^"]+)" does not exist'), "server.errors.pg_no_database"),
    (re.compile(r'role "(?P<user>[^"]+)" does not exist'), "server.errors.pg_no_user"),
    (re.compile(r'password authentication failed for user "(?P<user>[^"]+)"'), "server.errors.pg_bad_password"),
    (re.compile(r"failed to resolve host '(?P<host>[^']+)'|could not translate host name \"(?P<host2>[^\"]+)\""),
     "server.errors.pg_no_host"),
    (re.compile(r"timeout expired"), "server.errors.pg_timeout"),
    (re.compile(r'invalid URI query parameter: "(?P<name>[^"]+)"|invalid connection option "(?P<name2>[^"]+)"'),
     "server.pg_reason.unknown_option"),
    (re.compile(r'invalid port number: "(?P<value>[^"]*)"'), "server.pg_reason.bad_port"),
    (re.compile(r'invalid integer value "(?P<value>[^"]*)" for connection option "(?P<name>[^"]+)"'
                r'|invalid (?P<name2>\w+) value: "(?P<value2>[^"]*)"'), "server.pg_reason.bad_value"),
    (re.compile(r'invalid percent-encoded token|forbidden value %00|\bin URI\b|invalid URI propagated|'
                r'missing "=" after|unterminated quoted string|unexpected spaces found in'),
     "server.pg_reason.bad_url"),
    (re.compile(r'definition of service "(?P<name>[^"]+)" not found'), "server.pg_reason.no_service"),
    (re.compile(r'connection to server on socket "(?P<socket>[^"]+)" failed: No such file or directory'),
     "server.pg_reason.no_socket"),
    (re.compile(r'role "(?P<user>[^"]+)" is not permitted to log in'), "server.pg_reason.cannot_log_in"),
    (re.compile(r'too many connections for role "(?P<user>[^"]+)"'), "server.pg_reason.too_many_for_user"),
    (re.compile(r"sorry, too many clients already|remaining connection slots are reserved"),
     "server.pg_reason.too_many"),
    (re.compile(r'permission denied for database "(?P<db>[^"]+)"'), "server.pg_reason.no_connect_privilege"),
    (re.compile(r'database "(?P<db>[^"]+)" is not currently accepting connections'), "server.pg_reason.db_closed"),
    (re.compile(r"server does not support SSL, but SSL was required"), "server.pg_reason.no_ssl"),
    (re.compile(r"the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)"),
     "server.pg_reason.not_ready"),
    (re.compile(r'(?:no pg_hba\.conf entry|pg_hba\.conf rejects connection) for host "(?P<host>[^"]+)", '
                r'user "(?P<user>[^"]+)", database "(?P<db>[^"]+)"'), "server.pg_reason.hba"),
    (re.compile(r"no password supplied"), "server.pg_reason.no_password"),
    (re.compile(r'unrecognized configuration parameter "(?P<name>[^"]+)"'), "server.pg_reason.unknown_setting"),
    (re.compile(r'invalid value for parameter "(?P<name>[^"]+)": "(?P<value>[^"]*)"'), "server.pg_reason.bad_setting"),
    (re.compile(r"Network is unreachable|No route to host|Connection timed out"), "server.pg_reason.unreachable"),
    (re.compile(r"certificate verify failed|root certificate file .* does not exist|"
                r"could not (?:open|read) (?:certificate|private key) file"), "server.pg_reason.certificate"),
    (re.compile(r"channel binding required|authentication method requirement"), "server.pg_reason.auth_method"),
]

# What psycopg and libpq put before the reason itself, left out of the quoted detail.
_DETAIL_PREFIX = re.compile(r'^(?:connection (?:failed|is bad): )?(?:connection to server (?:at|on) [^:]*? failed: )?'
                            r'(?:FATAL:\s+)?')


def connect_reason(exc: Exception, url: str = "") -> str:
    """Why PostgreSQL could not be reached, in the user's language; for a reason not
    listed above, the catalog says so and quotes libpq's own words (which may quote
    the `url`: its password is left out)."""
    said = str(exc).replace(url, redacted(url)) if url else str(exc)
    detail = " ".join(_DETAIL_PREFIX.sub("", said.strip()).split())
    for pattern, key in _CONNECT_REASONS:
        found = pattern.search(said)
        if found:
            values = {k.rstrip("2"): v for k, v in found.groupdict().items() if v is not None}
            return text(key, detail=detail, **values)
    return text("server.pg_reason.other", detail=detail)


class PostgresStore(Store):
    def __init__(self, url: str, *, max_connections: int = 10, application_name: str = "crm-server"):
        self.url = url
        try:
            # One attempt first: the pool would retry for 15 s, logging each failure,
            # and then say only that it timed out; this says why, at once.
            psycopg.connect(url, connect_timeout=10, application_name=application_name).close()
        except (psycopg.Error, ValueError) as exc:
            raise StoreError(text("server.errors.cannot_connect", url=redacted(url), error=connect_reason(exc, url))) from None
        try:
            self._pool = ConnectionPool(
                url, min_size=1, max_size=max_connections, open=True, timeout=30,
                # A connection broken by a database restart is replaced, not handed out.
                check=ConnectionPool.check_connection,
                kwargs={"autocommit": True, "application_name": application_name},
            )
            self._pool.wait(timeout=15)
        except Exception as exc:  # PoolTimeout, bad URLs, refused connections alike
            raise StoreError(text("server.errors.cannot_connect", url=redacted(url), error=connect_reason(exc, url))) from None
        try:
            with self._conn() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                self._migrate(conn)
                self.server_id = self._meta(conn, "server_id")
                self.epoch = self._meta(conn, "epoch")
        except BaseException:
            self._pool.close()
            raise
        # Which fields of which table an erase scrubs: the rule lives in the domain.
        self.privacy_plan = scrub_plan()

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        with self._pool.connection() as conn:
            yield conn

    @staticmethod
    def _migrate(conn: psycopg.Connection) -> None:
        version = 0
        if one_row(conn.execute("SELECT to_regclass('meta') IS NOT NULL"))[0]:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row else 1
        check_schema_version(version, SCHEMA_VERSION)
        conn.execute(SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('server_id', %s) ON CONFLICT DO NOTHING", (uuid.uuid4().hex,))
        for sql in MIGRATIONS[max(version, 1) - 1:]:
            conn.execute(sql)
        conn.execute("INSERT INTO meta VALUES ('schema_version', %s) "
                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))
        # Announcements of writers whose connections died (a crash) count no more.
        conn.execute("DELETE FROM inflight i WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
                     "WHERE a.pid = i.pid AND a.backend_start = i.backend_start)")

    @staticmethod
    def _meta(conn: psycopg.Connection, key: str) -> str:
        return one_row(conn.execute("SELECT value FROM meta WHERE key = %s", (key,)))[0]

    def schema_version(self) -> int:
        with self._conn() as conn:
            return int(self._meta(conn, "schema_version"))

    def new_timeline(self) -> str:
        with self._conn() as conn:
            self.epoch = uuid.uuid4().hex
            conn.execute("UPDATE meta SET value = %s WHERE key = 'epoch'", (self.epoch,))
        return self.epoch

    @contextmanager
    def _announced(self) -> Iterator[psycopg.Connection]:
        """A transaction that may append to the log, announced first (see the
        module's docstring); the announcement leaves when it commits or fails."""
        with self._conn() as conn:
            low = one_row(conn.execute(
                "INSERT INTO inflight (low, pid, backend_start) SELECT nextval('log_seq'), pid, backend_start "
                "FROM pg_stat_activity WHERE pid = pg_backend_pid() RETURNING low"))[0]
            try:
                with conn.transaction():
                    yield conn
                    conn.execute("DELETE FROM inflight WHERE low = %s", (low,))
            except BaseException:
                # Rolled back: withdraw the announcement (if the connection itself is
                # gone, so is its backend, and the announcement no longer counts).
                if not conn.broken:
                    conn.execute("DELETE FROM inflight WHERE low = %s", (low,))
                raise

    # -- reps ------------------------------------------------------------------

    def add_rep(self, name: str, role: str, token_hash: str, territories: Sequence[str] = ()) -> RepInfo:
        check_role(role)
        now = now_stamp()
        terr = ",".join(t.strip() for t in territories if t.strip())
        with self._conn() as conn, conn.transaction():
            row = conn.execute("SELECT revoked_at FROM reps WHERE name = %s FOR UPDATE", (name,)).fetchone()
            if row is not None and row[0] is None:
                raise rep_exists(name)
            conn.execute(
                "INSERT INTO reps (name, role, token_hash, created_at, territories) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, token_hash = excluded.token_hash, "
                "created_at = excluded.created_at, revoked_at = NULL, territories = excluded.territories",
                (name, role, token_hash, now, terr),
            )
            self._audit(conn, "rep_added" if row is None else "rep_readded", rep=name,
                        detail={"role": role, "territories": terr.split(",") if terr else []})
        return rep_from_row((name, role, now, None, terr))

    def list_reps(self) -> list[RepInfo]:
        with self._conn() as conn:
            return [rep_from_row(r) for r in conn.execute(f"SELECT {REP_COLUMNS} FROM reps ORDER BY name").fetchall()]

    def set_rep(self, name: str, *, role: str | None = None,
                territories: Sequence[str] | None = None) -> RepInfo:
        if role is not None:
            check_role(role)
        terr = None if territories is None else ",".join(t.strip() for t in territories if t.strip())
        with self._conn() as conn, conn.transaction():
            row = conn.execute(
                "UPDATE reps SET role = coalesce(%s, role), territories = coalesce(%s, territories) "
                f"WHERE name = %s RETURNING {REP_COLUMNS}", (role, terr, name)).fetchone()
            if row is None:
                raise no_rep(name)
            rep = rep_from_row(row)
            self._audit(conn, "rep_changed", rep=name, detail={"role": rep.role, "territories": list(rep.territories)})
        return rep

    def revoke_rep(self, name: str) -> bool:
        with self._conn() as conn, conn.transaction():
            cur = conn.execute("UPDATE reps SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
                               (now_stamp(), name))
            if cur.rowcount == 1:
                self._audit(conn, "rep_revoked", rep=name)
            return cur.rowcount == 1

    def rep_for_token(self, token_hash: str) -> RepInfo | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {REP_COLUMNS} FROM reps WHERE token_hash = %s", (token_hash,)).fetchone()
        return rep_from_row(row) if row else None

    # -- the log ---------------------------------------------------------------

    def push(self, rep: RepInfo, node: str, changes: Sequence[WireChange]) -> PushOutcome:
        ordered = sorted(changes, key=lambda c: c.node_seq)
        for attempt in range(_RETRIES):
            try:
                with self._announced() as conn:
                    outcome, erasing = self._push(conn, rep, node, ordered)
                if erasing:
                    self.purge()
                return outcome
            except (pg_errors.DeadlockDetected, pg_errors.SerializationFailure):
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _push(self, conn: psycopg.Connection, rep: RepInfo, node: str,
              ordered: list[WireChange]) -> tuple[PushOutcome, bool]:
        """The push in its transaction; and whether it carried an erasure."""
        conn.execute("INSERT INTO nodes (node, rep) VALUES (%s, %s) ON CONFLICT DO NOTHING", (node, rep.name))
        owner, last = one_row(conn.execute("SELECT rep, last_seq FROM nodes WHERE node = %s FOR UPDATE", (node,)))
        if owner != rep.name:
            raise NodeTaken(node, owner, rep.name)
        held, fresh = split_fresh(node, ordered, last)
        self._lock_customers(conn, fresh)
        refused_before = self._check_duplicates(conn, node, held) if held else []
        place_of, scope_of = self._lookups(conn, fresh)
        judge = Judge(rep.actor, place_of, scope_of, partial(self._record_of, conn), partial(self._records_in, conn))
        verdicts = judge.judge_all(fresh)
        erasing = False
        if fresh:
            verdicts.accepted = self._scrubbed(conn, verdicts.accepted)
            self._persist(conn, rep.name, node, verdicts, {c.node_seq: c.hlc for c in fresh})
            erasing = self._erase_pushed(conn, verdicts)
            last = fresh[-1].node_seq
            conn.execute("UPDATE nodes SET last_seq = %s WHERE node = %s", (last, node))
        return PushOutcome(len(verdicts.accepted), len(held) - len(refused_before), last,
                           tuple(refused_before + verdicts.refused)), erasing

    # -- erase (docs/privacy.md) ----------------------------------------------------

    def _scrubbed(self, conn: psycopg.Connection,
                  accepted: list[tuple[WireChange, str | None]]) -> list[tuple[WireChange, str | None]]:
        scopes = sorted({scope for _, scope in accepted if scope})
        erased = {r[0] for r in conn.execute("SELECT customer_id FROM erased WHERE customer_id = ANY(%s)",
                                             (scopes,)).fetchall()} if scopes else set()
        return scrub_erased(accepted, erased, self.privacy_plan)

    def _erase_pushed(self, conn: psycopg.Connection, v: Verdicts) -> bool:
        """Carry out the erasures the judge accepted in this push (a manager's)."""
        ids = erasures_accepted(v)
        for customer_id in ids:
            self._erase(conn, customer_id)
        return bool(ids)

    def _erase(self, conn: psycopg.Connection, customer_id: str) -> int:
        """Inside the caller's transaction: scrub every log entry about the customer
        (the domain's scrub_fields, one rule for both stores) and remember them as
        erased. The count of entries scrubbed."""
        conn.execute("INSERT INTO erased VALUES (%s, %s) ON CONFLICT DO NOTHING", (customer_id, now_stamp()))
        plan = self.privacy_plan
        rows = conn.execute("SELECT server_seq, tbl, data, old FROM log WHERE scope = %s AND tbl = ANY(%s) "
                            "ORDER BY server_seq FOR UPDATE", (customer_id, sorted(plan))).fetchall()
        scrubbed = []
        for seq, tbl, data, old in rows:
            new_data = json_or_null(scrub_fields(json.loads(data), tbl, plan))
            new_old = None if old is None else json_or_null(scrub_fields(json.loads(old), tbl, plan))
            if (new_data, new_old) != (data, old):
                scrubbed.append((new_data, new_old, seq))
        if scrubbed:
            with conn.cursor() as cur:
                cur.executemany("UPDATE log SET data = %s, old = %s WHERE server_seq = %s", scrubbed)
        return len(rows)

    def erase(self, customer_id: str) -> int:
        with self._conn() as conn, conn.transaction():
            count = self._erase(conn, customer_id)
        self.purge()
        return count

    def purge(self) -> None:
        """Vacuum the log, so the row versions an erase replaced leave its live data
        (PostgreSQL keeps them until vacuumed). Their bytes may stay in free space and
        in the write-ahead log until reused (docs/privacy.md)."""
        with self._conn() as conn:
            conn.execute("VACUUM log")

    def _lookups(self, conn: psycopg.Connection, changes: Sequence[WireChange]
                 ) -> tuple[Callable[[str], PlaceRow | None], Callable[[str, str], str | None]]:
        """The judge's two look-ups, answered for the whole batch in two queries (a
        query per change costs a round trip each); anything else asked, one by one."""
        keys = sorted({(c.tbl, c.row_id) for c in changes if c.tbl != "customers"})
        scopes = {(t, r): scope for t, r, scope in conn.execute(
            "SELECT s.tbl, s.row_id, s.scope FROM row_scope s JOIN unnest(%s::text[], %s::text[]) AS k(tbl, row_id) "
            "ON s.tbl = k.tbl AND s.row_id = k.row_id", ([k[0] for k in keys], [k[1] for k in keys])).fetchall()}
        customers = sorted({c.row_id for c in changes if c.tbl == "customers"}
                           | {str(v) for c in changes for v in c.data.values() if isinstance(v, str)}
                           | {scope for scope in scopes.values() if scope})
        places: dict[str, PlaceRow] = {r[0]: tuple(r[1:]) for r in conn.execute(
            "SELECT customer_id, owner, owner_hlc, territory, territory_hlc FROM customer_scope "
            "WHERE customer_id = ANY(%s)", (customers,)).fetchall()}
        asked_keys, asked_customers = set(keys), set(customers)

        def place_of(customer_id: str) -> PlaceRow | None:
            if customer_id in asked_customers:
                return places.get(customer_id)
            return self._place_of(conn, customer_id)

        def scope_of(tbl: str, row_id: str) -> str | None:
            if (tbl, row_id) in asked_keys:
                return scopes.get((tbl, row_id))
            return self._scope_of(conn, tbl, row_id)

        return place_of, scope_of

    @staticmethod
    def _lock_customers(conn: psycopg.Connection, changes: Sequence[WireChange]) -> None:
        """Wait until no other push about the customers whose records the judge will
        weigh is being judged or stored, and keep them so until this push ends."""
        customers, records = concerned(changes)
        if records:
            keys = sorted(records)
            customers |= {scope for (scope,) in conn.execute(
                "SELECT s.scope FROM row_scope s JOIN unnest(%s::text[], %s::text[]) AS k(tbl, row_id) "
                "ON s.tbl = k.tbl AND s.row_id = k.row_id", ([k[0] for k in keys], [k[1] for k in keys])).fetchall()}
        hashes = sorted({zlib.crc32(c.encode()) >> 1 for c in customers if c and not is_rep_scope(c)})
        if not hashes:
            return
        if len(hashes) > _MAX_CUSTOMER_LOCKS:
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_CUSTOMER_LOCK, _ALL_CUSTOMERS))
            return
        conn.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", (_CUSTOMER_LOCK, _ALL_CUSTOMERS))
        conn.execute("SELECT count(pg_advisory_xact_lock(%s, h)) FROM unnest(%s::int[]) AS h", (_CUSTOMER_LOCK, hashes))

    @staticmethod
    def _place_of(conn: psycopg.Connection, customer_id: str) -> PlaceRow | None:
        return conn.execute("SELECT owner, owner_hlc, territory, territory_hlc FROM customer_scope "
                            "WHERE customer_id = %s", (customer_id,)).fetchone()

    @staticmethod
    def _record_of(conn: psycopg.Connection, tbl: str, row_id: str) -> HeldRecord | None:
        return held_record(conn.execute(
            "SELECT w.field, w.hlc, w.node, w.server_seq, l.data FROM winners w JOIN log l "
            "ON l.server_seq = w.server_seq WHERE w.tbl = %s AND w.row_id = %s", (tbl, row_id)).fetchall())

    @staticmethod
    def _records_in(conn: psycopg.Connection, tbl: str, customer_id: str) -> dict[str, HeldRecord]:
        # the customer's records from the log's scope index; the judge keeps those still theirs
        return live_records(conn.execute(
            "SELECT w.row_id, w.field, w.hlc, w.node, w.server_seq, l.data, l.op FROM winners w JOIN log l "
            "ON l.server_seq = w.server_seq WHERE w.tbl = %s AND w.row_id IN "
            "(SELECT row_id FROM log WHERE scope = %s AND tbl = %s)", (tbl, customer_id, tbl)).fetchall())

    @staticmethod
    def _scope_of(conn: psycopg.Connection, tbl: str, row_id: str) -> str | None:
        row = conn.execute("SELECT scope FROM row_scope WHERE tbl = %s AND row_id = %s", (tbl, row_id)).fetchone()
        return row[0] if row else None

    def _persist(self, conn: psycopg.Connection, rep: str, node: str, v: Verdicts, hlcs: dict[int, int]) -> None:
        """Store what the judge decided, in the push's transaction: the log first
        (its sequences taken), then the visibility rows, locked in key order so that
        two pushes touching the same customers wait for each other, not deadlock."""
        now = now_stamp()
        accepted = [c for c, _ in v.accepted]
        if accepted:
            with conn.cursor() as cur, cur.copy(
                "COPY log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep, pushed_by, received_at, "
                "scope) FROM STDIN"
            ) as copy:
                for c, scope in v.accepted:
                    # Attributed to the rep the token proves, not the name a laptop claims.
                    copy.write_row((node, c.node_seq, c.hlc, c.tbl, c.row_id, c.op, json_or_null(c.data),
                                    json_or_null(c.old), json_or_null(c.base), rep, rep, now, scope))
            by_seq: dict[int, int] = dict(conn.execute(
                "SELECT node_seq, server_seq FROM log WHERE node = %s AND node_seq >= %s",
                (node, accepted[0].node_seq)).fetchall())
            won = winning_fields(accepted, [by_seq[c.node_seq] for c in accepted])
            # One row per key: one statement may update each row only once.
            conn.execute(
                "INSERT INTO winners AS w SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], "
                "%s::text[], %s::bigint[]) ON CONFLICT (tbl, row_id, field) DO UPDATE SET hlc = excluded.hlc, "
                "node = excluded.node, server_seq = excluded.server_seq "
                "WHERE (excluded.hlc, excluded.node) > (w.hlc, w.node)",
                [list(col) for col in zip(*won, strict=True)])
        with conn.cursor() as cur:
            if v.row_scopes:
                cur.executemany("INSERT INTO row_scope VALUES (%s, %s, %s) ON CONFLICT (tbl, row_id) "
                                "DO UPDATE SET scope = excluded.scope",
                                [(t, r, scope) for (t, r), scope in sorted(v.row_scopes.items())])
            if v.places:
                # Each of owner and territory keeps the later stamp, whatever order two
                # concurrent pushes commit in.
                cur.executemany(
                    "INSERT INTO customer_scope AS s VALUES (%s, %s, %s, %s, %s) ON CONFLICT (customer_id) "
                    "DO UPDATE SET owner = CASE WHEN excluded.owner_hlc > s.owner_hlc THEN excluded.owner "
                    "ELSE s.owner END, owner_hlc = greatest(s.owner_hlc, excluded.owner_hlc), "
                    "territory = CASE WHEN excluded.territory_hlc > s.territory_hlc THEN excluded.territory "
                    "ELSE s.territory END, territory_hlc = greatest(s.territory_hlc, excluded.territory_hlc)",
                    [(cid, *place) for cid, place in sorted(v.places.items())])
            if v.created:
                # The laptop that created a customer holds it already: no need to serve it back.
                cur.executemany("INSERT INTO node_view VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                [(node, cid) for cid in sorted(v.created)])
            if v.refused:
                cur.executemany(
                    "INSERT INTO refused (node, node_seq, hlc, tbl, row_id, rep, code, reason, received_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [(node, r.node_seq, hlcs[r.node_seq], r.tbl, r.row_id, rep, r.code, r.kept, now)
                     for r in v.refused])
        for r in v.refused:
            self._audit(conn, "refused", rep=rep, node=node,
                        detail={"node_seq": r.node_seq, "tbl": r.tbl, "row_id": r.row_id, "code": r.code,
                                "reason": r.kept})

    @staticmethod
    def _check_duplicates(conn: psycopg.Connection, node: str, changes: Sequence[WireChange]) -> list[Refusal]:
        """Changes sent again must be the ones held (stored or refused); the refusals
        among them, to answer again."""
        lo, hi = changes[0].node_seq, changes[-1].node_seq
        held: dict[int, int] = dict(conn.execute(
            "SELECT node_seq, hlc FROM log WHERE node = %s AND node_seq BETWEEN %s AND %s", (node, lo, hi)).fetchall())
        refused = {r[0]: r for r in conn.execute(
            "SELECT node_seq, hlc, tbl, row_id, code, reason FROM refused "
            "WHERE node = %s AND node_seq BETWEEN %s AND %s", (node, lo, hi)).fetchall()}
        return resent_refusals(node, changes, held, refused)

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
        sequence first, then the announcements still alive."""
        taken = one_row(conn.execute("SELECT coalesce(pg_sequence_last_value('log_seq'), 0)"))[0]
        low = one_row(conn.execute(
            "SELECT min(i.low) FROM inflight i JOIN pg_stat_activity a "
            "ON a.pid = i.pid AND a.backend_start = i.backend_start"))[0]
        return taken if low is None else min(taken, low - 1)

    def pull(self, after: int, limit: int, exclude_node: str | None = None,
             rep: RepInfo | None = None, max_bytes: int | None = None, snapshot: bool = False) -> Page:
        scoped = rep is not None and rep.role != "manager"
        if scoped:
            assert rep is not None
            visible = "SELECT customer_id FROM customer_scope WHERE owner = %s OR territory = ANY(%s)"
            view_params: list[object] = [rep.name, list(rep.territories)]
            if exclude_node:
                self._note_view(rep.name, exclude_node, visible, view_params, after, max_bytes)
            # their customers' records, records of no one, their own targets, their marks
            where = "(scope IS NULL OR scope IN (" + visible + ") OR scope = %s OR (node = '' AND scope = %s))"
            params: list[object] = [*view_params, rep_scope(rep.name), mark_scope(exclude_node)]
        else:
            where, params = f"node <> '{MARK_NODE}'", []
        with self._conn() as conn:
            until = self._bootstrap(conn, exclude_node, after, snapshot)
            # The watermark before the page: the page's later snapshot sees every row
            # at or below it.
            mark = self._watermark(conn)
            if until is not None:
                # The snapshot: the changes that still win something, up to `until`.
                seqs = [r[0] for r in conn.execute(
                    "SELECT DISTINCT server_seq FROM winners WHERE server_seq > %s AND server_seq <= %s "
                    "ORDER BY server_seq LIMIT %s", (after, until, limit))]
                rows = conn.execute(
                    f"SELECT {LOG_COLUMNS} FROM log WHERE server_seq = ANY(%s) AND node IS DISTINCT FROM %s "
                    f"AND {where} ORDER BY server_seq", (seqs, exclude_node, *params)).fetchall()
                edits, keys = snapshot_edits(rows)
                wins = conn.execute("SELECT server_seq, field FROM winners WHERE server_seq = ANY(%s)",
                                    (edits,)).fetchall()
                born = {(t, r): (h, n) for t, r, h, n in conn.execute(
                    "SELECT w.tbl, w.row_id, w.hlc, w.node FROM winners w "
                    "JOIN unnest(%s::text[], %s::text[]) AS k(tbl, row_id) ON w.tbl = k.tbl AND w.row_id = k.row_id "
                    f"WHERE w.field = '{BORN}'", ([k[0] for k in keys], [k[1] for k in keys])).fetchall()}
                return snapshot_page(rows, wins, born, exclude_node, seqs, limit, until, mark, max_bytes)
            rows = conn.execute(
                f"SELECT {LOG_COLUMNS} FROM log WHERE server_seq > %s AND server_seq <= %s "
                f"AND node IS DISTINCT FROM %s AND {where} ORDER BY server_seq LIMIT %s",
                (after, mark, exclude_node, *params, limit)).fetchall()
            return assemble_page(rows, after, limit, mark, max_bytes, lambda customer, since, before: conn.execute(
                f"SELECT {LOG_COLUMNS} FROM log WHERE scope = %s AND server_seq > %s AND server_seq < %s "
                "AND node <> '' ORDER BY server_seq", (customer, since, before)).fetchall())

    def _bootstrap(self, conn: psycopg.Connection, node: str | None, after: int, snapshot: bool) -> int | None:
        """As in the SQLite store: where the snapshot of a laptop that asked for one
        from 0 ends, or None."""
        if node is None:
            return None
        if after == 0 and not snapshot:
            conn.execute("DELETE FROM bootstrap WHERE node = %s", (node,))
            return None
        if after == 0:
            until = self._watermark(conn)
            conn.execute("INSERT INTO bootstrap VALUES (%s, %s) ON CONFLICT (node) DO UPDATE SET until = excluded.until",
                         (node, until))
            return until
        row = conn.execute("SELECT until FROM bootstrap WHERE node = %s", (node,)).fetchone()
        return row[0] if row and after < row[0] else None

    def _note_view(self, rep: str, node: str, visible: str, params: list[object], after: int,
                   max_bytes: int | None = None) -> None:
        """As in the SQLite store: the difference between the rep's view and what this
        laptop was served goes into the log as view marks. Checked first without a
        lock (the usual answer: nothing changed), then under the node's lock in an
        announced transaction, since marks are log rows."""
        with self._conn() as conn:
            entered, left = self._view_change(conn, node, visible, params)
        if not entered and not left:
            return
        with self._announced() as conn:
            conn.execute("INSERT INTO nodes (node, rep) VALUES (%s, %s) ON CONFLICT DO NOTHING", (node, rep))
            owner = one_row(conn.execute("SELECT rep FROM nodes WHERE node = %s FOR UPDATE", (node,)))[0]
            if owner != rep:
                raise NodeTaken(node, owner, rep)
            entered, left = self._view_change(conn, node, visible, params)
            if not entered and not left:
                return
            with conn.cursor() as cur:
                if entered:
                    cur.executemany("INSERT INTO node_view VALUES (%s, %s) ON CONFLICT DO NOTHING",
                                    [(node, c) for c in entered])
                if left:
                    cur.executemany("DELETE FROM node_view WHERE node = %s AND customer_id = %s",
                                    [(node, c) for c in left])
                marks = view_marks(entered, left, after, lambda: conn.execute(
                    f"SELECT scope, server_seq, {_CHANGE_SIZE_SQL} FROM log WHERE scope = ANY(%s) "
                    "AND server_seq <= %s AND node <> '' ORDER BY scope, server_seq", (entered, after)).fetchall(),
                    max_bytes)
                if marks:
                    now = now_stamp()
                    cur.executemany(
                        "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, rep, pushed_by, received_at, "
                        "scope) VALUES ('', nextval('mark_seq'), 0, %s, %s, %s, %s, %s, %s, %s, %s)",
                        [(MARK_TABLE, c, kind, data, rep, rep, now, mark_scope(node)) for c, kind, data in marks])

    @staticmethod
    def _view_change(conn: psycopg.Connection, node: str, visible: str,
                     params: list[object]) -> tuple[list[str], list[str]]:
        return view_change((r[0] for r in conn.execute(visible, params).fetchall()),
                           (r[0] for r in conn.execute("SELECT customer_id FROM node_view WHERE node = %s",
                                                       (node,)).fetchall()))

    def count(self) -> int:
        with self._conn() as conn:
            return one_row(conn.execute("SELECT count(*) FROM log WHERE node <> ''"))[0]

    def refused_count(self) -> int:
        with self._conn() as conn:
            return one_row(conn.execute("SELECT count(*) FROM refused"))[0]

    # -- the audit -------------------------------------------------------------

    @staticmethod
    def _audit(conn: psycopg.Connection, kind: str, *, rep: str | None = None, node: str | None = None,
               address: str | None = None, count: int | None = None, detail: object = None) -> None:
        if kind not in AUDIT_KINDS:
            raise StoreError(text("server.errors.unknown_audit_kind", kind=repr(kind)))
        conn.execute("INSERT INTO audit (at, kind, rep, node, address, count, detail) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                     (now_stamp(), kind, rep, node, address, count, json_or_null(detail)))

    def record_audit(self, kind: str, *, rep: str | None = None, node: str | None = None,
                     address: str | None = None, count: int | None = None, detail: object = None) -> None:
        with self._conn() as conn:
            self._audit(conn, kind, rep=rep, node=node, address=address, count=count, detail=detail)

    def audit(self, *, rep: str | None = None, since: str | None = None, kind: str | None = None,
              limit: int | None = None) -> list[AuditEntry]:
        sql, params = audit_query("%s", rep=rep, since=since, kind=kind, limit=limit)
        with self._conn() as conn:
            return [AuditEntry(*r) for r in conn.execute(sql, params).fetchall()]

    def shared_limiter(self, rate: float, burst: int, kind: str) -> PgLimiter:
        return PgLimiter(self, rate, burst, kind)

    def close(self) -> None:
        self._pool.close()


class PgLimiter:
    """Token buckets in `rate_buckets`: one statement refills and takes under the
    row's lock, so requests through any worker count against one budget."""

    _FILL = ("least(%(burst)s, b.tokens + %(rate)s * "
             "extract(epoch FROM clock_timestamp() - b.at)::double precision)")

    def __init__(self, store: PostgresStore, rate: float, burst: int, kind: str):
        self.store, self.rate, self.burst, self.kind = store, rate, burst, kind

    def _params(self, who: str) -> dict[str, object]:
        return {"who": f"{self.kind}:{who}", "rate": float(self.rate), "burst": float(self.burst)}

    def allow(self, who: str) -> bool:
        fill = self._FILL
        with self.store._conn() as conn:
            return one_row(conn.execute(
                "INSERT INTO rate_buckets AS b (who, tokens, at, allowed) "
                "VALUES (%(who)s, %(burst)s - 1, clock_timestamp(), %(burst)s >= 1) "
                f"ON CONFLICT (who) DO UPDATE SET tokens = CASE WHEN {fill} >= 1 THEN {fill} - 1 ELSE {fill} END, "
                f"allowed = {fill} >= 1, at = clock_timestamp() RETURNING allowed", self._params(who),
            ))[0]

    def exhausted(self, who: str) -> bool:
        with self.store._conn() as conn:
            row = conn.execute(f"SELECT {self._FILL} < 1 FROM rate_buckets b WHERE who = %(who)s",
                               self._params(who)).fetchone()
        return bool(row and row[0])
