"""The server's verdict on each change of a push, in order: valid (crm_tui.domain.changes
`check_change`, references included, and `check_state` for the record an edit leaves),
keeping the rules across a customer's orders that every laptop keeps on its writes
(crm_tui.domain.orders: all of a sale's refunds within it, what a refund takes back
on its sale), and allowed for the pushing rep (`check_access`), against what the
server holds plus what the same push accepted before it; then, at the push's end,
each order and quotation it changed has the amount its lines come to (`judge_all`).
Pure apart from the four lookups a store hands in, so that every store (SQLite,
PostgreSQL) runs the same rules inside its own transaction and only persists what
this decides."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from crm_tui.domain import orders as order_rules
from crm_tui.domain.changes import (
    CUSTOMERS,
    INVALID,
    Actor,
    ChangeRefused,
    Place,
    check_access,
    check_change,
    check_referenced,
    check_rule,
    check_state,
    is_rep_scope,
    refused,
    rep_scope_of,
    said,
    scope_field,
    synced_entity,
)
from crm_tui.domain.entities import ENTITIES
from crm_tui.domain.record_rules import REFERENCE_RULES, STATE_RULES, TOTALS
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
ORDERS, LINES = "orders", "order_lines"
# The kinds whose records the judge counts per customer as the push leaves them (a
# sale's refunds and lines, an order's or quotation's lines for its total).
_COUNTED = frozenset({ORDERS, LINES}) | frozenset(TOTALS) | frozenset(lines for lines, _ in TOTALS.values())
_FOLLOWED = (frozenset(STATE_RULES) | frozenset(REFERENCE_RULES) | frozenset(r[1] for r in REFERENCE_RULES.values())
             | _COUNTED)
# A lines kind -> (the kind whose total its lines make, the field naming that record).
_TOTAL_OF = {lines: (kind, link) for kind, (lines, link) in TOTALS.items()}


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
    store holds none (asked only of the kinds with a state rule, on an edit);
    `records_in(tbl, customer_id)` the live records of a kind the store holds about a
    customer, by id (asked of orders and their lines, once per customer and push)."""

    def __init__(self, actor: Actor, place_of: Callable[[str], PlaceRow | None],
                 scope_of: Callable[[str, str], str | None],
                 record_of: Callable[[str, str], HeldRecord | None],
                 records_in: Callable[[str, str], dict[str, HeldRecord]]):
        self.actor = actor
        self._place_of, self._scope_of, self._record_of = place_of, scope_of, record_of
        self._records_in = records_in
        self._records: dict[tuple[str, str], HeldRecord] = {}  # as this push left them
        self._held: dict[tuple[str, str], HeldRecord] = {}  # as the store holds them (records_in)
        self._books: dict[tuple[str, str], set[str]] = {}  # (kind, customer) -> ids the store holds
        self._added: dict[tuple[str, str], set[str]] = {}  # (kind, customer) -> ids this push wrote
        self._deleted: set[tuple[str, str]] = set()  # records this push deleted
        # (kind, id) of an order or quotation -> the accepted changes of its amount or lines
        self._totals: dict[tuple[str, str], list[WireChange]] = {}
        self.out = Verdicts()

    def judge_all(self, changes: Sequence[WireChange]) -> Verdicts:
        """Judge a push's changes in order, then the orders and quotations whose amount
        or lines it changed, each as the whole push leaves it: its amount is what its
        lines come to (crm_tui.domain.orders.check_total). A laptop writes an order
        and its lines in one transaction and never cuts a push between them (crm_tui.
        api.sync), so only the push's end shows whether the lines are all there. One
        that disagrees is refused with every change of its amount and lines in the
        push, and the push judged again without them (what named them is then refused
        in turn); at most once per change."""
        refused: dict[int, Refusal] = {}
        for _ in range(len(changes) + 1):
            self._records, self._added, self._deleted, self._totals = {}, {}, set(), {}
            self.out = Verdicts()
            for c in changes:
                if c.node_seq in refused:
                    self.out.refused.append(refused[c.node_seq])
                else:
                    self.judge(c)
            more = self._check_totals()
            if not more:
                break
            refused.update(more)
        return self.out

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
            if c.tbl in (ORDERS, LINES):
                self._check_orders(c, None if after is None else {k: v for k, (v, _, _) in after.items()})
            self._check_rep_kept(c)
            check_access(self.actor, c.tbl, c.op, c.row_id, c.data, place=self.place, customer_of=self.customer_of)
        except ChangeRefused as exc:
            refusal = Refusal(c.node_seq, c.tbl[:64], c.row_id[:64], exc.code, exc.reason, exc.kept)
            self.out.refused.append(refusal)
            return refusal
        customer = self._note(c)
        self.out.accepted.append((c, customer))
        if c.tbl in _TOTAL_OF or c.tbl in TOTALS:
            self._note_total(c, after)
        if after is not None:
            self._records[(c.tbl, c.row_id)] = after
        if c.tbl in _COUNTED:
            if c.op == "delete":
                self._deleted.add((c.tbl, c.row_id))
            elif customer:
                self._deleted.discard((c.tbl, c.row_id))
                self._added.setdefault((c.tbl, customer), set()).add(c.row_id)
        return None

    # -- an order's (a quotation's) amount and its lines --------------------------------

    def _note_total(self, c: WireChange, after: HeldRecord | None) -> None:
        """Remember `c` (accepted) with the order or quotation whose amount or lines it
        changes: its amount written, a line added or deleted, a line's amount or
        order changed (both orders: the one it leaves and the one it joins)."""
        if c.tbl in TOTALS:
            if c.op == "insert" or "amount" in c.data:
                self._totals.setdefault((c.tbl, c.row_id), []).append(c)
            return
        kind, link = _TOTAL_OF[c.tbl]
        if c.op == "update" and "amount" not in c.data and link not in c.data:
            return
        named = set()
        before = self._values(c.tbl, c.row_id) if c.op != "insert" else None
        for values in (before, None if after is None else {k: v for k, (v, _, _) in after.items()}):
            if values is not None and isinstance(values.get(link), str):
                named.add(values[link])
        for record_id in sorted(named):
            self._totals.setdefault((kind, record_id), []).append(c)

    def _check_totals(self) -> dict[int, Refusal]:
        """The refusals of the changes of every order or quotation this push leaves
        with an amount that is not what its lines come to."""
        refused: dict[int, Refusal] = {}
        pushed: dict[tuple[str, Any], dict[str, dict[str, Any]]] = {}  # the push's live lines by what they name
        for (tbl, line_id), after in self._records.items():
            if tbl in _TOTAL_OF and (tbl, line_id) not in self._deleted:
                values = {k: v for k, (v, _, _) in after.items()}
                pushed.setdefault((tbl, values.get(_TOTAL_OF[tbl][1])), {})[line_id] = values
        for (kind, record_id), changes in sorted(self._totals.items()):
            customer = self.customer_of(kind, record_id)
            record = self._values(kind, record_id)
            if (kind, record_id) in self._deleted or record is None or not customer:
                continue  # a deleted one has no total to keep; a refused one none either
            lines_kind, link = TOTALS[kind]
            # The lines the server holds (none of a record new in this push: a line names a
            # record it holds), and those the push leaves, under another customer too.
            lines = {} if self._scope_of(kind, record_id) is None else {
                i: v for i, v in self._live(lines_kind, customer) if v.get(link) == record_id}
            lines.update(pushed.get((lines_kind, record_id), {}))
            rule = partial(_check_total, entity_name(synced_entity(kind)), record_id, list(lines.values()))
            try:
                check_rule(kind, rule, record)
            except ChangeRefused as exc:
                for c in changes:
                    refused.setdefault(c.node_seq, Refusal(c.node_seq, c.tbl[:64], c.row_id[:64], exc.code,
                                                           exc.reason, exc.kept))
        return refused

    # -- the rules across a customer's orders (crm_tui.domain.orders) ------------------

    def _live(self, tbl: str, customer: str) -> list[tuple[str, dict[str, Any]]]:
        """The live records of `tbl` about `customer` as this push leaves them so far."""
        key = (tbl, customer)
        if key not in self._books:
            held = self._records_in(tbl, customer)
            self._held.update(((tbl, row_id), record) for row_id, record in held.items())
            self._books[key] = set(held)
        found = []
        for row_id in sorted(self._books[key] | self._added.get(key, set())):
            if (tbl, row_id) in self._deleted or self.customer_of(tbl, row_id) != customer:
                continue
            values = self._values(tbl, row_id)
            if values is not None:
                found.append((row_id, values))
        return found

    def _refunds(self, sale_id: str, customer: str) -> list[tuple[str, dict[str, Any]]]:
        return [(i, o) for i, o in self._live(ORDERS, customer) if o.get("refund_of") == sale_id]

    def _check_orders(self, c: WireChange, values: dict[str, Any] | None) -> None:
        """What `c` leaves of a customer's orders keeps the rules every laptop's writes
        keep (crm_tui.api.records WRITTEN_RULES, crm_tui.api.orders.refund): a sale
        deleted leaves no refund; all of a sale's refunds (not cancelled) come to no
        more than it (a refund written, or its sale changed); a refund's lines take
        back only products of its sale, no more of each than is not refunded yet.
        Judged with the records the server holds and this push's earlier changes."""
        if c.tbl == ORDERS and c.op == "delete":
            customer = self.customer_of(ORDERS, c.row_id)
            if customer:
                left = [i for i, _ in self._refunds(c.row_id, customer)]
                check_rule(ORDERS, lambda _: order_rules.check_sale_deleted(left), {})
            return
        if values is None:
            return
        if c.tbl == ORDERS:
            self._check_refunds(c.row_id, values)
        else:
            self._check_returns(c.row_id, values)

    def _check_refunds(self, order_id: str, order: dict[str, Any]) -> None:
        if not order.get("refund_of") and not self.exists(ORDERS, order_id):
            return  # a new sale: no refund can name it yet
        sale_id = order.get("refund_of") or order_id
        sale = order if sale_id == order_id else self._values(ORDERS, str(sale_id))
        customer = (sale or {}).get("customer_id")
        if sale is None or not isinstance(customer, str) or not _is_number(sale.get("amount")):
            return  # a refund's reference rule says what is wrong with its sale
        refunds = dict(self._refunds(sale_id, customer))
        if order_id != sale_id:
            refunds[order_id] = order
        counted = [r["amount"] for r in refunds.values() if r.get("status") != "cancelled" and _is_number(r.get("amount"))]
        if not counted:
            return
        total = float(sum(counted))
        check_rule(ORDERS, lambda _: order_rules.check_refunds(
            [(str(sale_id), float(sale["amount"]), sale.get("refund_of"), sale.get("status"), total)]), order)

    def _check_returns(self, line_id: str, line: dict[str, Any]) -> None:
        order_id = line.get("order_id")
        refund = self._values(ORDERS, order_id) if isinstance(order_id, str) else None
        if refund is None or not refund.get("refund_of") or refund.get("status") == "cancelled":
            return
        sale_id = str(refund["refund_of"])
        customer = self.customer_of(ORDERS, sale_id)
        if not customer:
            return
        lines = [(i, v) for i, v in self._live(LINES, customer) if _is_line(v)]
        sold = [v for _, v in lines if v.get("order_id") == sale_id]
        if not sold:
            return  # a sale pushed without lines, or whose lines are still to come: its amount bounds its refunds
        others = {i for i, o in self._refunds(sale_id, customer) if i != order_id and o.get("status") != "cancelled"}
        returned: dict[str, float] = {}
        for _, v in lines:
            if v.get("order_id") in others:
                returned[v["product"]] = returned.get(v["product"], 0.0) + float(v["quantity"])
        mine = [v for i, v in lines if v.get("order_id") == order_id and i != line_id] + [line]
        if _is_line(line):
            check_rule(LINES, lambda _: order_rules.check_returns(mine, sold, returned, sale_id), line)

    def _values(self, tbl: str, row_id: str) -> dict[str, Any] | None:
        """A record's values as the server holds it after this push so far; None
        when it holds none."""
        held = self._records.get((tbl, row_id)) or self._held.get((tbl, row_id))
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


