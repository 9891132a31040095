"""Create, read, update, delete and search one kind of record, with validation on
every path. Returns plain dicts keyed by field name."""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from crm_tui.db import privacy as privacy_sql
from crm_tui.db import records as sql
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain import orders as order_rules
from crm_tui.domain.entities import ENTITIES, Entity, Field, derive, record_columns, stored_columns
from crm_tui.domain.privacy import PRIVACY_KINDS
from crm_tui.domain.record_rules import STATE_RULES, TOTALS, UPDATE_RULES, VALUE_RULES
from crm_tui.domain.search import normalize_query
from crm_tui.domain.times import stamp_of_local
from crm_tui.domain.validation import FieldError, ValidationError, clean, clean_value, normalize_datetime
from crm_tui.i18n import entity_label, entity_name, t

Record = dict[str, Any]


class NotFound(LookupError):
    pass


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def local_now() -> dt.datetime:
    """User-facing date-times are local wall time (see docs/architecture.md); the
    default clock of `Crm.now`."""
    return dt.datetime.now().replace(microsecond=0)


def new_id() -> str:
    from ulid import ULID  # reads its package metadata on import: only when a record is made

    return str(ULID())


# Crockford's base32, which ULIDs are written in, and every pair of its digits (10 bits).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


def new_ids(count: int) -> list[str]:
    """`count` new ids of the form `new_id` makes (ULIDs: 48 bits of milliseconds,
    80 random bits), made together for a bulk write: the ids of one batch share the
    millisecond and count up from one random start, as a monotonic ULID factory
    makes them within a millisecond, so they sort in the order they were made."""
    if count <= 0:
        return []
    ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    start = int.from_bytes(os.urandom(10), "big") >> 1  # room to count up without overflowing 80 bits
    return ulids_from((ms << 80) | start, count)


def ulids_from(first: int, count: int) -> list[str]:
    """The ULIDs of the 128-bit numbers first, first + 1, ... (count of them). A
    ULID is 26 digits of 5 bits; consecutive numbers differ in the last four digits
    (20 bits) but once in a million, so the first 22 are written once per block of
    2**20 and each id adds two pairs of digits: ~0.3 µs an id, where encoding each
    (or all with base64.b32encode, Python code in 3.11) cost 5 µs."""
    ids: list[str] = []
    value, end = first, first + count
    while value < end:
        high, low = value >> 20, value & 0xFFFFF
        prefix = "".join(_CROCKFORD[(high >> shift) & 31] for shift in range(105, -1, -5))
        stop = min(end - value, (1 << 20) - low) + low
        ids += [prefix + _PAIRS[n >> 10] + _PAIRS[n & 1023] for n in range(low, stop)]
        value += stop - low
    return ids


# FIELD, then the first operator after it (two-character ones first), then the value,
# which may itself hold operator characters: 'notes~a=b' is notes contains 'a=b'.
_STAMPS = ("created_at", "updated_at")  # the system's UTC stamps (domain/times.py)
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|<=|>=|=|<|>|~)(.*)$", re.DOTALL)


def parse_filter(ent: Entity, text: str) -> Filter:
    """'region=华东', 'tier!=C', 'name~张', 'amount>=100' -> a validated Filter.
    'FIELD=' and 'FIELD!=' mean "has no value" and "has a value"; the other
    operators need a value."""
    match = _CONDITION.match(text)
    if not match:
        raise ValidationError.one(text, t("reason.query.not_a_condition"))
    name, op, raw = match.group(1), match.group(2), match.group(3)
    if name not in record_columns(ent):
        raise ValidationError.one(name, t("validation.unknown_field", kind=entity_name(ent)))
    value: Any = raw.strip()
    if value == "" and op not in ("=", "!="):
        raise ValidationError.one(name, t("reason.query.needs_value", text=repr(text.strip()), op=op))
    if name in ent.field_names and op != "~" and value != "" and name != "tags":
        try:
            value = clean_value(ent.field(name), value)
        except ValueError as exc:
            raise ValidationError.one(name, str(exc)) from None
    elif name in _STAMPS and op != "~" and value != "":
        # Stored in UTC, read in local time: compared with the UTC of the local time
        # given (in Shanghai, a customer made at 07:30 on 12-02 was "before 12-02").
        try:
            value = stamp_of_local(normalize_datetime(value))
        except ValueError as exc:
            raise ValidationError.one(name, str(exc)) from None
    return Filter(name, op, None if value == "" else value)


