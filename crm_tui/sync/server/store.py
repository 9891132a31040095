"""The interface every server store implements (SQLite now, PostgreSQL next). The
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

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crm_tui.domain.changes import Actor
from crm_tui.sync.protocol import WireChange
from crm_tui.sync.server.judge import Refusal

ROLES = ("rep", "manager")

# Visibility: a customer is the unit a rep may see. A manager pulls everything; a rep
# pulls the customers they own or whose territory is one of theirs, with the records
# that point to them (crm_tui.domain.changes.scope_field). Records pointing to no
# customer are seen by all.
SCOPE_TABLE = "customers"
SCOPE_FIELD = "customer_id"


class StoreError(Exception):
    """A request the store refuses, with a message for the user."""


class SequenceGap(StoreError):
    """A push that would leave a hole in a node's sequence (a lost or reordered
    batch): the client must resend from `expected`."""

    def __init__(self, node: str, expected: int, got: int):
        super().__init__(f"node {node}: expected change {expected} next, got {got}; resend from {expected}")
        self.expected = expected


class ChangeMismatch(StoreError):
    """A change re-sent under a (node, node_seq) the store holds with another stamp:
    the laptop's database went back in time (restored, copied) and reuses numbers."""


class NodeTaken(StoreError):
    """A node id already bound to another rep."""


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
    server_id: str

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
             rep: RepInfo | None = None, max_bytes: int | None = None) -> Page:
        """Up to `limit` changes with after < server_seq <= watermark in server order,
        leaving out `exclude_node`'s own, stopping once their stored JSON passes
        `max_bytes` (one change at least). `cursor` is where the next pull starts.
        With a `rep` whose role is "rep", only the changes of records in their view
        (see SCOPE_TABLE), and the view changes (see the contract above)."""

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
        raise StoreError(f"{type(self).__name__} cannot erase yet")

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


def change_size(row: StoredChange) -> int:
    """About the bytes a stored change takes in a pull answer."""
    return 160 + len(row[7]) + len(row[8] or "") + len(row[9] or "") + len(row[5])


def assemble_page(rows: Sequence[StoredChange], after: int, limit: int, mark: int, max_bytes: int | None,
                  history: Callable[[str, int], Sequence[StoredChange]]) -> Page:
    """The page of `rows` (read from the log in order, at most `limit`, below the
    watermark `mark`): changes up to `max_bytes`, view marks turned into the history
    of entering customers (`history(customer_id, before_seq)`, every node's changes
    of that customer before the mark) and `gone`. A page holds marks of one kind
    only, so a laptop applies its changes, then removes what is gone, and nothing
    that re-entered is removed by mistake."""
    out: list[StoredChange] = []
    backfill: dict[int, StoredChange] = {}
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
                for past in history(row_id, seq):
                    backfill[past[0]] = past
                    size += change_size(past)
        elif seq not in backfill:
            out.append(row)
            size += change_size(row)
        cursor = seq
        if max_bytes is not None and size >= max_bytes:
            break
    else:
        cursor = rows[-1][0] if len(rows) == limit else max(mark, after)
    changes = [*sorted(backfill.values()), *out]
    return Page(changes, after if cursor is None else cursor, mark, tuple(gone))
