"""Whether one synced change may enter a change log: `check_change` says if every
replica can apply it (the same schema and validators as a local write), and
`check_access` if its author may make it (the authorisation matrix of docs/sync.md).
Pure: the server runs both on every pushed change, a laptop runs `check_change` on
every pulled one; what they need to know of the world comes in as arguments."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from crm_tui.domain import merging
from crm_tui.domain.entities import ENTITIES, OPS, Entity, Field, synced_column_set
from crm_tui.domain.privacy import ERASE_REQUESTS, ERASURES, check_filed, may_decide, personal_fields
from crm_tui.domain.record_rules import REFERENCE_RULES, STATE_RULES, UPDATE_RULES, VALUE_RULES, Rule
from crm_tui.domain.validation import FieldError, ValidationError, clean_value, kind_name, normalize_datetime
from crm_tui.i18n import entity_label, entity_name, language, own_language, speaking, t

INVALID = "invalid"      # no replica could apply it: schema, value or reference
FORBIDDEN = "forbidden"  # its author may not make it

CUSTOMERS = "customers"
MANAGER = "manager"

# Kinds whose stored form is exactly the normalised one: a replica compares and sorts
# them as text, so "2024/1/2" or "Phone" would be wrong there even though a form
# would accept and normalise them.
_CANONICAL_KINDS = frozenset({"enum", "date", "datetime"})
_NUMBER_KINDS = frozenset({"int", "bool", "money", "decimal", "percent"})
_ID_MAX = 64
_OWNER_MAX = 100
_HLC_MAX = 2**63 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ChangeRefused(ValueError):
    """A change that may not enter a log: `code` is INVALID or FORBIDDEN. `reason` is
    for its author and may quote the value refused; `kept` says the same without any
    value of the change, for what a server keeps (the audit, its list of refusals),
    which must hold no personal data. Made by `refused`, from the catalog."""

    def __init__(self, code: str, reason: str, kept: str | None = None):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.kept = reason if kept is None else kept


# A text said when it is needed, in the language then spoken: a refusal says its
# reason in the language of the one who asked (a pushing laptop's, crm_tui.i18n
# `speaking`) and what is kept in the server's own.
Say = Callable[[], str]


def refused(code: str, say: Say, kept: Say | None = None) -> ChangeRefused:
    """A refusal whose reason is `say()` in the language spoken now, and whose kept
    text is `kept()` (default: the reason, when it quotes no value of the change) in
    the process's own language."""
    reason = say()
    if kept is None and language() == own_language():
        return ChangeRefused(code, reason)
    with speaking(own_language()):
        return ChangeRefused(code, reason, (kept or say)())


def said(key: str, /, **values: Any) -> Say:
    """The catalog's `key`; a value that is a function (a record kind's name, which
    differs by language) is called each time the text is said."""
    return lambda: t(key, **{k: v() if callable(v) else v for k, v in values.items()})


def on_field(name: str, key: str, /, **values: Any) -> Say:
    """`said(key, ...)` about field `name`, introduced as every field error is
    ('phone: ...'; in Chinese by its label: '电话（phone）：...')."""
    text = said(key, **values)
    return lambda: str(FieldError(name, text()))


def _invalid(say: Say, kept: Say | None = None) -> ChangeRefused:
    return refused(INVALID, say, kept)


def _forbidden(say: Say) -> ChangeRefused:
    return refused(FORBIDDEN, say)


def _kind_name(kind: str) -> str:
    return kind_name(kind) or t("refusal.kind_value")


def _bad_value(name: str, reason: str, what: Say) -> ChangeRefused:
    """A value refused: the reason quotes it (validators do), what is kept does not."""
    return _invalid(lambda: str(FieldError(name, reason)), on_field(name, "refusal.value_not_kept", kind=what))


def synced_entity(tbl: object) -> Entity:
    """The entity of a synced table; INVALID for any other name."""
    ent = ENTITIES.get(tbl) if isinstance(tbl, str) else None
    if ent is None:
        raise _invalid(said("refusal.not_synced_table", table=repr(str(tbl)[:64])))
    return ent