# The records named alike that a lookup by name lists before it asks for an id.
_NAMESAKES_SHOWN = 5

class Records:
    """The use cases of one record kind. Shared by the UI, the CLI and scripts."""

    def __init__(self, conn: sqlite3.Connection, ent: Entity, lock: threading.RLock):
        self.conn = conn
        self.entity = ent
        self._lock = lock
        self._last_total: tuple[tuple[Filter, ...], str | None, tuple[int, int], int] | None = None
        # The reference fields, found once: an import checks them row by row.
        self._refs = tuple(f for f in ent.fields if f.kind == "ref")
        self._refs_lists = tuple(f.name for f in ent.fields if f.kind == "refs")
        # Called before lists and counts: brings computed fields (a customer's
        # classes) up to date, so a filter on them sees what `crm classify` computes.
        self.before_read: Callable[[], Any] | None = None
        self._deferred: list[tuple[Sequence[Mapping[str, Any]], str]] | None = None  # see `rules_at_end`

    # -- reading -----------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        """A record by id, or by a unique prefix of its id (at least 6 characters), or,
        for a kind of record with a name, by its exact name when no other has it: what
        a user types for a customer (`--customer 张伟`) is its name more often than its id."""
        self._before_read()
        return self._get(record_id)

    def _get(self, record_id: str) -> Record:
        with self._lock:
            record = sql.get(self.conn, self.entity, record_id)
            if record is None and len(record_id) >= 6:
                matches = sql.ids_with_prefix(self.conn, self.entity, record_id.upper())
                if len(matches) == 1:
                    record = sql.get(self.conn, self.entity, matches[0])
                elif len(matches) > 1:
                    raise NotFound(t("reason.record.ambiguous_id", id=repr(record_id), kind=entity_name(self.entity)))
            if record is None and "name" in self.entity.field_names and record_id.strip():
                named = sql.select(self.conn, self.entity, filters=[Filter("name", "=", record_id.strip())],
                                   limit=_NAMESAKES_SHOWN + 1)
                if len(named) == 1:
                    record = named[0]
                elif named:
                    ids = ", ".join(r["id"] for r in named[:_NAMESAKES_SHOWN]) + (", …" if len(named) > _NAMESAKES_SHOWN else "")
                    raise NotFound(t("reason.record_name.namesakes", name=repr(record_id.strip()),
                                     kind=entity_name(self.entity), ids=ids))
        if record is None:
            raise NotFound(t("reason.query.not_found", kind=entity_name(self.entity), id=repr(record_id)))
        return record

    def find(
        self,
        filters: Sequence[Filter] = (),
        *,
        search: str | None = None,
        order: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        """A page of records matching `filters` and `search`, in `order`."""
        query = self._query(search)
        self._before_read()
        with self._lock:
            rows, total = sql.select_counted(self.conn, self.entity, filters=filters, search=query,
                                             order=self._order(order), limit=limit, offset=offset)
            if total is not None:
                # search-as-you-type asks for a page, then the count: one scan serves both
                self._last_total = (tuple(filters), query, self._data_version(), total)
            return rows

    def count(self, filters: Sequence[Filter] = (), *, search: str | None = None) -> int:
        query = self._query(search)
        self._before_read()
        with self._lock:
            cached = self._last_total
            if cached and cached[:3] == (tuple(filters), query, self._data_version()):
                return cached[3]
            return sql.count(self.conn, self.entity, filters=filters, search=query)

    def _before_read(self) -> None:
        if self.before_read is not None:
            self.before_read()

    def _data_version(self) -> tuple[int, int]:
        """Changes by this connection and commits by others since it opened."""
        return sql.data_version(self.conn)

    def search(self, query: str, limit: int = 50) -> list[Record]:
        return self.find(search=query, limit=limit)

    def _query(self, search: str | None) -> str | None:
        if not search or not search.strip():
            return None
        if self.entity.table != "customers" and not self.entity.searchable:
            raise ValidationError.one("search", t("reason.not_searchable", entities=entity_label(self.entity.table)))
        return normalize_query(search)

    def _order(self, order: str | None) -> str | None:
        """'name' or '-amount' (descending) -> SQL; only known columns."""
        if not order:
            return None
        desc = order.startswith("-")
        name = order.lstrip("-")
        if name not in record_columns(self.entity):
            raise ValidationError.one("--order", t("reason.query.not_a_field", name=repr(name),
                                                 kind=entity_name(self.entity)))
        sql_type = self.entity.field(name).sql_type if name in self.entity.field_names else "TEXT"
        expr = dict(self.entity.sort_exprs).get(name) or f'"{name}"' + (" COLLATE NOCASE" if sql_type == "TEXT" else "")
        if expr == self.entity.default_order and not desc:
            return None  # the default order, which an index may serve
        return expr + (" DESC" if desc else "")

    # -- writing -----------------------------------------------------------------
    #
    # The one write funnel. Every create ends in `insert_prepared` (after `prepare`),
    # every update in `apply_update`; both run validation (`clean`), references, the
    # record's state rule (a complaint agrees with its workflow), the workflow guard
    # and the derived columns declared on the Entity. Form, CLI add/edit/update,
    # import, seed, the workflows and conflict resolution all come here.

    def prepare(self, data: Mapping[str, Any], *, owner: str | None = None, now: str | None = None,
                record_id: str | None = None, memo: dict[str, dict[str, Any]] | None = None) -> Record:
        """Validate a new record and fill in its id, owner, stamps and derived
        columns; no write (`insert_prepared` writes, after the state and reference
        checks). A bulk write passes the batch's `now`, an id from `new_ids` and
        a `memo` of the values already checked (see `clean`)."""
        values = clean(self.entity, data, memo=memo)
        now = now or utc_now()
        rep = owner if owner is not None else values.get("owner") or sql.local_rep(self.conn)
        record: Record = {"id": record_id or new_id(), "owner": rep, "created_at": now, "updated_at": now, **values}
        record["owner"] = rep
        record.update(derive(self.entity, record))
        return record

    def create(self, data: Mapping[str, Any], *, owner: str | None = None) -> Record:
        # Each write returns the record as `get` reads it, computed fields (a
        # customer's classes) brought up to date: what `add` prints is what `show` prints.
        with self._lock:
            record = self.prepare(data, owner=owner)
            with transaction(self.conn):
                self.insert_prepared([record])
            return self.get(record["id"])

    def check_new(self, record: Mapping[str, Any]) -> None:
        """The rules a prepared record must pass before it is inserted, beyond its
        fields: the rules of its values and its state (crm_tui.domain.record_rules, which
        every replica and the server also run). (References are checked on insert, in bulk.)"""
        table = self.entity.table
        for rules in (VALUE_RULES, STATE_RULES):
            rule = rules.get(table)
            if rule is not None:
                rule(record)
        for name in self.entity.unique:
            value = record.get(name)
            taken = sql.ids_with_value(self.conn, self.entity, name, value, record.get("id")) if value else []
            if taken:
                raise ValidationError.one(name, t("reason.record.taken", value=repr(value), kind=entity_name(self.entity),
                                                  id=taken[0]))

    def insert_prepared(self, records: Iterable[Record], *, bulk: bool = False,
                        progress: Callable[[int], None] | None = None) -> int:
        """Insert records made by `prepare` (and changed since only by merging other
        prepared values), inside the caller's transaction: the state rule and the
        references of each, then one INSERT per record, or with `bulk` ONE statement
        for all of them (captured and indexed in bulk: imports, seeding), telling
        `progress` the count written every 1,000 records and at the end."""
        records = list(records)
        many_refs = bool(self._many_refs)
        for record in records:
            if many_refs:
                self.resolve_many_refs(record)
            self.check_new(record)
        self.check_refs(records)
        self.refuse_erased(records)
        columns = stored_columns(self.entity)
        if bulk:
            if not records:
                return 0
            # Only the columns some record fills: a file of five columns binds ten
            # values a row, not thirty. A column left out takes its default, which
            # is NULL but for the owner and the stamps, which every record holds.
            filled: set[str] = set()
            for record in records:
                filled.update(record)
            columns = tuple(c for c in columns if c in filled)

            def rows() -> Iterator[list[Any]]:
                for done, r in enumerate(records, start=1):
                    yield [r.get(c) for c in columns]
                    if progress and (done % 1000 == 0 or done == len(records)):
                        progress(done)
            written = sql.insert_many(self.conn, self.entity, columns, rows())
        else:
            for record in records:
                sql.insert(self.conn, self.entity, {c: record[c] for c in columns if c in record})
            written = len(records)
        self._check_written(records, how="new")
        return written

    def update(self, record_id: str, changes: Mapping[str, Any], *, workflow: bool = False) -> Record:
        """Change fields of a record. Fields moved by a workflow (a complaint's status
        and its stamps) change only with `workflow=True`, which the workflow's use
        cases pass after checking the transition."""
        with self._lock:
            current = self._get(record_id)
            values = clean(self.entity, changes, partial=True)
            with transaction(self.conn):
                self.apply_update(current, values, workflow=workflow)
            return self.get(current["id"])

    def settle(self, record_id: str, name: str, value: Any, allowed: Sequence[Any]) -> Record:
        """Conflict resolution's sanctioned write: set field `name` to `value`, one
        of the `allowed` values the replicas' histories already hold (mine, theirs).
        A workflow field may take either side this way (no transition is replayed:
        both sides were reached through the workflow), but the record must still
        agree with its state rule; any other field takes any valid value."""
        with self._lock:
            current = self._get(record_id)
            values = clean(self.entity, {name: value}, partial=True)
            if name in self.entity.workflow_fields and values[name] not in allowed:
                raise ValidationError.one(name, t("reason.record.workflow_side", kind=entity_name(self.entity)))
            with transaction(self.conn):
                self.apply_update(current, values, workflow=True)
            return self.get(current["id"])

    def delete(self, record_id: str) -> Record:
        with self._lock:
            current = self._get(record_id)
            with transaction(self.conn):
                sql.delete(self.conn, self.entity, current["id"])
                self._check_written([current], how="deleted")
            return current

    def bulk_update(self, filters: Sequence[Filter], changes: Mapping[str, Any], *,
                    dry_run: bool = False) -> list[dict[str, Any]]:
        """Set fields on every record matching `filters`, all or nothing. Returns the
        diff: one {id, name, field, old, new} per changed field."""
        if not changes:
            raise ValidationError.one("set", t("reason.set_required"))
        values = clean(self.entity, changes, partial=True)
        self._before_read()
        with self._lock:
            targets = sql.select(self.conn, self.entity, filters=filters)
            for r in targets:
                self.check_update(r, values)
            diff = [
                {"id": r["id"], "name": r.get("name", ""), "field": k, "old": r.get(k), "new": v}
                for r in targets for k, v in values.items() if r.get(k) != v
            ]
            if not dry_run and diff:
                with transaction(self.conn), self.rules_at_end():
                    for r in targets:
                        self.apply_update(r, values)
        return diff

    def check_update(self, current: Record, values: Mapping[str, Any], *, workflow: bool = False) -> dict[str, Any]:
        """The fields of `values` (already cleaned) that change `current`, after the
        workflow guard, the state rule and the references; raises ValidationError."""
        if any(values.get(name) for name in self._many_refs):
            values = {**values}
            self.resolve_many_refs(values, customer_id=current.get("customer_id"))
        changed = {k: v for k, v in values.items() if current.get(k) != v}
        if not changed:
            return changed
        if not workflow:
            moved = sorted(k for k in changed if k in self.entity.workflow_fields)
            if moved:
                raise ValidationError([FieldError(name, t("reason.record.workflow_only", kind=entity_name(self.entity)))
                                       for name in moved])
        update_rule = UPDATE_RULES.get(self.entity.table)
        if update_rule is not None:
            update_rule(changed)
        totals = TOTALS.get(self.entity.table)
        if totals is not None and "amount" in changed:
            lines = sql.select(self.conn, ENTITIES[totals[0]], filters=[Filter(totals[1], "=", current["id"])])
            order_rules.check_total(entity_name(self.entity), current["id"], changed["amount"], lines)
        merged = {**current, **changed}
        self.check_new(merged)
        self.check_refs([changed])
        self.refuse_erased([merged])
        return changed

    def apply_update(self, current: Record, values: Mapping[str, Any], *, workflow: bool = False) -> None:
        """Write the changed fields of one record (`values` already cleaned), with
        its new stamp and derived columns, inside the caller's transaction."""
        changed = self.check_update(current, values, workflow=workflow)
        if not changed:
            return
        merged = {**current, **changed}
        changed["updated_at"] = utc_now()
        changed.update(derive(self.entity, merged, changed))
        sql.update(self.conn, self.entity, current["id"], changed)
        self._check_written([merged], how="changed")

    def _check_written(self, records: Sequence[Mapping[str, Any]], *, how: str) -> None:
        """The rules across records of this kind, once `records` are written (`how`:
        new, changed or deleted), inside the caller's transaction, so a refusal
        writes nothing."""
        rule = WRITTEN_RULES.get(self.entity.table)
        if rule is None:
            return
        if self._deferred is not None:
            self._deferred.append((records, how))
            return
        rule(self.conn, records, how)

    @contextmanager
    def rules_at_end(self) -> Iterator[None]:
        """Inside the caller's transaction: the rules across records are checked once
        every write inside is done (a bulk edit, an import), not after each record,
        so a sale and its refund cancelled together are not, half-way, a refund of a
        cancelled order."""
        if self._deferred is not None:  # an outer one checks at its end
            yield
            return
        self._deferred = []
        try:
            yield
            written, self._deferred = self._deferred, None
            for how in ("new", "changed", "deleted"):  # one check for all, a few hundred records a query
                self._check_written([r for records, done in written if done == how for r in records], how=how)
        finally:
            self._deferred = None

    def check_refs(self, records: Sequence[Mapping[str, Any]],
                   known: dict[tuple[str, str], bool] | None = None) -> None:
        """Every reference of `records` names an existing record: one query per
        referenced table for the whole batch. `known` caches answers across calls
        (an import checks row by row, to name the row). A record of the batch may
        name another of it (a refund the order it refunds)."""
        for f in self._refs:
            wanted = {r[f.name] for r in records if r.get(f.name)}
            if f.ref == self.entity.table:
                wanted -= {r.get("id") for r in records}
            table = f.ref or ""
            if known is not None:
                unknown = {i for i in wanted if (table, i) not in known}
                if unknown:
                    found = sql.existing_ids(self.conn, table, unknown)
                    known.update(((table, i), i in found) for i in unknown)
                missing = {i for i in wanted if not known[(table, i)]}
            elif wanted:
                missing = wanted - sql.existing_ids(self.conn, table, wanted)
            else:
                missing = set()
            if missing:
                raise ValidationError([FieldError(f.name, t("reason.query.not_found", kind=entity_name(ENTITIES[table]),
                                                            id=repr(min(missing))))])

    def refuse_erased(self, records: Sequence[Mapping[str, Any]]) -> None:
        """An erased customer stays erased: no edit of them, no new record about them
        (DESIGN invariant 10; docs/privacy.md). One query for the whole batch."""
        refs = [f.name for f in self.entity.fields if f.kind == "ref" and f.ref == "customers"
                and self.entity.table not in PRIVACY_KINDS]
        own = self.entity.table == "customers"
        wanted = {str(r[name]) for r in records for name in refs if r.get(name)}
        if own:
            wanted |= {str(r["id"]) for r in records if r.get("id")}
        erased = privacy_sql.erased_ids(self.conn, sorted(wanted)) if wanted else set()
        if not erased:
            return
        cid = min(erased)
        if own and any(r.get("id") == cid for r in records):
            raise ValidationError.one("customer", t("reason.erased_no_edit", id=cid))
        raise ValidationError.one(refs[0] if refs else "customer_id",
                                  t("reason.erased_no_add", id=cid))

    @property
    def _many_refs(self) -> tuple[str, ...]:
        return self._refs_lists

    def resolve_many_refs(self, record: dict[str, Any], *, customer_id: str | None = None) -> None:
        """Resolve each list of references of `record` (the contacts a visit met) to
        ids, in place: each item names a contact of the record's own customer by id,
        unique id prefix or name."""
        for f in self.entity.fields:
            if f.kind == "refs" and record.get(f.name):
                record[f.name] = self._resolve_refs(f, record[f.name], customer_id or record.get("customer_id"))

    def _resolve_refs(self, f: Field, value: str, customer_id: str | None) -> str:
        """Each item of a list of references as an id: a contact of the record's own
        customer (by id, unique id prefix or name), or a product of the catalogue (by
        SKU, id or unique id prefix)."""
        ids: list[str] = []
        for item in value.split(","):
            if not item.strip():
                continue
            if f.ref == "products":
                found = sql.resolve_product(self.conn, item)
                if len(found) != 1:
                    raise ValidationError.one(f.name, t("reason.record.no_product" if not found else
                                                        "reason.record.products", item=repr(item.strip())))
                if found[0] not in ids:
                    ids.append(found[0])
                continue
            found = sql.resolve_contact(self.conn, customer_id or "", item)
            if len(found) != 1:
                raise ValidationError.one(f.name, t("reason.record.contacts" if found else "reason.record.no_contact",
                                                    item=repr(item.strip())))
            if found[0] not in ids:
                ids.append(found[0])
        return ",".join(ids)


