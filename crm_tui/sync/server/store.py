"""The interface every server store implements (SQLite and PostgreSQL). The
app above it holds no storage-specific logic: it authenticates, checks clocks and
protocol, and calls these methods.

Contract of the log (DESIGN invariant 7): append-only; each change gets a server
sequence when stored; `pull` returns only changes at or below the commit watermark,
the highest sequence below which every change is committed. With several writers
(PostgreSQL) sequences can commit out of order, so the watermark is not simply
max(seq): a store must compute it so that a cursor never skips a change that
commits later. The SQLite store has one writer, so its watermark is max(seq) read in
the same read transaction as the page.

Contract of a push: every fresh change is judged, in order, by
`crm_tui.sync.server.judge.Judge` inside the push's transaction (the rules are pure
and shared by every store; a store only answers the judge's two lookups and persists
its verdicts). Refused changes go to the store's refusals, not to the log, and use up
their node_seq; a re-sent batch gets the same refusals back.

Contract of view changes: a rep's view is the customers they own or whose territory
is one of theirs. At each pull of a rep the store compares that view with the
customers it has served them; a customer that entered gets an `enter` mark in the log
and one that left a `leave` mark, both seen by that rep only. A page stops at the
marks: an `enter` brings the customer's history before it, a `leave` puts the
customer in `Page.gone`. Marks are log positions, so a lost answer is answered again
from the same cursor.

Contract of the audit: append-only; `record_audit` adds, `audit` reads; rep
administration (add, re-add, set, revoke) is audited by the store itself, in the
same transaction. Tokens never reach it."""

from __future__ import annotations

import datetime as dt
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from crm_tui.domain.changes import Actor
from crm_tui.domain.privacy import ERASURES, scrub_fields
from crm_tui.i18n import t as text
from crm_tui.sync.protocol import INT64_MAX, WireChange
from crm_tui.sync.server.judge import HeldRecord, Refusal, Verdicts

ROLES = ("rep", "manager")

# Visibility: a customer is the unit a rep may see. A manager pulls everything; a rep
# pulls the customers they own or whose territory is one of theirs, with the records
# that point to them (crm_tui.domain.changes.scope_field). Records pointing to no
# customer are seen by all.


def redacted(url: str) -> str:
    """A store URL without its password, for messages and the console."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class StoreError(Exception):
    """A request the store refuses, with a message for the user."""


# The refusals of the reps' administration, the same from both stores, in the
# language of the `crm server` command that asked (the catalog's server.*).

def check_role(role: str) -> None:
    if role not in ROLES:
        raise StoreError(text("server.bad_role", roles=", ".join(f"`{r}`" for r in ROLES), role=f"`{role}`"))


def rep_exists(name: str) -> StoreError:
    return StoreError(text("server.rep_exists", name=name))


def no_rep(name: str) -> StoreError:
    return StoreError(text("server.no_rep", name=name))


class SequenceGap(StoreError):
    """A push that would leave a hole in a node's sequence (a lost or reordered
    batch): the client must resend from `expected`."""

    def __init__(self, node: str, expected: int, got: int):
        super().__init__(text("refusal.request.sequence_gap", node=node, expected=expected, got=got))
        self.expected = expected


class ChangeMismatch(StoreError):
    """A change re-sent under a (node, node_seq) the store holds with another stamp:
    the laptop's database went back in time (restored, copied) and reuses numbers."""


class NodeTaken(StoreError):
    """A node id already bound to another rep."""

    def __init__(self, node: str, owner: str, rep: str):
        super().__init__(text("refusal.request.node_taken", node=node, owner=repr(owner), rep=repr(rep)))


class SchemaTooNew(StoreError):
    """A server database written by a newer crm_tui: opening it could lose data."""

    def __init__(self, found: int, known: int):
        super().__init__(
            f"this server database has schema version {found}, written by a newer crm_tui; this version "
            f"knows up to {known}: upgrade crm_tui on the server (the database was not changed)")


def check_schema_version(found: int, known: int) -> None:
    """Refuse a database newer than this code; the caller migrates an older one."""
    if found > known:
        raise SchemaTooNew(found, known)


