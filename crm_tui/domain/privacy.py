"""What counts as a person's data, pure: which record kinds are about a customer,
which of their fields an erase scrubs (and with what), and the one masking function
used by exports and reports shared outside the team.

Kinds that point to a customer (a `ref` field to customers) are found from the
entity definitions, so a kind added later (contacts, opportunities ...) is exported
and erased without a change here; a kind not listed in PERSONAL_FIELDS has all its
free-text fields treated as personal, the safe default."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from crm_tui.domain.entities import ENTITIES, ERASE_REQUEST_STATUSES, Entity
from crm_tui.domain.validation import FieldError, ValidationError
from crm_tui.i18n import choice_label, t

CUSTOMERS = "customers"
# The synced record of an erase: id = the erased customer's id (see docs/privacy.md).
ERASURES = "erasures"
ERASE_REQUESTS = "erase_requests"
# The name an erased customer keeps, so their orders still add up under an
# anonymous customer and a required column stays filled.
ERASED_NAME = "[erased]"
ERASED_TEXT = "[erased]"

# Fields that say who the person is or what was said to them. Enumerations, dates,
# amounts and the product bought stay: the sales figures need them and they name
# nobody. Customers keep only their classification, owner and territory.
PERSONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "customers": ("name", "company", "title", "phone", "mobile", "email", "wechat", "address", "region",
                  "industry", "company_size", "purchasing_power", "source", "tags", "birthday", "notes"),
    "visits": ("notes", "outcome", "next_action"),
    "complaints": ("cause", "description", "resolution", "root_cause"),
    "orders": ("notes",),
    "surveys": ("notes",),
    "classification_overrides": ("reason",),
    # The people of a customer: everything that names or describes them.
    "contacts": ("name", "title", "department", "phone", "mobile", "email", "wechat", "notes"),
    # An order's lines: the product, quantities and prices feed the sales figures.
    "order_lines": (),
    # The sales pipeline: stages, amounts and dates feed the forecast and stay; what
    # was written about the deal goes.
    "opportunities": ("title", "next_step", "notes", "lost_reason"),
    "opportunity_stages": (),
    # Quotations: what was written to the customer goes; lines keep their products.
    "quotes": ("title", "terms", "notes"),
    "quote_lines": (),
    # Merges of duplicate customers: the merged customer's record and the values taken
    # from it are the person's data (the ids of the records moved name no one).
    "merges": ("taken", "other_record"),
}

# The text fields of those kinds that an erase keeps, each because it names no one
# and a figure needs it. With PERSONAL_FIELDS this classifies every text field of
# every kind about a customer; a test fails on a new one that is in neither.
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "customers": ("territory",),  # the team's division of the market: scopes and totals
    "complaints": ("product", "handler"),  # the product complained of; the rep handling it
    "orders": ("product",),
    "order_lines": ("product",),
    "opportunities": ("stage", "source"),  # a pipeline stage; the lead channel
    "opportunity_stages": ("from_stage", "to_stage", "rep"),
    "quote_lines": ("product",),  # what was quoted, as an order line's product
    "merges": ("moved",),  # {table: [ids]}: what an unmerge moves back
}

FREE_TEXT_KINDS = ("text", "phone", "email", "tags")


def customer_kinds(entities: Mapping[str, Entity] = ENTITIES) -> list[tuple[str, str]]:
    """(table, field) of every record kind pointing to a customer, in definition order."""
    return [(ent.table, f.name) for ent in entities.values() if ent.table != CUSTOMERS
            for f in ent.fields if f.kind == "ref" and f.ref == CUSTOMERS]


def personal_fields(ent: Entity) -> tuple[str, ...]:
    """The fields of `ent` that an erase scrubs; for a kind not classified in
    PERSONAL_FIELDS (the test forbids one), every free-text field, the safe default."""
    if ent.table in PERSONAL_FIELDS:
        return PERSONAL_FIELDS[ent.table]
    return tuple(f.name for f in ent.fields if f.kind in FREE_TEXT_KINDS)


# Personal fields that a record's state rule needs in some of its states (a resolved
# complaint's resolution and root cause, a lost deal's reason: crm_tui.domain.record_rules): an erase marks
# them rather than empties them, so the record keeps its rule on every replica.
STATE_NEEDED: dict[str, tuple[str, ...]] = {"complaints": ("resolution", "root_cause"),
                                              "opportunities": ("lost_reason",)}


def scrubbed_value(ent: Entity, name: str) -> Any:
    """What a personal field holds after an erase: NULL, or a marker where a value is
    required, by the field or by its record's state (the record stays valid for every
    replica's validation)."""
    if name == "name" and ent.table == CUSTOMERS:
        return ERASED_NAME
    return ERASED_TEXT if ent.field(name).required or name in STATE_NEEDED.get(ent.table, ()) else None


