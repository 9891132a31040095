"""The interface every server store implements (SQLite now, PostgreSQL next). The
app above it holds no storage-specific logic: it authenticates, checks clocks and
protocol, and calls these methods.

Contract of the log (DESIGN invariant 7): append-only; each change gets a server
sequence when stored; `pull` returns only changes at or below the commit watermark,
the highest sequence below which every change is committed. With several writers
(PostgreSQL) sequences can commit out of order, so the watermark is not simply
max(seq): a store must compute it so that a cursor never skips a change that
commits later. The SQLite store has one writer, so its watermark is max(seq) read in
the same read transaction as the page."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from crm_tui.sync.protocol import WireChange

ROLES = ("rep", "manager")

# Visibility: a customer is the unit a rep may see. A manager pulls everything; a rep
# pulls the customers they own or whose territory is one of theirs, with the records
# that point to them (their `customer_id`). Records pointing to no customer are seen
# by all.
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


@dataclass(frozen=True)
class PushOutcome:
    accepted: int
    duplicates: int
    acked_seq: int


# A stored change as the store hands it out: JSON fields stay encoded text so that a
# large pull is not decoded and re-encoded on the server.
# (server_seq, node, node_seq, hlc, tbl, row_id, op, data, old, base, rep)
StoredChange = tuple[int, str, int, int, str, str, str, str, str | None, str | None, str]


@dataclass(frozen=True)
class Page:
    changes: list[StoredChange]
    cursor: int
    watermark: int
    # Customers came into the rep's view whose past lies behind the cursor: pull
    # again from 0 (what the client holds already is skipped as duplicates).
    reset: bool = False


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
    def push(self, rep: str, node: str, changes: Sequence[WireChange]) -> PushOutcome:
        """Append a node's changes in one transaction, each (node, node_seq) once.
        Changes already held are counted as duplicates (and must carry the stamp
        held, else ChangeMismatch); a batch that does not continue the node's
        sequence raises SequenceGap; a node bound to another rep raises NodeTaken."""

    @abstractmethod
    def acked_seq(self, node: str) -> int:
        """The highest sequence of `node` the store holds (0 if none)."""

    @abstractmethod
    def watermark(self) -> int:
        """The commit watermark: every change at or below it is committed."""

    @abstractmethod
    def pull(self, after: int, limit: int, exclude_node: str | None = None,
             rep: RepInfo | None = None) -> Page:
        """Up to `limit` changes with after < server_seq <= watermark in server order,
        leaving out `exclude_node`'s own. `cursor` is where the next pull starts.
        With a `rep` whose role is "rep", only the changes of records in their view
        (see SCOPE_TABLE); when customers entered the view since the rep's last pull
        and `after` > 0, an empty page with `reset` set."""

    @abstractmethod
    def count(self) -> int:
        """How many changes the log holds."""

    @abstractmethod
    def schema_version(self) -> int:
        """The version of the server schema this database holds (after migrating)."""

    def close(self) -> None:  # noqa: B027 - optional for stores without resources
        pass