# Snapshot bootstrap: a replica pulling from 0 (a new laptop) is served the current
# state of its view, not the whole history: only the changes that still win something
# of a record, then the log after that point. Each store keeps, per record and field,
# the stamp and server sequence of the change that wins it (the rule of
# crm_tui.sync.merge: the greatest (hlc, node)); ALIVE stands for the record's
# existence, set by inserts and deletes, and BORN for the insert that made it (inserts
# only: every edit of the record follows it). Served changes are the stored ones with
# their stamps, so later merges on the laptop stay field-level right.
ALIVE = "*"
BORN = "+"
_SET_BY = {"insert": (ALIVE, BORN), "delete": (ALIVE,), "update": ()}


def held_record(rows: Iterable[tuple[str, int, str, int, str]]) -> HeldRecord | None:
    """A record as the judge sees it (judge.HeldRecord), from its winners joined with
    the log: (field, hlc, node, server_seq, the winning change's data). None for a
    record the store holds no field of."""
    rows = list(rows)
    if not rows:
        return None
    decoded: dict[int, Any] = {}
    out: HeldRecord = {}
    for name, hlc, node, seq, data in rows:
        if name in (ALIVE, BORN):
            continue
        values = decoded.get(seq)
        if values is None:
            values = decoded[seq] = json.loads(data)
        if isinstance(values, dict):
            out[name] = (values.get(name), hlc, node)
    return out


def live_records(rows: Iterable[tuple[str, str, int, str, int, str, str]]) -> dict[str, HeldRecord]:
    """The live records among winners joined with the log, by id: (row_id, field, hlc,
    node, server_seq, the winning change's data, its op). A record lives when the
    change that wins its ALIVE mark is an insert (a delete's tombstone wins otherwise)."""
    fields: dict[str, list[tuple[str, int, str, int, str]]] = {}
    alive: set[str] = set()
    for row_id, name, hlc, node, seq, data, op in rows:
        if name == ALIVE:
            if op == "insert":
                alive.add(row_id)
            continue
        fields.setdefault(row_id, []).append((name, hlc, node, seq, data))
    return {row_id: held_record(fields.get(row_id, ())) or {} for row_id in alive}


def winning_fields(changes: Sequence[WireChange], seqs: Sequence[int]) -> list[tuple[str, str, str, int, str, int]]:
    """(tbl, row_id, field, hlc, node, server_seq) of the changes of one batch that win
    each field within the batch, sorted by key (rows are locked in that order); the
    store keeps each only where it beats the stamp it holds."""
    best: dict[tuple[str, str, str], tuple[int, str, int]] = {}
    for c, seq in zip(changes, seqs, strict=True):
        for name in (*c.data, *_SET_BY[c.op]):
            key = (c.tbl, c.row_id, name)
            held = best.get(key)
            if held is None or (c.hlc, c.node) > held[:2]:
                best[key] = (c.hlc, c.node, seq)
    return [(*k, *v) for k, v in sorted(best.items())]


def snapshot_page(rows: list[StoredChange], wins: Iterable[tuple[int, str]],
                  born: dict[tuple[str, str], tuple[int, str]], node: str | None, seqs: list[int],
                  limit: int, until: int, mark: int, max_bytes: int | None) -> Page:
    """A page of a snapshot for the laptop `node`, which holds nothing of the server
    but its own changes: `seqs` are the winning sequences scanned (up to `limit`),
    `rows` those of them the laptop may see, in order, `wins` (server_seq, field) what
    each edit of `rows` still wins, `born` the stamp of the insert that made the
    record of each edit (its BORN winner, served too); cut after `max_bytes`. Only
    the edits need `wins` and `born` (see `snapshot_edits`): an insert goes out as
    stored.

    Inserts go out whole (a record is created with all its fields). An edit carries
    only the fields it still wins; the edits in between are left out, so each field's
    base is the record's insert (its writer had the record, so it did follow the
    insert), except where the stored base is one of the laptop's own changes, which
    it holds. Without this, an edit and the change it overwrote through an edit since
    superseded would look concurrent to the laptop: a false conflict. A deleted
    record is served like a live one (its insert, the winners of its fields, its
    delete): an edit made after the snapshot is based on those winners."""
    won: dict[int, set[str]] = {}
    for seq, name in wins:
        won.setdefault(seq, set()).add(name)
    out: list[StoredChange] = []
    size = 0
    for i, row in enumerate(rows):
        if row[6] == "insert":
            out.append(row)
        else:
            made = born.get((row[4], row[5]))
            keep = won.get(row[0], set())
            data = {k: v for k, v in json.loads(row[7]).items() if k in keep}
            old = None if row[8] is None else {k: v for k, v in json.loads(row[8]).items() if k in keep}
            held = {} if row[9] is None else json.loads(row[9])
            insert = list(made) if made is not None else None
            base = {}
            for k in data:
                stored = held.get(k)
                if stored and node is not None and stored[1] == node:
                    base[k] = stored
                elif insert is not None:
                    base[k] = insert
                elif stored:  # no insert of it served: its own base, as stored
                    base[k] = stored
            out.append((*row[:7], _json(data), None if old is None else _json(old),
                        _json(base) if base else None, row[10]))
        size += change_size(out[-1])
        if max_bytes is not None and size >= max_bytes and i < len(rows) - 1:
            return Page(out, row[0], mark)
    return Page(out, seqs[-1] if len(seqs) == limit else until, mark)