def scrub_values(ent: Entity) -> dict[str, Any]:
    """field -> scrubbed value, for every personal field of `ent`."""
    return {name: scrubbed_value(ent, name) for name in personal_fields(ent)}


# -- what an erase touches ----------------------------------------------------------

# -- who erases, and the erase requests ------------------------------------------------

MANAGER = "manager"
PENDING, DONE, DECLINED = ERASE_REQUEST_STATUSES
# The fields of an erase request that say what a manager decided.
DECISION_FIELDS = ("status", "decided_by", "decided_at", "decision_reason")


def may_decide(role: str | None, *, on_team: bool = True) -> bool:
    """Whether someone of `role` erases a customer and decides erase requests: on a
    team server only a manager; on a laptop with no server, its user. The one rule:
    the laptop asks it before approving or declining, the server on every pushed
    erasure and request."""
    return not on_team or role == MANAGER


def check_request(request: Mapping[str, Any]) -> None:
    """An erase request agrees with its status: a pending one holds no decision; a
    done or declined one says who decided and when, a declined one also why.
    Checked on every write of one, here and by every replica (check_change)."""
    status = request.get("status")
    errors = []
    if status == PENDING:
        errors += [FieldError(name, t("refusal.erase_request.pending_decided"))
                   for name in DECISION_FIELDS[1:] if not _blank(request.get(name))]
    elif status in (DONE, DECLINED):
        needed = DECISION_FIELDS[1:] if status == DECLINED else DECISION_FIELDS[1:3]
        errors += [FieldError(name, t("refusal.erase_request.decision_needs", status=_status_label(status)))
                   for name in needed if _blank(request.get(name))]
    if errors:
        raise ValidationError(errors)


def check_filed(op: str, data: Mapping[str, Any], rep: str) -> None:
    """What `rep`, who may not decide (`may_decide`), writes of an erase request: a
    new one, pending and undecided, in their own name; never a change or a delete
    of one afterwards (its decision is a manager's, and a request withdrawn or
    rewritten by a rep would hide a person's request from the managers)."""
    if op != "insert":
        raise ValidationError.one("status", t("refusal.erase_request.rep_changes"))
    if data.get("requested_by") != rep:
        raise ValidationError.one("requested_by", t("refusal.erase_request.requested_by", rep=rep))
    if data.get("status") != PENDING:
        raise ValidationError.one("status", t("refusal.erase_request.rep_decides", status=_status_label(data.get("status"))))
    for name in DECISION_FIELDS[1:]:
        if not _blank(data.get(name)):
            raise ValidationError.one(name, t("refusal.erase_request.rep_decides", status=_status_label(data.get("status"))))


def _status_label(code: Any) -> str:
    return choice_label(ENTITIES[ERASE_REQUESTS], "status", code) or str(code)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# Record kinds about privacy itself: they name no one and are never scrubbed.
PRIVACY_KINDS = frozenset({ERASURES, ERASE_REQUESTS})


def person_kinds(entities: Mapping[str, Entity] = ENTITIES) -> list[tuple[str, str]]:
    """(table, customer field) of the record kinds that hold data about a customer."""
    return [(kind, f) for kind, f in customer_kinds(entities) if kind not in PRIVACY_KINDS]


def scrub_plan(entities: Mapping[str, Entity] = ENTITIES) -> dict[str, dict[str, Any]]:
    """table -> {personal field: the value it gets}, for customers and every kind about them."""
    return {kind: scrub_values(entities[kind]) for kind in (CUSTOMERS, *(k for k, _ in person_kinds(entities)))}


