"""The rules of merging two customers (整合), pure: which record kinds move from the
merged customer to the kept one, which value each field of the kept customer ends
with (chosen field by field), and what a merge record holds so it can be undone."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from crm_tui.domain.entities import CLASSIFICATION_OVERRIDE, CUSTOMER, ENTITIES, SYSTEM_COLUMNS, Entity
from crm_tui.domain.privacy import PRIVACY_KINDS, customer_kinds
from crm_tui.domain.validation import FieldError, ValidationError, clean, clean_value
from crm_tui.i18n import entity_name, t

MERGES = "merges"
OVERRIDES = "classification_overrides"
KEEP, OTHER = "keep", "other"
SIDES = (KEEP, OTHER)

# Kinds about the customer themself that do not move: a manual classification is
# keyed by its customer's id (the kept one keeps theirs; the merged one's is kept in
# the merge record and comes back with an unmerge), and privacy records stay with the
# person they name.
_STAYING = frozenset({OVERRIDES}) | PRIVACY_KINDS


def moved_kinds(entities: Mapping[str, Entity] = ENTITIES) -> list[tuple[str, str]]:
    """(table, customer field) of the records that move to the kept customer: every
    kind pointing to a customer (so a kind added later moves too), by its scope field
    only (a merge's other_id names the merged customer, it is not theirs)."""
    return [(t, f) for t, f in customer_kinds(entities)
            if t not in _STAYING and not (t == MERGES and f != "customer_id")]


def mergeable_fields() -> tuple[str, ...]:
    """The customer fields a merge chooses between: those users type."""
    return CUSTOMER.input_names


def parse_take(items: Iterable[str]) -> dict[str, str]:
    """['email=other', 'phone=keep'] -> {field: side}; errors name the item."""
    out: dict[str, str] = {}
    names = mergeable_fields()
    for item in items:
        name, eq, side = item.partition("=")
        name, side = name.strip(), (side.strip().lower() or OTHER)
        if name not in names:
            raise ValidationError.one("take", t("merge.msg.not_a_field_of", name=repr(name), names=", ".join(names)))
        if not eq:
            side = OTHER
        if side not in SIDES:
            raise ValidationError.one(name, t("merge.msg.side", side=repr(side)))
        out[name] = side
    return out


def _blank(value: Any) -> bool:
    return value is None or value == ""


def default_side(keep: Mapping[str, Any], other: Mapping[str, Any], name: str) -> str:
    """The kept customer's value, unless it is empty and the other's is not."""
    return OTHER if _blank(keep.get(name)) and not _blank(other.get(name)) else KEEP


def compare(keep: Mapping[str, Any], other: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Field by field: {field, keep, other, side (the default), same}."""
    return [{"field": n, "keep": keep.get(n), "other": other.get(n), "side": default_side(keep, other, n),
             "same": keep.get(n) == other.get(n)} for n in mergeable_fields()]


def chosen_values(keep: Mapping[str, Any], other: Mapping[str, Any], take: Mapping[str, str]) -> dict[str, Any]:
    """The fields the kept customer takes from the other: those chosen `other` (or
    by default) whose value differs."""
    out: dict[str, Any] = {}
    for name in mergeable_fields():
        side = take.get(name) or default_side(keep, other, name)
        if side == OTHER and keep.get(name) != other.get(name):
            out[name] = other.get(name)
    return out


def check_pair(keep_id: str, other_id: str) -> None:
    if keep_id == other_id:
        raise ValidationError.one("other", t("merge.msg.itself"))


# -- what a merge record holds, checked on every replica and by the server -----------

# What a merge writes once, when it is made: an unmerge reads them back. Only its
# status (and undone_at) and its kept customer (a later merge of the kept customer
# moves it on, as its other records) change afterwards.
WRITTEN_ONCE = ("other_id", "merged_at", "moved", "taken", "other_record")
_ID_MAX = 64


def check_record(merge: Mapping[str, Any]) -> None:
    """A merge record as a whole: two different customers."""
    keep, other = merge.get("customer_id"), merge.get("other_id")
    if keep is not None and keep == other:
        raise ValidationError.one("other_id", t("merge.rule.itself"))


def check_update(data: Mapping[str, Any]) -> None:
    """An edit of a merge record changes nothing it wrote once (WRITTEN_ONCE)."""
    for name in WRITTEN_ONCE:
        if name in data:
            raise ValidationError.one(name, t("merge.rule.written_once"))


def check_values(data: Mapping[str, Any]) -> None:
    """The JSON fields of a merge record, each in the shape an unmerge reads back
    (`moved`: {table: [ids]} of the kinds that move; `taken`: {field: [before,
    taken]} of the fields a merge chooses, each a valid value of that field;
    `other_record`: the merged customer as a valid customer, with its manual
    classification). Null is allowed: an erase scrubs `taken` and `other_record`."""
    for name, check in (("moved", _check_moved), ("taken", _check_taken), ("other_record", _check_other)):
        text = data.get(name)
        if text is None:
            continue
        try:
            value = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ValidationError.one(name, t("merge.rule.not_an_object"))
        reason = check(value)
        if reason:
            raise ValidationError.one(name, reason)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _ID_MAX and value.isprintable()


def _check_moved(moved: Mapping[str, Any]) -> str | None:
    kinds = dict(moved_kinds())
    for table, ids in moved.items():
        if table not in kinds:
            return t("merge.rule.moved_kind", table=repr(str(table)[:64]), kinds=", ".join(kinds))
        if not isinstance(ids, list) or not all(_is_id(i) for i in ids):
            return t("merge.rule.moved_ids", table=table)
    return None


def _check_taken(taken: Mapping[str, Any]) -> str | None:
    names = mergeable_fields()
    for name, pair in taken.items():
        if name not in names:
            return t("merge.msg.not_a_field_of", name=repr(str(name)[:64]), names=", ".join(names))
        if not isinstance(pair, list) or len(pair) != 2:
            return t("merge.rule.taken_pair", field=name)
        for value in pair:
            if value is None:
                continue
            try:  # an unmerge writes `before` back through the customer's validators
                ok = isinstance(value, str)
                if ok:
                    clean_value(CUSTOMER.field(name), value)
            except ValueError:
                ok = False
            if not ok:
                return t("merge.rule.taken_value", field=name)
    return None


def _check_other(other: Mapping[str, Any]) -> str | None:
    """The merged customer as an unmerge brings it back (api.merging._restore_other)."""
    fields = {k: v for k, v in other.items() if k in CUSTOMER.input_names}
    problems: list[FieldError] = []
    try:
        clean(CUSTOMER, fields)
    except ValidationError as exc:
        problems += exc.errors
    for name in SYSTEM_COLUMNS[1:]:
        if other.get(name) is not None and not isinstance(other.get(name), str):
            problems.append(FieldError(name, t("merge.rule.not_text")))
    saved = other.get(OVERRIDES)
    if saved is not None:
        if not isinstance(saved, list) or len(saved) > 1 or not all(isinstance(o, dict) for o in saved):
            problems.append(FieldError(OVERRIDES, t("merge.rule.overrides")))
        else:
            for o in saved:
                try:
                    clean(CLASSIFICATION_OVERRIDE, {k: v for k, v in o.items()
                                                    if k in CLASSIFICATION_OVERRIDE.input_names and k != "customer_id"}
                          | {"customer_id": "x"})
                except ValidationError as exc:
                    problems += exc.errors
    if problems:
        return t("merge.rule.other_record", problem=str(problems[0]))
    return None


def foreign_moved(moved_text: Any, keep_id: str, customer_of: Callable[[str, str], str | None]
                  ) -> tuple[str, str] | None:
    """(table, id) of the first record a merge says it moved that is not the kept
    customer's now (the merge's own edits re-point them before its record): an
    unmerge would move it to the merged customer. None when all are."""
    try:
        moved = json.loads(moved_text) if isinstance(moved_text, str) else {}
    except ValueError:
        return None  # check_values refuses it
    if not isinstance(moved, dict):
        return None
    for table, ids in moved.items():
        for record_id in ids if isinstance(ids, list) else ():
            if isinstance(record_id, str) and customer_of(str(table), record_id) != keep_id:
                return str(table), record_id
    return None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | None) -> Any:
    """A merge record's JSON field; {} for a missing or broken one (it came from a
    replica: trust no input)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def saved_overrides(other_record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The merged customer's manual classification as its merge record keeps it (at
    most one: its id is the customer's); [] when absent or malformed."""
    saved = other_record.get(OVERRIDES)
    if not isinstance(saved, list):
        return []
    return [o for o in saved if isinstance(o, dict)][:1]


def moved_ids(merge: Mapping[str, Any]) -> dict[str, list[str]]:
    """table -> ids a merge moved, only known kinds and text ids."""
    known = dict(moved_kinds())
    out: dict[str, list[str]] = {}
    for table, ids in loads(merge.get("moved")).items():
        if table in known and isinstance(ids, list):
            out[table] = [i for i in ids if isinstance(i, str)]
    return out


def edited_since_reason(edited: Sequence[tuple[str, str]]) -> str:
    table, row_id = edited[0]
    more = t("merge.msg.edited_more", n=len(edited) - 1) if len(edited) > 1 else ""
    return t("merge.msg.edited_since", kind=entity_name(ENTITIES[table]), id=row_id, more=more)