def snapshot_edits(rows: Sequence[StoredChange]) -> tuple[list[int], list[tuple[str, str]]]:
    """The server sequences of the edits (not inserts) of a snapshot page's `rows`, and
    their records (table, id), sorted: what a store looks up the winners and the BORN
    stamps of. Most of a first sync's changes are inserts, which need neither: looking
    them up for every row read every field's winner of every record served."""
    edits = [r for r in rows if r[6] != "insert"]
    return [r[0] for r in edits], sorted({(r[4], r[5]) for r in edits})


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_or_null(value: object) -> str | None:
    """A stored JSON column: compact text, or NULL for None."""
    return None if value is None else _json(value)


def now_stamp() -> str:
    """The server's UTC time stamp for the rows it writes (received, audited, revoked)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# The columns of the log and of a rep, in the order both stores select them.
LOG_COLUMNS = "server_seq, node, node_seq, hlc, tbl, row_id, op, data, old, base, rep"
REP_COLUMNS = "name, role, created_at, revoked_at, territories"


def rep_from_row(row: Sequence[Any]) -> RepInfo:
    """A rep from a row of REP_COLUMNS (territories stored comma-separated)."""
    return RepInfo(row[0], row[1], row[2], row[3], tuple(t for t in (row[4] or "").split(",") if t))


def split_fresh(node: str, ordered: Sequence[WireChange], last: int) -> tuple[list[WireChange], list[WireChange]]:
    """A node's pushed changes, in node_seq order, as (held, fresh): those at or below
    `last` the server has dealt with already (sent again); the fresh ones must follow
    `last` without a gap, else SequenceGap (the client resends from last + 1)."""
    fresh = [c for c in ordered if c.node_seq > last]
    for expected, change in enumerate(fresh, last + 1):
        if change.node_seq != expected:
            raise SequenceGap(node, last + 1, change.node_seq)
    return list(ordered[:len(ordered) - len(fresh)]), fresh


def resent_refusals(node: str, changes: Sequence[WireChange], held: Mapping[int, int],
                    refused: Mapping[int, Sequence[Any]]) -> list[Refusal]:
    """Changes sent again must be the ones the server holds: `held` node_seq -> hlc of
    those stored, `refused` node_seq -> (node_seq, hlc, tbl, row_id, code, reason) of
    those refused. The refusals among them, to answer again; another change under a
    number already used is ChangeMismatch."""
    again: list[Refusal] = []
    for c in changes:
        if c.node_seq in refused:
            _, hlc, tbl, row_id, code, reason = refused[c.node_seq]
            if hlc != c.hlc:
                raise ChangeMismatch(text("refusal.request.not_the_refused", seq=c.node_seq, node=node))
            again.append(Refusal(c.node_seq, tbl, row_id, code, reason))
        elif held.get(c.node_seq, c.hlc) != c.hlc:
            raise ChangeMismatch(text("refusal.request.not_the_held", seq=c.node_seq, node=node))
    return again


class Limiter(Protocol):
    """A token bucket per rep: `rate` requests a second on average, bursts of `burst`."""

    rate: float

    def allow(self, who: str) -> bool:
        """Take one token if there is one."""

    def exhausted(self, who: str) -> bool:
        """Whether `who` has no token left (taking none)."""


@dataclass(frozen=True)
class RepInfo:
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None
    territories: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def actor(self) -> Actor:
        """Who the rules of crm_tui.domain.changes see making a change."""
        return Actor(self.name, self.role, frozenset(self.territories))


@dataclass(frozen=True)
class PushOutcome:
    accepted: int
    duplicates: int
    acked_seq: int
    # This batch's refused changes, fresh or re-sent, in node_seq order.
    refused: tuple[Refusal, ...] = ()


# Kinds of audit entry.
AUDIT_KINDS = ("auth_failed", "refused", "push", "pull", "rep_added", "rep_readded", "rep_changed", "rep_revoked")


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str  # UTC, ISO 8601
    kind: str
    rep: str | None = None
    node: str | None = None
    address: str | None = None
    count: int | None = None
    detail: str | None = None


# A stored change as the store hands it out: JSON fields stay encoded text so that a
# large pull is not decoded and re-encoded on the server.
# (server_seq, node, node_seq, hlc, tbl, row_id, op, data, old, base, rep)
StoredChange = tuple[int, str, int, int, str, str, str, str, str | None, str | None, str]


@dataclass(frozen=True)
class Page:
    changes: list[StoredChange]
    cursor: int
    watermark: int
    # Customers that left the rep's view (see "view changes" above).
    gone: tuple[str, ...] = ()


class Store(ABC):
    # Who the server is, for good, and its timeline: a restore from a backup starts a
    # new epoch (the server forgot what it was told after the backup).
    server_id: str
    epoch: str

    @abstractmethod
    def add_rep(self, name: str, role: str, token_hash: str, territories: Sequence[str] = ()) -> RepInfo:
        """Register a rep (or give a revoked one a new token)."""

    @abstractmethod
    def list_reps(self) -> list[RepInfo]: ...

    @abstractmethod
    def set_rep(self, name: str, *, role: str | None = None,
                territories: Sequence[str] | None = None) -> RepInfo:
        """Change a rep's role or territories (None keeps it); StoreError if unknown."""

    @abstractmethod
    def revoke_rep(self, name: str) -> bool:
        """Revoke a rep's token; False when there is no such active rep."""

    @abstractmethod
    def rep_for_token(self, token_hash: str) -> RepInfo | None:
        """The rep holding this token (revoked ones too, so the app can say so)."""

    @abstractmethod
    def push(self, rep: RepInfo, node: str, changes: Sequence[WireChange]) -> PushOutcome:
        """Append a node's changes in one transaction, each (node, node_seq) once,
        each judged first (see the push contract above). Changes already held or
        refused are counted as duplicates or returned as refused again (and must carry
        the stamp held, else ChangeMismatch); a batch that does not continue the
        node's sequence raises SequenceGap; a node bound to another rep raises
        NodeTaken."""

    @abstractmethod
    def acked_seq(self, node: str) -> int:
        """The highest sequence of `node` the store holds (0 if none)."""

    @abstractmethod
    def watermark(self) -> int:
        """The commit watermark: every change at or below it is committed."""

    @abstractmethod
    def pull(self, after: int, limit: int, exclude_node: str | None = None,
             rep: RepInfo | None = None, max_bytes: int | None = None, snapshot: bool = False) -> Page:
        """Up to `limit` changes with after < server_seq <= watermark in server order,
        leaving out `exclude_node`'s own, stopping once their stored JSON passes
        `max_bytes` (one change at least). `cursor` is where the next pull starts.
        With a `rep` whose role is "rep", only the changes of records in their view
        (see SCOPE_TABLE), and the view changes (see the contract above). With
        `snapshot` and `after` 0, the laptop `exclude_node` is served the current
        state, up to the watermark of that moment, and its later pulls below that
        point go on with it; a pull from 0 without `snapshot` reads the history."""

    @abstractmethod
    def count(self) -> int:
        """How many changes the log holds."""

    @abstractmethod
    def refused_count(self) -> int:
        """How many pushed changes were refused."""

    @abstractmethod
    def record_audit(self, kind: str, *, rep: str | None = None, node: str | None = None,
                     address: str | None = None, count: int | None = None, detail: Any = None) -> None:
        """Append one audit entry (`detail` is stored as JSON)."""

    @abstractmethod
    def audit(self, *, rep: str | None = None, since: str | None = None, kind: str | None = None,
              limit: int | None = None) -> list[AuditEntry]:
        """Audit entries, oldest first, filtered by rep, kind and time (`since` is an
        ISO date or date and time, UTC)."""

    @abstractmethod
    def schema_version(self) -> int:
        """The version of the server schema this database holds (after migrating)."""

    def erase(self, customer_id: str) -> int:
        """Scrub the personal fields (crm_tui.domain.privacy.scrub_plan) of every log
        entry about a customer and remember them as erased, so later pushes about
        them are stored scrubbed; the freed bytes leave the store. A push carrying a
        manager's erasure does this in its own transaction. The entries scrubbed."""
        raise StoreError(text("server.errors.cannot_erase", store=type(self).__name__))

    @abstractmethod
    def new_timeline(self) -> str:
        """Start a new epoch (after a restore from a backup): a laptop that synced with
        another epoch sends again every change of its own (what the store holds is
        skipped) and reads the log from the start. The new epoch."""

    def shared_limiter(self, rate: float, burst: int, kind: str) -> Limiter | None:
        """A rate limiter kept in the database (`kind` names its buckets), for a store
        that several server processes share, so that their limits add up; None when
        one process's own limiter is enough."""
        return None

    def close(self) -> None:  # noqa: B027 - optional for stores without resources
        pass


