"""The server's verdict on each change of a push, in order: valid (crm_tui.domain.changes
`check_change`, references included, and `check_state` for the record an edit leaves)
and allowed for the pushing rep (`check_access`), against what the server holds plus
what the same push accepted before it. Pure apart from the three lookups a store
hands in, so that every store (SQLite, PostgreSQL) runs the same rules inside its own
transaction and only persists what this decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from crm_tui.domain.changes import (
    CUSTOMERS,
    INVALID,
    Actor,
    ChangeRefused,
    Place,
    check_access,
    check_change,
    check_referenced,
    check_state,
    is_rep_scope,
    refused,
    rep_scope_of,
    said,
    scope_field,
    synced_entity,
)
from crm_tui.domain.record_rules import REFERENCE_RULES, STATE_RULES
from crm_tui.i18n import entity_name, field_label
from crm_tui.sync.protocol import WireChange

# How a store reports a customer it holds: owner and territory, each with the clock
# stamp of the change that set it (the later stamp wins, as on every laptop).
PlaceRow = tuple[str | None, int, str | None, int]
# How a store reports a record it holds: field -> (value, hlc, node) of the change
# that wins it (crm_tui.sync.merge's rule: the greatest (hlc, node)).
HeldRecord = dict[str, tuple[Any, int, str]]
# The kinds whose records a push's judge follows from change to change: those with a
# state rule, and those a rule between two records reads (a sale and its refunds).
_FOLLOWED = frozenset(STATE_RULES) | frozenset(REFERENCE_RULES) | frozenset(r[1] for r in REFERENCE_RULES.values())


@dataclass(frozen=True)
class Refusal:
    """A refused change. `reason` goes to the rep who pushed it and may quote a value;
    a store keeps `kept` (the reason without any value of the change: its audit and
    its refusals hold no personal data), which is also what a re-sent batch is told."""

    node_seq: int
    tbl: str
    row_id: str
    code: str
    reason: str
    kept: str = ""

    def __post_init__(self) -> None:
        if not self.kept:
            object.__setattr__(self, "kept", self.reason)


@dataclass
class Verdicts:
    """What a store persists after judging a push: the customer of each accepted
    change (None for a record of no customer), new rows' customers, customers' new
    places, and the customers their rep created (and so holds already)."""

    accepted: list[tuple[WireChange, str | None]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    row_scopes: dict[tuple[str, str], str] = field(default_factory=dict)
    places: dict[str, PlaceRow] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)


class Judge:
    """Judges one push. `place_of(customer_id)` is the store's PlaceRow or None;
    `scope_of(tbl, row_id)` the customer a stored record belongs to, '' for a stored
    record of no customer, None for a record the store does not hold;
    `record_of(tbl, row_id)` a stored record's fields as a HeldRecord, None when the
    store holds none (asked only of the kinds with a state rule, on an edit)."""

    def __init__(self, actor: Actor, place_of: Callable[[str], PlaceRow | None],
                 scope_of: Callable[[str, str], str | None],
                 record_of: Callable[[str, str], HeldRecord | None]):
        self.actor = actor
        self._place_of, self._scope_of, self._record_of = place_of, scope_of, record_of
        self._records: dict[tuple[str, str], HeldRecord] = {}  # as this push left them
        self.out = Verdicts()

    def _place_row(self, customer_id: str) -> PlaceRow | None:
        if customer_id in self.out.places:
            return self.out.places[customer_id]
        return self._place_of(customer_id)

    def place(self, customer_id: str) -> Place | None:
        row = self._place_row(customer_id)
        return None if row is None else Place(row[0] or None, row[2] or None)

    def scope(self, tbl: str, row_id: str) -> str | None:
        key = (tbl, row_id)
        if key in self.out.row_scopes:
            return self.out.row_scopes[key]
        return self._scope_of(tbl, row_id)

    def exists(self, tbl: str, row_id: str) -> bool:
        if tbl == CUSTOMERS:
            return self._place_row(row_id) is not None
        return self.scope(tbl, row_id) is not None

    def customer_of(self, tbl: str, row_id: str) -> str | None:
        scope = self.scope(tbl, row_id)
        return None if not scope or is_rep_scope(scope) else scope

    def judge(self, c: WireChange) -> Refusal | None:
        """Accept or refuse `c`; an accepted change counts for the ones after it."""
        try:
            check_change(c.tbl, c.op, c.row_id, c.data, old=c.old, base=c.base, exists=self.exists,
                         customer_of=self.customer_of)
            if c.op != "insert" and not self.exists(c.tbl, c.row_id):
                # A laptop cannot apply an edit of a record it never received.
                raise refused(INVALID, said("refusal.no_such_record_on_server",
                                            kind=partial(entity_name, synced_entity(c.tbl)), id=c.row_id[:26]))
            after = self._after(c) if c.tbl in _FOLLOWED and c.op != "delete" else None
            if after is not None and ((c.op == "update" and c.tbl in STATE_RULES) or c.tbl in REFERENCE_RULES):
                # An edit is judged by the record it leaves, as a local edit is.
                values = {k: v for k, (v, _, _) in after.items()}
                if c.op == "update":
                    check_state(c.tbl, values)
                check_referenced(c.tbl, values, self._values)
            self._check_rep_kept(c)
            check_access(self.actor, c.tbl, c.op, c.row_id, c.data, place=self.place, customer_of=self.customer_of)
        except ChangeRefused as exc:
            refusal = Refusal(c.node_seq, c.tbl[:64], c.row_id[:64], exc.code, exc.reason, exc.kept)
            self.out.refused.append(refusal)
            return refusal
        self.out.accepted.append((c, self._note(c)))
        if after is not None:
            self._records[(c.tbl, c.row_id)] = after
        return None

    def _values(self, tbl: str, row_id: str) -> dict[str, Any] | None:
        """A record's values as the server holds it after this push so far; None
        when it holds none."""
        held = self._records.get((tbl, row_id))
        if held is None:
            held = self._record_of(tbl, row_id)
        return None if held is None else {k: v for k, (v, _, _) in held.items()}

    def _after(self, c: WireChange) -> HeldRecord:
        """The record as `c` leaves it: the held one, with each value of `c` that wins
        its field (a stale edit's values lose on every laptop, and here too)."""
        key = (c.tbl, c.row_id)
        held = self._records.get(key)
        if held is None:
            held = (self._record_of(c.tbl, c.row_id) if c.op != "insert" or self.exists(c.tbl, c.row_id)
                    else None) or {}
        after = dict(held)
        for name, value in c.data.items():
            won = after.get(name)
            if won is None or (c.hlc, c.node) > (won[1], won[2]):
                after[name] = (value, c.hlc, c.node)
        return after

    def _check_rep_kept(self, c: WireChange) -> None:
        """A rep's record (a target) keeps its rep: the laptops that hold it are that
        rep's, so moving it to another would leave its history behind them."""
        ent = synced_entity(c.tbl)
        scope = rep_scope_of(ent, c.data)
        held = self.scope(c.tbl, c.row_id)
        if scope is not None and held is not None and scope != held:
            raise refused(INVALID, said("refusal.rep_kept", field=partial(field_label, ent, ent.rep_field or ""),
                                        kind=partial(entity_name, ent)))

    def _note(self, c: WireChange) -> str | None:
        """Keep track of what `c` changes about visibility; its customer."""
        if c.tbl == CUSTOMERS:
            row = self._place_row(c.row_id)
            if row is None:
                row = (None, 0, None, 0)
                if c.op == "insert":
                    self.out.created.append(c.row_id)
            owner, owner_hlc, territory, territory_hlc = row
            if "owner" in c.data and c.hlc > owner_hlc:
                owner, owner_hlc = c.data["owner"] or None, c.hlc
            if "territory" in c.data and c.hlc > territory_hlc:
                territory, territory_hlc = c.data["territory"] or None, c.hlc
            self.out.places[c.row_id] = (owner, owner_hlc, territory, territory_hlc)
            return c.row_id
        ent = synced_entity(c.tbl)
        link = scope_field(ent)
        key = (c.tbl, c.row_id)
        rep = rep_scope_of(ent, c.data)
        if rep is not None:
            # A rep's target: seen by that rep and the managers (everyone for the team's).
            self.out.row_scopes[key] = rep
        elif link is not None and c.data.get(link.name):
            # A record belongs to the customer its latest change names.
            self.out.row_scopes[key] = str(c.data[link.name])
        elif self.scope(c.tbl, c.row_id) is None:
            self.out.row_scopes[key] = ""
        return self.scope(c.tbl, c.row_id) or None