def concerned(changes: Sequence[WireChange]) -> tuple[set[str], set[tuple[str, str]]]:
    """What a push's judge weighs against other records the store holds (the kinds it
    follows: a record an edit leaves, a sale's refunds and lines), for a store that
    must keep other pushes from changing those meanwhile: the customers such changes
    name (their customer_id), and the records whose customer the store knows (each
    such changed record, and every record one names: a refund's sale, a line's
    order), as (table, id)."""
    customers: set[str] = set()
    records: set[tuple[str, str]] = set()
    for c in changes:
        if c.tbl not in _FOLLOWED:
            continue
        records.add((c.tbl, c.row_id))
        for f in ENTITIES[c.tbl].fields:
            value = c.data.get(f.name)
            if f.kind == "ref" and f.ref and isinstance(value, str):
                if f.ref == CUSTOMERS:
                    customers.add(value)
                else:
                    records.add((f.ref, value))
    return customers, records


def _check_total(kind: str, record_id: str, lines: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> None:
    order_rules.check_total(kind, record_id, record.get("amount"), lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_line(values: Mapping[str, Any]) -> bool:
    """A line the rule of returns can weigh: a product and a quantity (a value's own
    rule refuses anything else)."""
    return isinstance(values.get("product"), str) and _is_number(values.get("quantity"))