# -- view marks: shared by every store ---------------------------------------------------

# View marks are log rows that only one laptop pulls, never a change (a pushed change
# cannot look like one: its node cannot be empty). `row_id` is the customer, `op` the
# kind, `scope` mark_scope(the laptop's node).
MARK_NODE = ""
MARK_TABLE = "~view"
ENTER, LEAVE = "enter", "leave"


def mark_scope(node: str | None) -> str:
    return "~" + (node or "")


def _octets(text: str | None) -> int:
    """The UTF-8 bytes of a stored text: a pull answer is UTF-8, and a Chinese
    character takes three bytes of it, not one."""
    if not text:
        return 0
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def change_size(row: StoredChange) -> int:
    """About the bytes a stored change takes in a pull answer."""
    return 160 + _octets(row[7]) + _octets(row[8]) + _octets(row[9]) + _octets(row[5])


def change_size_sql(octets: str) -> str:
    """change_size in SQL over the log's columns, the same rule; `octets` is the store's
    byte length of a text with `{}` for the column (SQLite 3.40 has no octet_length)."""
    def b(column: str) -> str:
        return octets.format(column)
    return f"160 + {b('data')} + coalesce({b('old')}, 0) + coalesce({b('base')}, 0) + {b('row_id')}"


def enter_marks(entered: Sequence[str], sizes: Iterable[tuple[str, int, int]], until: int,
                max_bytes: int | None) -> list[tuple[str, str]]:
    """(customer_id, data) of the enter marks that bring the `entered` customers'
    history up to `until` (the cursor of the pull that found them entering: their
    later changes come with the log as usual), given (customer_id, server_seq,
    change_size) of each change of it up to there, in order. Each mark brings the
    slice `{"after": a, "upto": b}` of one customer's history; a history over
    `max_bytes` is cut into slices that each fit in a pull's answer."""
    by_customer: dict[str, list[tuple[int, int]]] = {}
    for customer_id, seq, size in sizes:
        by_customer.setdefault(customer_id, []).append((seq, size))
    marks: list[tuple[str, str]] = []
    for customer_id in entered:
        after, total, last = 0, 0, 0
        for seq, size in by_customer.get(customer_id, ()):
            if max_bytes is not None and total and total + size > max_bytes:
                marks.append((customer_id, _json({"after": after, "upto": last})))
                after, total = last, 0
            total += size
            last = seq
        marks.append((customer_id, _json({"after": after, "upto": until})))
    return marks