def scrub_fields(values: Mapping[str, Any] | None, table: str, plan: Mapping[str, Mapping[str, Any]]) -> Any:
    """A change's `data` or `old` with the personal fields it holds scrubbed (the
    fields it does not hold stay absent: the change still writes only what it wrote)."""
    if values is None:
        return None
    scrubbed = plan.get(table, {})
    return {k: scrubbed.get(k, v) for k, v in values.items()}


# -- masking for sharing ----------------------------------------------------------------

def mask_phone(value: str) -> str:
    """'+8613812345678' -> '+86138****5678', '13812345678' -> '138****5678': the
    carrier prefix and the last four digits stay, as Chinese sites show them."""
    if len(value) >= 11:
        return value[:-8] + "****" + value[-4:]
    if len(value) > 4:
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return "*" * len(value)


def mask_email(value: str) -> str:
    """'zhang.wei@example.com' -> 'z***@example.com'."""
    local, at, domain = value.partition("@")
    if not at:
        return mask_text(value)
    return (local[:1] or "*") + "***@" + domain


def mask_text(value: str, keep: int = 1) -> str:
    """A name or handle: its first character(s) and stars ('张伟' -> '张*')."""
    if not value:
        return value
    keep = min(keep, max(len(value) - 1, 0))
    return value[:keep] + "*" * max(len(value) - keep, 1)


def mask_address(value: str) -> str:
    """The city-level start of an address and stars ('上海市浦东新区世纪大道100号' -> '上海市浦东新****')."""
    keep = min(6, len(value) // 2)
    return value[:keep] + "****"


# field name -> how it is masked; phones and emails are also found by their kind.
_MASK_BY_NAME = {"name": mask_text, "address": mask_address, "wechat": lambda v: mask_text(v, 2),
                 "customer_name": mask_text}
_MASK_BY_KIND = {"phone": mask_phone, "email": mask_email}


def mask_value(ent: Entity | None, name: str, value: Any) -> Any:
    """The masked form of one field's value (others unchanged)."""
    if not isinstance(value, str) or not value:
        return value
    kind = None
    if ent is not None and name in ent.field_names:
        kind = ent.field(name).kind
    how = _MASK_BY_KIND.get(kind or "") or _MASK_BY_NAME.get(name)
    if how is None and name in ("phone", "mobile"):
        how = mask_phone
    if how is None and name == "email":
        how = mask_email
    return how(value) if how else value


def mask_record(ent: Entity | None, record: Mapping[str, Any]) -> dict[str, Any]:
    """A record with its phones, emails, address, WeChat and name masked, for sending
    outside the team. The one masking function: exports and reports call it."""
    return {k: mask_value(ent, k, v) for k, v in record.items()}


def mask_rows(ent: Entity | None, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [mask_record(ent, r) for r in rows]


# The lists of a report (`Analytics.report_data`) whose rows are customers.
REPORT_CUSTOMER_LISTS = ("top_customers", "at_risk", "win_back")


def mask_report(data: Mapping[str, Any]) -> dict[str, Any]:
    """Report data with the customers it names masked, for sending outside the team."""
    out = dict(data)
    for key in REPORT_CUSTOMER_LISTS:
        if key in out:
            out[key] = mask_rows(ENTITIES[CUSTOMERS], out[key])
    return out


def unclassified_fields(entities: Mapping[str, Entity] = ENTITIES) -> list[str]:
    """'table.field' of every text field of a kind about a customer that is neither
    personal nor kept, and 'table' of such a kind not classified at all."""
    out: list[str] = []
    for table in [CUSTOMERS, *(k for k, _ in person_kinds(entities))]:
        if table not in PERSONAL_FIELDS:
            out.append(table)
            continue
        classified = set(PERSONAL_FIELDS[table]) | set(KEPT_FIELDS.get(table, ()))
        out += [f"{table}.{f.name}" for f in entities[table].fields
                if f.kind in FREE_TEXT_KINDS and f.name not in classified]
    return out
