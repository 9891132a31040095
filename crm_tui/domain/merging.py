"""The rules of merging two customers (整合), pure: which record kinds move from the
merged customer to the kept one, which value each field of the kept customer ends
with (chosen field by field), and what a merge record holds so it can be undone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from crm_tui.domain.entities import CUSTOMER, ENTITIES, Entity
from crm_tui.domain.privacy import PRIVACY_KINDS, customer_kinds
from crm_tui.domain.validation import ValidationError
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