def view_change(now_visible: Iterable[str], held: Iterable[str]) -> tuple[list[str], list[str]]:
    """(entered, left): the customers of a rep's view that a laptop was not served yet,
    and those it was served that are no longer in the view."""
    now, served = set(now_visible), set(held)
    return sorted(now - served), sorted(served - now)


def view_marks(entered: Sequence[str], left: Sequence[str], after: int,
               sizes: Callable[[], Iterable[tuple[str, int, int]]], max_bytes: int | None) -> list[tuple[str, str, str]]:
    """(customer_id, kind, data) of the marks to log for a view change found at a
    pull from `after`: a leave mark per customer that left; enter marks (see
    enter_marks; `sizes` is read only then) for those that entered behind the
    laptop's cursor. A laptop pulling from 0 gets its whole view by the ordinary pull."""
    marks = [(c, LEAVE, "{}") for c in left]
    if entered and after > 0:
        # A long history comes in slices that each fit in a pull's answer.
        marks += [(c, ENTER, data) for c, data in enter_marks(entered, sizes(), after, max_bytes)]
    return marks


def erasures_accepted(v: Verdicts) -> list[str]:
    """The customers a push erases: its erasures the judge accepted (a manager's)."""
    return [c.row_id for c, _ in v.accepted if c.tbl == ERASURES and c.op == "insert"]