def _refunds_hold(conn: sqlite3.Connection, records: Sequence[Mapping[str, Any]], how: str) -> None:
    """Orders written: the orders their refunds are of (and, when changed, the orders
    themselves) still keep the rule of refunds. A new sale has no refunds yet; a sale
    deleted leaves none behind (they would take from net sales a sale no longer
    there: its refunds go first)."""
    if how == "deleted":
        for record in records:
            order_rules.check_sale_deleted(sql.ids_with_value(conn, ENTITIES["orders"], "refund_of", record["id"]))
        return
    ids = {r["refund_of"] for r in records if r.get("refund_of")}
    if ids:  # each refund of its sale's customer (the rest of check_refund_of is check_refunds')
        sales = sql.get_many(conn, ENTITIES["orders"], ids)
        for record in records:
            if record.get("refund_of"):
                order_rules.check_refund_of(record, sales.get(record["refund_of"]))
    if how == "changed":
        ids |= {r["id"] for r in records}
    if ids:
        order_rules.check_refunds(sql.refunds_of(conn, ids))


# Rules across records of one kind, checked once written (Records._check_written): every
# path that writes such a record (form, CLI, import, bulk edit, seed) goes through them.
WRITTEN_RULES: dict[str, Callable[[sqlite3.Connection, Sequence[Mapping[str, Any]], str], None]] = {
    "orders": _refunds_hold,
}