# The visibility scope of a record that concerns one rep and no customer (a rep's
# target): REP_SCOPE + the rep's name. Customer ids, the other scopes, never start
# with it (`_check_id` refuses such ids).
REP_SCOPE = "@"


def rep_scope(rep: str) -> str:
    return REP_SCOPE + rep


def is_rep_scope(scope: str | None) -> bool:
    return bool(scope) and str(scope).startswith(REP_SCOPE)


def rep_scope_of(ent: Entity, data: Mapping[str, Any]) -> str | None:
    """The scope a change of a rep's record gives it: rep_scope(rep), '' for a blank
    rep (the team's: everyone sees it), None when the change does not name the rep
    (it keeps the scope it has) or the kind has no rep field."""
    if ent.rep_field is None or ent.rep_field not in data:
        return None
    rep = data[ent.rep_field]
    return rep_scope(str(rep)) if isinstance(rep, str) and rep.strip() else ""


def scope_field(ent: Entity) -> Field | None:
    """The field naming the customer a record belongs to (None for a customer itself,
    or a record of no customer): the unit of visibility and of access."""
    for f in ent.fields:
        if f.kind == "ref" and f.ref == CUSTOMERS:
            return f
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_id(what: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(on_field(what, "refusal.id_empty"))
    if len(value) > _ID_MAX or _CONTROL.search(value):
        raise _invalid(on_field(what, "refusal.id_shape", max=_ID_MAX))
    if value.startswith(REP_SCOPE):
        # a customer named like a rep's scope would let its owner pull that rep's targets
        raise _invalid(on_field(what, "refusal.id_rep_scope", prefix=repr(REP_SCOPE)))
    return value


# A laptop checks every pulled change, and their values repeat (dates, choices,
# owners, customer ids): a value that passed is remembered per kind and field (whether
# a field is required is the field's, so the same value passes again). Text, most
# values, in a set per field; other values keyed by their type too (1, 1.0 and True
# are equal keys otherwise). Bounded: all forgotten when full.
_PASSED_TEXT: dict[str, dict[str, set[str]]] = {}
_PASSED: dict[tuple[str, str, type, Any], None] = {}
_PASSED_MAX = 100_000
_passed_count = 0


def forget_passed() -> None:
    """Forget the values that passed (when full; a benchmark measuring first checks)."""
    global _passed_count
    _PASSED_TEXT.clear()
    _PASSED.clear()
    _passed_count = 0


def _check_values(ent: Entity, data: Mapping[str, Any], required_names: frozenset[str]) -> None:
    """Every value of an insert or update, each as a replica stores it
    (`required_names`: the entity's required fields)."""
    global _passed_count
    table = ent.table
    texts = _PASSED_TEXT.get(table)
    if texts is None:
        texts = _PASSED_TEXT[table] = {}
    for name, value in data.items():
        if value is None:
            if name in required_names:
                raise _invalid(on_field(name, "validation.required"))
            continue
        if type(value) is str:
            seen = texts.get(name)
            if seen is not None and value in seen:
                continue
            _check_value(ent, name, value, required=name in required_names)
            if seen is None:
                seen = texts[name] = set()
            seen.add(value)
        else:
            key = (table, name, type(value), value)
            try:
                if key in _PASSED:
                    continue
            except TypeError:  # a list or an object: refused below, never remembered
                _check_value(ent, name, value, required=name in required_names)
                continue
            _check_value(ent, name, value, required=name in required_names)
            _PASSED[key] = None
        _passed_count += 1
        if _passed_count >= _PASSED_MAX:
            forget_passed()
            texts = _PASSED_TEXT[table] = {}


_REQUIRED_SETS: dict[str, frozenset[str]] = {}


def _required_set(ent: Entity) -> frozenset[str]:
    found = _REQUIRED_SETS.get(ent.table)
    if found is None:
        found = _REQUIRED_SETS[ent.table] = frozenset(ent.required_names)
    return found


def _check_value(ent: Entity, name: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            raise _invalid(on_field(name, "validation.required"))
        return
    if name == "owner":
        if not isinstance(value, str) or len(value) > _OWNER_MAX or _CONTROL.search(value):
            raise _invalid(on_field("owner", "refusal.owner_shape", max=_OWNER_MAX))
        return
    if name in ("created_at", "updated_at"):
        if not isinstance(value, str) or len(value) > 40:
            raise _invalid(on_field(name, "refusal.not_datetime"))
        try:
            normalize_datetime(value)
        except ValueError as exc:
            raise _bad_value(name, str(exc), partial(_kind_name, "datetime")) from None
        return
    f = ent.field(name)
    if f.kind in _NUMBER_KINDS:
        ok = _is_int(value) if f.kind in ("int", "bool", "percent") else _is_int(value) or isinstance(value, float)
        if not ok:
            key = "refusal.not_whole_number" if f.kind in ("int", "percent") else "refusal.not_number"
            raise _invalid(on_field(name, key, type=type(value).__name__))
    elif not isinstance(value, str):
        raise _invalid(on_field(name, "refusal.not_text", type=type(value).__name__))
    try:
        cleaned = clean_value(f, value)
    except ValueError as exc:
        raise _bad_value(name, str(exc), partial(_kind_name, f.kind)) from None
    if cleaned is None and required:
        raise _invalid(on_field(name, "validation.required"))
    # A one-line text is in the form a local write stores it: the invisible characters
    # a laptop drops (zero-width, BOM) would otherwise reach every replica.
    if (f.kind in _CANONICAL_KINDS or f.kind == "text" and not f.multiline) and cleaned != value:
        raise _bad_value(name, t("refusal.not_stored_form", value=repr(value), stored=repr(cleaned)),
                         said("refusal.stored_form", kind=partial(_kind_name, f.kind)))


def check_change(tbl: object, op: object, row_id: object, data: object, *, old: object = None,
                 base: object = None, exists: Callable[[str, str], bool] | None = None,
                 customer_of: Callable[[str, str], str | None] | None = None) -> None:
    """Raise ChangeRefused(INVALID, reason) unless every replica can apply this change:
    a synced table, a known operation and id, only synced columns (no local-only
    ones), each value of the right type and valid by the validators of a local write,
    the required fields on an insert, the rules of its kind (crm_tui.domain.
    record_rules: an insert is a whole record, so its state rule too; what an edit
    leaves is `check_state`'s, on the server), `old` and `base` in their shapes.
    With `exists` (table, id) -> bool, every reference must name a record that
    exists; with `customer_of` (table, id) -> the customer a record is of now, a
    merge may say it moved only records that are now the kept customer's."""
    ent = synced_entity(tbl)
    if op not in OPS:
        raise _invalid(on_field("op", "refusal.not_an_op", value=repr(str(op)[:20]), ops=", ".join(OPS)))
    _check_id("row_id", row_id)
    if type(data) is not dict and not isinstance(data, Mapping):
        raise _invalid(on_field("data", "refusal.not_an_object"))
    columns = synced_column_set(ent)
    if not columns.issuperset(data):
        unknown = [k for k in data if k not in columns]
        raise _invalid(on_field("data", "refusal.not_synced_column_of", column=repr(str(unknown[0])[:64]),
                                table=ent.table))
    if op == "delete":
        if data:
            raise _invalid(on_field("data", "refusal.delete_with_values"))
    else:
        required = _required_set(ent)
        _check_values(ent, data, required)
        if op == "insert" and not required.issubset(data):
            missing = [name for name in ent.required_names if name not in data]
            if missing:
                raise _invalid(on_field(missing[0], "validation.required"))
        if exists is not None:
            for f in ent.fields:
                if f.kind == "ref" and f.ref and data.get(f.name) is not None \
                        and not exists(f.ref, data[f.name]):
                    raise _invalid(on_field(f.name, "refusal.no_such_record", kind=partial(entity_name, ENTITIES[f.ref]),
                                            id=repr(str(data[f.name])[:64])))
        _check_rules(ent, op, data)
        if customer_of is not None and ent.table == merging.MERGES and op == "insert" and data.get("moved"):
            foreign = merging.foreign_moved(data["moved"], str(data.get("customer_id")), customer_of)
            if foreign is not None:
                raise _invalid(on_field("moved", "refusal.rule.merge_moved_foreign",
                                        kind=partial(entity_name, ENTITIES[foreign[0]]), id=repr(foreign[1][:64])))
    if old is not None:  # most changes have neither
        _check_old(columns, old)
    if base is not None:
        _check_base(columns, base)


def _check_rules(ent: Entity, op: str, data: Mapping[str, Any]) -> None:
    """The rules of the kind (crm_tui.domain.record_rules) that one change can be
    held to alone: its values, what an edit may write, and an insert's state."""
    table = ent.table
    if table in VALUE_RULES:
        _keeps(ent, VALUE_RULES[table], data)
    if op == "update" and table in UPDATE_RULES:
        _keeps(ent, UPDATE_RULES[table], data)
    if op == "insert" and table in STATE_RULES:
        _keeps(ent, STATE_RULES[table], data)


def check_state(tbl: str, record: Mapping[str, Any]) -> None:
    """Raise ChangeRefused(INVALID, reason) unless `record`, the whole record a change
    leaves (the server's, with the change's winning values), keeps its kind's state
    rule: the rule every local write keeps."""
    rule = STATE_RULES.get(tbl)
    if rule is not None:
        _keeps(synced_entity(tbl), rule, record)


def check_referenced(tbl: str, record: Mapping[str, Any],
                     record_of: Callable[[str, str], Mapping[str, Any] | None]) -> None:
    """Raise ChangeRefused(INVALID, reason) unless `record`, the whole record a change
    leaves, keeps the rule between it and the record it names (REFERENCE_RULES: a
    refund and the sale it refunds), that one as `record_of(table, id)` gives it
    (None: not held)."""
    found = REFERENCE_RULES.get(tbl)
    if found is None:
        return
    name, table, rule = found
    target = record.get(name)
    if not isinstance(target, str) or not target:
        return
    named = record_of(table, target)
    _keeps(synced_entity(tbl), lambda values: rule(values, named), record)


def check_rule(tbl: str, rule: Rule, values: Mapping[str, Any]) -> None:
    """Raise ChangeRefused(INVALID, reason) unless `rule` passes over `values` of a
    record of `tbl`: a rule across several records (the server's, crm_tui.sync.server.
    judge) run on what its look-ups found, refused as every other rule is."""
    _keeps(synced_entity(tbl), rule, values)


def _keeps(ent: Entity, rule: Rule, values: Mapping[str, Any]) -> None:
    """Run a rule of the kind; a ValidationError becomes an INVALID refusal naming its
    first field and reason (said again in each language it is needed in). What is
    kept of a refusal about a personal field does not quote it."""
    try:
        rule(values)
    except ValidationError as exc:
        name = exc.errors[0].field if exc.errors else ""

        def say() -> str:
            try:
                rule(values)
            except ValidationError as again:
                return str(again.errors[0]) if again.errors else str(again)
            return ""  # pragma: no cover - the rule is pure: it fails again
        kept = on_field(name, "refusal.rule.not_kept") if name in personal_fields(ent) else None
        raise _invalid(say, kept) from None


def _check_old(columns: Collection[str], old: object) -> None:
    if old is None:
        return
    if not isinstance(old, Mapping):
        raise _invalid(on_field("old", "refusal.not_an_object"))
    for name, value in old.items():
        if name not in columns:
            raise _invalid(on_field("old", "refusal.not_synced_column", column=repr(str(name)[:64])))
        if value is not None and not isinstance(value, (str, int, float)):
            raise _invalid(on_field("old", "refusal.not_plain_value", column=name))


def _check_base(columns: Collection[str], base: object) -> None:
    # The stamp each changed field replaced: [hlc, node] (see crm_tui.db.capture).
    if base is None:
        return
    if not isinstance(base, Mapping):
        raise _invalid(on_field("base", "refusal.not_an_object"))
    for name, stamp in base.items():
        if name not in columns:
            raise _invalid(on_field("base", "refusal.not_synced_column", column=repr(str(name)[:64])))
        if stamp is None:
            continue
        if not (isinstance(stamp, list) and len(stamp) == 2 and _is_int(stamp[0]) and 0 <= stamp[0] <= _HLC_MAX
                and isinstance(stamp[1], str) and 0 < len(stamp[1]) <= _ID_MAX):
            raise _invalid(on_field("base", "refusal.not_a_stamp", column=name))


# -- authorisation -------------------------------------------------------------------

@dataclass(frozen=True)
class Actor:
    """Who makes a change: the rep the token proves, never a name in the change."""

    name: str
    role: str
    territories: frozenset[str] = frozenset()

    @property
    def is_manager(self) -> bool:
        return self.role == MANAGER


@dataclass(frozen=True)
class Place:
    """Where a customer stands now (on the server): its owner and territory."""

    owner: str | None
    territory: str | None


def _blank(value: object) -> bool:
    return value is None or value == ""


def _may_handle(actor: Actor, place: Place) -> bool:
    return place.owner == actor.name or (place.territory is not None and place.territory in actor.territories)


def _describe(customer_id: str, place: Place) -> str:
    owner = place.owner or t("refusal.nobody")
    if place.territory is None:
        return t("refusal.customer_place_no_territory", id=customer_id[:26], owner=owner)
    return t("refusal.customer_place", id=customer_id[:26], owner=owner, territory=place.territory)


def check_access(actor: Actor, tbl: str, op: str, row_id: str, data: Mapping[str, Any], *,
                 place: Callable[[str], Place | None],
                 customer_of: Callable[[str, str], str | None]) -> None:
    """Raise ChangeRefused(FORBIDDEN, reason) unless `actor` may make this change
    (already checked by `check_change`). `place(customer_id)` is where a customer
    stands now, None for one not known yet; `customer_of(tbl, row_id)` the customer an
    existing record belongs to now. A manager may do anything. A rep:
    - creates customers owned by themselves, in one of their territories or none;
    - changes and deletes the customers they own or that are in one of their
      territories, never their owner, never moving them into or out of a territory
      that is not theirs;
    - creates, changes and deletes the records (visits, complaints, ...) of those
      customers, as their own (owner themselves or none) or, for a manual
      classification, as the customer's, never changing a record's owner; records of no customer are everyone's, except the kinds only a manager
      changes (targets);
    - a record naming two customers (a merge) only when both are theirs;
    - erases no one and decides no erase request (crm_tui.domain.privacy `may_decide`):
      files a request pending, undecided and in their own name, and changes or
      deletes none afterwards."""
    if tbl == ERASURES and not may_decide(actor.role):
        raise _forbidden(said("refusal.erase_manager_only"))
    if tbl == ERASE_REQUESTS and not may_decide(actor.role):
        _keeps_as_forbidden(partial(_filed_by, actor.name), op, data)
    if actor.is_manager:
        return
    ent = ENTITIES[tbl]
    if ent.manager_only:
        raise _forbidden(said("refusal.manager_only_kind", table=partial(entity_label, ent.table)))
    if tbl == CUSTOMERS:
        _customer_access(actor, row_id, op, data, place(row_id))
        return
    link = scope_field(ent)
    if link is None:
        return
    existing = customer_of(tbl, row_id)
    if existing is None and op != "insert":
        raise _invalid(said("refusal.no_such_record", kind=partial(entity_name, ent), id=row_id[:26]))
    if "owner" in data:
        customer = existing if existing is not None else data.get(link.name)
        if _owner_kept(ent, data["owner"], place(customer) if isinstance(customer, str) else None):
            pass  # a kind owned as its customer (a manual classification), made or brought back
        elif existing is not None:
            raise _forbidden(said("refusal.owner_manager_only", kind=partial(entity_name, ent)))
        elif not _blank(data["owner"]) and data["owner"] != actor.name:
            raise _forbidden(said("refusal.new_owned_by_author", kind=partial(entity_name, ent), rep=actor.name))
    # Every customer the change names counts, not only its scope: a merge names the
    # customer it keeps and the one it merges away, and a rep must hold both.
    named = [data.get(f.name) for f in ent.fields if f.kind == "ref" and f.ref == CUSTOMERS]
    targets = [c for c in (existing, *named) if c is not None]
    for customer_id in dict.fromkeys(targets):
        where = place(customer_id)
        if where is not None and not _may_handle(actor, where):
            raise _not_yours(customer_id, where)
    _check_other_refs(actor, ent, link, data, place, customer_of)


def _filed_by(rep: str, op: str, data: Mapping[str, Any]) -> None:
    check_filed(op, data, rep)


def _keeps_as_forbidden(rule: Callable[[str, Mapping[str, Any]], None], op: str, data: Mapping[str, Any]) -> None:
    """An access rule of the domain (a ValidationError naming the field): FORBIDDEN."""
    try:
        rule(op, data)
    except ValidationError:
        def say() -> str:
            try:
                rule(op, data)
            except ValidationError as again:
                return str(again.errors[0])
            return ""  # pragma: no cover - the rule is pure: it fails again
        raise _forbidden(say) from None


def _not_yours(customer_id: str, where: Place) -> ChangeRefused:
    return _forbidden(said("refusal.not_yours", place=partial(_describe, customer_id, where)))


def _owner_kept(ent: Entity, owner: Any, customer: Place | None) -> bool:
    """Whether `owner` on a record of `ent` is its customer's owner, for a kind owned
    as its customer: a manual classification set by any rep who may handle the
    customer (a colleague's, in a shared territory), or brought back whole by an
    unmerge. Any other owner is the author's (new records) or a manager's change."""
    return ent.owner_is_customers and customer is not None and (owner or None) == customer.owner


def _check_other_refs(actor: Actor, ent: Entity, link: Field, data: Mapping[str, Any],
                      place: Callable[[str], Place | None], customer_of: Callable[[str, str], str | None]) -> None:
    """A record's other references (an order line's order, a refund's order, a
    survey's complaint, ...) may name only records of customers that are the rep's
    too: a refund of another rep's order would change their sales."""
    for f in ent.fields:
        value = data.get(f.name)
        if f is link or f.kind != "ref" or not f.ref or value is None or not isinstance(value, str):
            continue
        target = ENTITIES[f.ref]
        customer_id = value if f.ref == CUSTOMERS else (customer_of(f.ref, value) if scope_field(target) else None)
        if customer_id is None:
            continue  # a record of no customer (a product), or none at all (check_change's)
        where = place(customer_id)
        if where is not None and not _may_handle(actor, where):
            raise _forbidden(on_field(f.name, "refusal.ref_not_yours", kind=partial(entity_name, target),
                                      id=value[:26], place=partial(_describe, customer_id, where)))


def _customer_access(actor: Actor, row_id: str, op: str, data: Mapping[str, Any], held: Place | None) -> None:
    if held is None:
        if op != "insert":
            raise _invalid(said("refusal.no_such_record", kind=partial(entity_name, ENTITIES[CUSTOMERS]),
                                id=row_id[:26]))
        if data.get("owner") != actor.name:
            raise _forbidden(said("refusal.new_customer_owner", rep=actor.name))
        territory = data.get("territory")
        if not _blank(territory) and territory not in actor.territories:
            raise _forbidden(said("refusal.territory_not_yours", territory=territory))
        return
    if not _may_handle(actor, held):
        raise _not_yours(row_id, held)
    if "owner" in data and (data["owner"] or None) != held.owner:
        raise _forbidden(said("refusal.customer_owner_manager_only"))
    if "territory" in data and (data["territory"] or None) != held.territory:
        for moved in (held.territory, data["territory"] or None):
            if moved is not None and moved not in actor.territories:
                raise _forbidden(said("refusal.territory_move", territory=moved))