def scrub_erased(accepted: list[tuple[WireChange, str | None]], erased: set[str],
                 plan: Mapping[str, Mapping[str, Any]]) -> list[tuple[WireChange, str | None]]:
    """Changes about an erased customer are kept (their sequence numbers count) but
    stored without the personal data they carry: a late edit never brings a person
    back. `accepted` is (change, scope) in push order."""
    if not erased:
        return accepted
    return [(c.model_copy(update={"data": scrub_fields(c.data, c.tbl, plan),
                                  "old": scrub_fields(c.old, c.tbl, plan)}) if scope in erased else c, scope)
            for c, scope in accepted]


def _slice(data: str, mark_seq: int) -> tuple[int, int]:
    """The history an enter mark brings: server_seq in (after, before). (A mark from
    before slices, `{}`, brings everything before it.)"""
    where = json.loads(data) if data and data != "{}" else {}
    upto = where.get("upto")
    # A pull may have claimed any cursor up to 2**63-1 (the protocol's bound): one
    # past it is no integer the store takes, and no server_seq lies beyond it.
    return int(where.get("after", 0)), mark_seq if upto is None else min(int(upto) + 1, INT64_MAX)


def assemble_page(rows: Sequence[StoredChange], after: int, limit: int, mark: int, max_bytes: int | None,
                  history: Callable[[str, int, int], Sequence[StoredChange]]) -> Page:
    """The page of `rows` (read from the log in order, at most `limit`, below the
    watermark `mark`): changes up to `max_bytes`, view marks turned into the history
    of entering customers (`history(customer_id, after_seq, before_seq)`, every
    node's changes of that customer in the mark's slice, see `enter_marks`) and
    `gone`. A page holds marks of one kind only, so a laptop applies its changes,
    then removes what is gone, and nothing that re-entered is removed by mistake.
    A change or slice that would take the page over `max_bytes` waits for the next
    page, unless the page is still empty (a cursor always moves)."""
    out: list[StoredChange] = []
    backfill: dict[int, StoredChange] = {}
    sent: set[int] = set()
    gone: list[str] = []
    size, cursor = 0, None
    for row in rows:
        seq, node, op, row_id = row[0], row[1], row[6], row[5]
        if node == MARK_NODE:
            if (op == LEAVE and backfill) or (op == ENTER and gone):
                break
            if op == LEAVE:
                gone.append(row_id)
            else:
                past = [p for p in history(row_id, *_slice(row[7], seq)) if p[0] not in backfill and p[0] not in sent]
                more = sum(map(change_size, past))
                if cursor is not None and max_bytes is not None and size + more > max_bytes:
                    break
                backfill.update((p[0], p) for p in past)
                size += more
        elif seq not in backfill:
            more = change_size(row)
            if cursor is not None and max_bytes is not None and size + more > max_bytes:
                break
            out.append(row)
            sent.add(seq)
            size += more
        cursor = seq
        if max_bytes is not None and size >= max_bytes:
            break
    else:
        cursor = rows[-1][0] if len(rows) == limit else max(mark, after)
    changes = [*sorted(backfill.values()), *out]
    return Page(changes, after if cursor is None else cursor, mark, tuple(gone))


def audit_query(mark: str, *, rep: str | None, since: str | None, kind: str | None,
                limit: int | None) -> tuple[str, list[str]]:
    """The SQL and parameters of an audit read, for a store whose placeholder is `mark`
    (`?` or `%s`): one filter rule for every store."""
    where, params = [], []
    for column, value in (("rep =", rep), ("at >=", since), ("kind =", kind)):
        if value is not None:
            where.append(f"{column} {mark}")
            params.append(value)
    sql = "SELECT id, at, kind, rep, node, address, count, detail FROM audit"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params
