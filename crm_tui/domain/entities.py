"""The record kinds of the CRM and their fields: the one place that says what a
customer, contact, visit, complaint or order holds. The schema, the validators, the change
capture triggers, the CLI and the forms are all generated from these tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, get_args

from crm_tui.domain.search import customer_pinyin, folded_text

# The decimals a B2B catalogue and its orders need (docs/cli.md): a unit price of a
# component sold by the thousand (0.0035), a quantity of 2.125 kg or 1.5 m; a discount
# of 12.5 %. Amounts, the sums of money, are to the cent (kind "money").
UNIT_PRICE_DECIMALS = 6
QUANTITY_DECIMALS = 4
DISCOUNT_DECIMALS = 2

# Enumerations use stable English codes in storage; the UI translates them.
VISIT_CHANNELS = ("face_to_face", "phone", "sms", "email", "wechat", "other")
VISIT_PURPOSES = ("visit", "follow_up", "care", "holiday_greeting", "win_back")
COMPLAINT_CHANNELS = VISIT_CHANNELS
COMPLAINT_TYPES = ("product_quality", "delivery", "service_attitude", "price", "billing", "other")
COMPLAINT_PRIORITIES = ("low", "medium", "high", "urgent")
COMPLAINT_STATUSES = ("new", "acknowledged", "in_progress", "resolved", "closed")
CUSTOMER_STATUSES = ("potential", "new", "loyal", "churned")
LIFECYCLE_STAGES = ("exploration", "formation", "stability", "decline")
TIERS = ("A", "B", "C")
COMPANY_SIZES = ("micro", "small", "medium", "large", "enterprise")
PURCHASING_POWER = ("low", "medium", "high")
ORDER_STATUSES = ("draft", "confirmed", "delivered", "paid", "cancelled")
# The words an order system or a rep writes for them (imports of orders with lines).
ORDER_STATUS_WORDS = (("草稿", "draft"), ("已确认", "confirmed"), ("确认", "confirmed"), ("已发货", "delivered"),
                      ("已交付", "delivered"), ("已付款", "paid"), ("已支付", "paid"), ("已取消", "cancelled"),
                      ("取消", "cancelled"))
# Contacts (联系人): their role in the buying decision and attitude, for the power map.
CONTACT_ROLES = ("decision_maker", "influencer", "user", "gatekeeper", "coach")
CONTACT_ATTITUDES = ("supporter", "neutral", "opponent")
# The Chinese words reps type for these codes, accepted wherever a code is.
CONTACT_ROLE_WORDS = (("决策者", "decision_maker"), ("影响者", "influencer"), ("使用者", "user"),
                      ("把关者", "gatekeeper"), ("内线", "coach"))
CONTACT_ATTITUDE_WORDS = (("支持", "supporter"), ("中立", "neutral"), ("反对", "opponent"))


# A text field at least this long is long text, of several lines (Field.multiline).
LONG_TEXT = 2000


@dataclass(frozen=True)
class Field:
    name: str
    # text | phone | email | date | datetime | enum | int | money | ref | tags
    # | refs (comma-separated ids of `ref` records, e.g. the contacts a visit met) | bool (1 or 0)
    # | percent (a whole percent 0..100, typed with or without %)
    # | decimal (a number of at most `decimals` decimals, kept exactly: unit prices,
    #   quantities; more decimals are refused) | money (an amount, to the cent, half up)
    kind: str = "text"
    required: bool = False
    max_len: int = 200
    choices: tuple[str, ...] = ()
    ref: str | None = None  # for kind "ref": the entity it points to
    label: str = ""  # English label; the UI catalog translates
    # Computed by the classification from orders and contacts (docs/analytics.md):
    # stored on each laptop for lists and filters, never captured nor synced (each
    # replica computes the same from the same synced data), never typed by users; a
    # rep sets it by hand with a manual classification (an override, which syncs).
    computed: bool = False
    # for kind "enum": other words accepted for a code, as (word, code) pairs
    aliases: tuple[tuple[str, str], ...] = ()
    # for kind "decimal": the decimals it keeps (crm_tui.domain.validation.normalize_decimal)
    decimals: int = 2
    # for kind "decimal": a percent, which may be written with its sign (a discount of 5%)
    percent: bool = False
    # what a new record holds when the field is left out or blank, on every path that
    # creates one (crm_tui.domain.validation.clean): a form, `add`, an import, a script
    default: str | None = None

    @cached_property  # asked of every non-ASCII text an import checks
    def multiline(self) -> bool:
        """Long text (notes, a complaint's description, a resolution): it keeps its line
        breaks and tabs and gets a multi-line editor. Every other field is one line, and
        a line break or another control character in it is refused (crm_tui.domain.
        validation.clean_value)."""
        return self.kind == "text" and self.max_len >= LONG_TEXT

    @property
    def sql_type(self) -> str:
        return {"int": "INTEGER", "bool": "INTEGER", "percent": "INTEGER", "money": "REAL",
                "decimal": "REAL"}.get(self.kind, "TEXT")


# What a change does to a record: the change log's op (its CHECK in the schema), the
# wire's (sync.protocol) and those a pulled change may have (api.sync_apply). Here, in
# the module every writer loads, not in the change rules.
Op = Literal["insert", "update", "delete"]
OPS: tuple[str, ...] = get_args(Op)


@dataclass(frozen=True)
class Derived:
    """A column the API computes from a record's fields, kept beside the record on
    each laptop and never synced nor captured (every replica computes its own). The
    one declaration every write path uses (`derive`): forms, CLI, import, seed,
    conflict resolution, and sync for pulled records."""

    column: str
    sources: tuple[str, ...]  # the fields it is computed from: recomputed when one changes
    compute: Callable[[Mapping[str, Any]], Any]  # the whole record -> the value
    # The rule's version: a rule that gives other values for stored records moves it
    # on, and each laptop makes the column anew once (Crm, on opening the database).
    version: int = 1


# The pinyin search key of a person's name (customers, contacts). Version 2: the name
# read character by character, no longer by pypinyin's phrases (柏林 bailin, not bolin).
NAME_PINYIN = Derived("pinyin", ("name",), lambda r: customer_pinyin(r.get("name")), version=2)


def search_folded(fields: tuple[str, ...]) -> Derived:
    """The searched fields of a customer or contact as search folds them, where SQL's
    lower() would not (crm_tui.domain.search.folded_text): the search text's triggers
    take this column in their place. `fields` in the order the search text holds them."""
    return Derived("folded", fields, lambda r: folded_text(r, fields))


@dataclass(frozen=True)
class Entity:
    name: str  # singular, e.g. "customer"
    table: str  # e.g. "customers"
    fields: tuple[Field, ...]
    # derived columns kept beside the record but never synced nor captured
    derived: tuple[Derived, ...] = ()
    # customers: what the search index holds; a customer's records: their own text
    # fields that a search matches besides their customer's name, pinyin and phones
    searchable: tuple[str, ...] = ()
    list_columns: tuple[str, ...] = ()
    default_order: str = "updated_at DESC"
    # SQL to sort by a field when its plain value would sort wrong
    sort_exprs: tuple[tuple[str, str], ...] = ()
    # fields that only the record's workflow moves (see crm_tui.domain.complaints)
    workflow_fields: tuple[str, ...] = ()
    # only a manager creates, changes or deletes these (the server refuses reps)
    manager_only: bool = False
    # fields whose value no two records share (a product's SKU), checked by the API
    unique: tuple[str, ...] = ()
    # for a record of no customer that concerns one rep (a rep's target): the field
    # naming that rep. A team server sends it only to that rep and the managers (to
    # everyone when the field is blank); see crm_tui.domain.changes.rep_scope_of.
    rep_field: str | None = None
    # the record's owner is its customer's (a manual classification): writing it again
    # with that owner changes no one's record, as when an unmerge brings it back
    owner_is_customers: bool = False

    # Cached: a pull checks every field of thousands of changes by name.
    @cached_property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @cached_property
    def fields_by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @cached_property
    def input_names(self) -> tuple[str, ...]:
        """The fields users type (forms, CLI options, imports): not the computed ones."""
        return tuple(f.name for f in self.fields if not f.computed)

    @cached_property
    def computed_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.computed)

    @cached_property
    def required_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @cached_property
    def defaults(self) -> tuple[tuple[str, str], ...]:
        """(field, value) of the fields a new record holds unless given (Field.default)."""
        return tuple((f.name, f.default) for f in self.fields if f.default is not None)

    def field(self, name: str) -> Field:
        try:
            return self.fields_by_name[name]
        except KeyError:
            raise KeyError(name) from None


# Columns every record has, managed by the API, not typed by users.
SYSTEM_COLUMNS = ("id", "owner", "created_at", "updated_at")

CUSTOMER = Entity(
    name="customer",
    table="customers",
    fields=(
        Field("name", required=True, max_len=100, label="Name"),
        Field("company", max_len=200, label="Company"),
        Field("title", max_len=100, label="Title"),
        Field("phone", kind="phone", max_len=32, label="Phone"),
        Field("mobile", kind="phone", max_len=32, label="Mobile"),
        Field("email", kind="email", max_len=254, label="Email"),
        Field("wechat", max_len=64, label="WeChat"),
        Field("address", max_len=300, label="Address"),
        Field("region", max_len=64, label="Region"),
        Field("industry", max_len=64, label="Industry"),
        Field("company_size", kind="enum", choices=COMPANY_SIZES, label="Company size"),
        Field("purchasing_power", kind="enum", choices=PURCHASING_POWER, label="Purchasing power"),
        Field("source", max_len=64, label="Source"),
        Field("tags", kind="tags", max_len=500, label="Tags"),
        Field("territory", max_len=64, label="Territory"),
        Field("birthday", kind="date", label="Birthday"),
        # When they became a customer, from an imported history (成为客户日期); without
        # it, customer counts use the first order or visit, else the creation day.
        Field("customer_since", kind="date", label="Customer since"),
        Field("status", kind="enum", choices=CUSTOMER_STATUSES, label="Status", computed=True),
        Field("lifecycle_stage", kind="enum", choices=LIFECYCLE_STAGES, label="Lifecycle stage", computed=True),
        Field("tier", kind="enum", choices=TIERS, label="Tier", computed=True),
        Field("notes", max_len=20000, label="Notes"),
    ),
    derived=(NAME_PINYIN, search_folded(("name", "company", "phone", "mobile", "email"))),
    searchable=("name", "company", "phone", "mobile", "email", "pinyin"),
    # most useful first: a table too wide leaves out the last (the UI's list keeps
    # status, tier and owner before region and industry too)
    list_columns=("name", "company", "phone", "status", "tier", "owner", "region", "industry"),
    # Chinese names sort by their pinyin, among the English ones (张伟 by "zhangwei");
    # pinyin is '' for a name without Chinese characters.
    default_order="coalesce(nullif(pinyin, ''), lower(name))",
    sort_exprs=(("name", "coalesce(nullif(pinyin, ''), lower(name))"),),
)

VISIT = Entity(
    name="visit",
    table="visits",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("visited_at", kind="datetime", required=True, label="Date"),
        Field("channel", kind="enum", choices=VISIT_CHANNELS, required=True, label="Channel"),
        Field("purpose", kind="enum", choices=VISIT_PURPOSES, required=True, label="Purpose"),
        Field("notes", max_len=20000, label="Notes"),
        Field("outcome", max_len=2000, label="Outcome"),
        Field("next_action", max_len=500, label="Next action"),
        Field("next_action_date", kind="date", label="Next action date"),
        Field("follow_up_done", kind="int", label="Follow-up done"),
        # migration 9: the customer's contacts met (ids; the API also takes their names)
        Field("contact_ids", kind="refs", ref="contacts", max_len=2000, label="Contacts met"),
    ),
    list_columns=("visited_at", "customer_id", "channel", "purpose", "outcome", "next_action_date"),
    default_order="visited_at DESC",
)

COMPLAINT = Entity(
    name="complaint",
    table="complaints",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("received_at", kind="datetime", required=True, label="Received"),
        Field("channel", kind="enum", choices=COMPLAINT_CHANNELS, label="Channel"),
        Field("type", kind="enum", choices=COMPLAINT_TYPES, required=True, label="Type"),
        Field("cause", max_len=500, label="Cause"),
        Field("product", max_len=200, label="Product"),
        Field("description", max_len=20000, required=True, label="Description"),
        Field("priority", kind="enum", choices=COMPLAINT_PRIORITIES, required=True, label="Priority"),
        Field("status", kind="enum", choices=COMPLAINT_STATUSES, required=True, label="Status"),
        Field("handler", max_len=100, label="Handler"),
        Field("due_at", kind="datetime", label="Due"),
        Field("acknowledged_at", kind="datetime", label="Acknowledged"),
        Field("first_response_at", kind="datetime", label="First response"),
        Field("resolution", max_len=5000, label="Resolution"),
        Field("root_cause", max_len=2000, label="Root cause"),
        Field("resolved_at", kind="datetime", label="Resolved"),
        Field("closed_at", kind="datetime", label="Closed"),
    ),
    searchable=("description", "product", "cause", "handler"),
    # most useful first (a narrow terminal shows the first that fit): where each stands and when it is due
    list_columns=("customer_id", "status", "priority", "due_at", "type", "received_at", "handler"),
    workflow_fields=("status", "acknowledged_at", "first_response_at", "resolved_at", "closed_at"),
    default_order="received_at DESC",
)

ORDER = Entity(
    name="order",
    table="orders",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("ordered_at", kind="date", required=True, label="Date"),
        Field("product", max_len=200, required=True, label="Product"),
        Field("quantity", kind="int", label="Quantity"),
        Field("amount", kind="money", required=True, label="Amount"),
        Field("notes", max_len=5000, label="Notes"),
        # migration 11: the order's status, and for a refund (退款) the order it refunds;
        # product, quantity and amount then sum up its lines (crm_tui.domain.orders)
        Field("status", kind="enum", choices=ORDER_STATUSES, aliases=ORDER_STATUS_WORDS, label="Status",
              default="confirmed"),
        Field("refund_of", kind="ref", ref="orders", label="Refund of"),
    ),
    searchable=("product", "notes"),
    # most important first: the CLI leaves out the last ones when the terminal is narrow
    list_columns=("ordered_at", "customer_id", "amount", "status", "product", "quantity"),
    default_order="ordered_at DESC",
)

# Order lines (migration 11): a product of the catalogue (or free text, for old orders),
# quantity, unit price and discount. customer_id repeats the order's: it is the scope
# sync uses to send a line only to those who see its customer.
ORDER_LINE = Entity(
    name="order line",
    table="order_lines",
    fields=(
        Field("order_id", kind="ref", ref="orders", required=True, label="Order"),
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("product_id", kind="ref", ref="products", label="Catalogue product"),
        Field("product", max_len=200, required=True, label="Product"),
        Field("quantity", kind="decimal", decimals=QUANTITY_DECIMALS, required=True, label="Quantity"),
        Field("unit_price", kind="decimal", decimals=UNIT_PRICE_DECIMALS, required=True, label="Unit price"),
        Field("discount", kind="decimal", decimals=DISCOUNT_DECIMALS, percent=True, label="Discount %"),
        Field("amount", kind="money", required=True, label="Amount"),
    ),
    list_columns=("order_id", "product", "quantity", "unit_price", "discount", "amount"),
    default_order="order_id, created_at",
)

# Analytics (migration 3): satisfaction surveys, C = perceived / expected.
SURVEY = Entity(
    name="survey",
    table="surveys",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("surveyed_at", kind="date", required=True, label="Date"),
        Field("expected", kind="money", required=True, label="Expected (a)"),
        Field("perceived", kind="money", required=True, label="Perceived (b)"),
        Field("complaint_id", kind="ref", ref="complaints", label="Complaint"),
        Field("notes", max_len=5000, label="Notes"),
    ),
    list_columns=("surveyed_at", "customer_id", "expected", "perceived", "complaint_id"),
    default_order="surveyed_at DESC",
)

# Analytics (migration 3): a rep's manual classification of a customer, with the
# reason; its id is the customer's id, so edits on two laptops merge field by field.
CLASSIFICATION_OVERRIDE = Entity(
    name="classification override",
    table="classification_overrides",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("status", kind="enum", choices=CUSTOMER_STATUSES, label="Status"),
        Field("lifecycle_stage", kind="enum", choices=LIFECYCLE_STAGES, label="Lifecycle stage"),
        Field("tier", kind="enum", choices=TIERS, label="Tier"),
        Field("reason", required=True, max_len=1000, label="Reason"),
    ),
    list_columns=("customer_id", "status", "lifecycle_stage", "tier", "reason"),
    owner_is_customers=True,  # crm_tui.api.analytics.set_override
)

# Privacy (migration 6, docs/privacy.md): the fact that a customer was erased, synced
# so every replica scrubs them; its id is the erased customer's id. Names no one.
ERASURE = Entity(
    name="erasure",
    table="erasures",
    fields=(
        Field("erased_at", kind="datetime", required=True, label="Erased"),
        Field("erased_by", required=True, max_len=100, label="Erased by"),
        Field("reason", max_len=500, label="Reason"),
        Field("request_id", max_len=64, label="Request"),
    ),
    list_columns=("erased_at", "erased_by", "reason"),
    default_order="erased_at DESC",
)

ERASE_REQUEST_STATUSES = ("pending", "done", "declined")

# A rep's request that a manager erase a customer (only managers erase on a team server).
ERASE_REQUEST = Entity(
    name="erase request",
    table="erase_requests",
    fields=(
        # The customer stays (anonymous) after an erase, so the request keeps its ref:
        # it is seen by the customer's rep and the managers.
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("requested_by", required=True, max_len=100, label="Requested by"),
        Field("reason", max_len=500, label="Reason"),
        Field("status", kind="enum", choices=ERASE_REQUEST_STATUSES, required=True, label="Status"),
        Field("decided_by", max_len=100, label="Decided by"),
        Field("decided_at", kind="datetime", label="Decided"),
        Field("decision_reason", max_len=500, label="Decision reason"),
    ),
    list_columns=("created_at", "customer_id", "requested_by", "status", "reason", "decision_reason"),
    default_order="created_at DESC",
)

# Contacts (migration 9): the people of a customer, synced in their customer's scope.
CONTACT = Entity(
    name="contact",
    table="contacts",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("name", required=True, max_len=100, label="Name"),
        Field("title", max_len=100, label="Title"),
        Field("department", max_len=100, label="Department"),
        Field("phone", kind="phone", max_len=32, label="Phone"),
        Field("mobile", kind="phone", max_len=32, label="Mobile"),
        Field("email", kind="email", max_len=254, label="Email"),
        Field("wechat", max_len=64, label="WeChat"),
        Field("role", kind="enum", choices=CONTACT_ROLES, aliases=CONTACT_ROLE_WORDS, label="Role"),
        Field("attitude", kind="enum", choices=CONTACT_ATTITUDES, aliases=CONTACT_ATTITUDE_WORDS,
              label="Attitude"),
        Field("notes", max_len=20000, label="Notes"),
    ),
    derived=(NAME_PINYIN, search_folded(("name", "phone", "mobile", "email"))),
    list_columns=("name", "customer_id", "title", "department", "role", "attitude", "mobile", "email"),
    default_order="customer_id, coalesce(nullif(pinyin, ''), lower(name))",
    sort_exprs=(("name", "coalesce(nullif(pinyin, ''), lower(name))"),),
)

# Products (migration 10): the catalogue, synced whole to every laptop (no customer
# scope: a rep needs all of it offline); on a team server only managers change it.
PRODUCT = Entity(
    name="product",
    table="products",
    fields=(
        Field("sku", required=True, max_len=64, label="SKU"),
        Field("name", required=True, max_len=200, label="Name"),
        Field("category", max_len=100, label="Category"),
        Field("unit", max_len=20, label="Unit"),
        Field("list_price", kind="decimal", decimals=UNIT_PRICE_DECIMALS, label="List price"),
        Field("active", kind="bool", label="Active"),
        Field("notes", max_len=5000, label="Notes"),
    ),
    unique=("sku",),
    manager_only=True,
    list_columns=("sku", "name", "category", "unit", "list_price", "active"),
    default_order="sku",
)

ENTITIES: dict[str, Entity] = {e.table: e for e in (CUSTOMER, VISIT, COMPLAINT, ORDER, SURVEY,
                                                    CLASSIFICATION_OVERRIDE)}
ENTITIES.update({e.table: e for e in (ERASURE, ERASE_REQUEST)})
ENTITIES.update({e.table: e for e in (CONTACT, PRODUCT, ORDER_LINE)})  # issue 13

# -- Sales pipeline (docs/pipeline.md) --------------------------------------------------
# An opportunity's stage is a stage id from the configured stages (crm_tui.domain.
# opportunities.PipelineSettings), so it is plain text here; the opportunity use case
# checks it. probability is None for "the stage's default".
OPPORTUNITY = Entity(
    name="opportunity",
    table="opportunities",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("title", required=True, max_len=200, label="Title"),
        Field("amount", kind="money", required=True, label="Amount"),
        Field("stage", required=True, max_len=32, label="Stage"),
        # a whole percent, 50 or 50% (crm_tui.domain.validation.normalize_percent)
        Field("probability", kind="percent", label="Probability %"),
        Field("close_date", kind="date", label="Expected close"),
        Field("source", max_len=64, label="Source"),
        Field("next_step", max_len=500, label="Next step"),
        Field("next_step_date", kind="date", label="Next step date"),
        Field("notes", max_len=20000, label="Notes"),
        Field("closed_on", kind="date", label="Won/lost on"),
        Field("lost_reason", max_len=1000, label="Lost reason"),
        Field("order_id", kind="ref", ref="orders", label="Order"),
        # migration 14: the products of the catalogue the deal is about (ids; the API
        # also takes SKUs); a quotation made from the deal starts with them
        Field("product_ids", kind="refs", ref="products", max_len=2000, label="Products"),
    ),
    list_columns=("title", "customer_id", "stage", "amount", "probability", "close_date", "owner"),
    default_order="close_date",
)

# One stage move of an opportunity (when, from, to, by whom): the history and the
# funnel read these. customer_id scopes it on the server like the opportunity itself.
STAGE_CHANGE = Entity(
    name="stage change",
    table="opportunity_stages",
    fields=(
        Field("opportunity_id", kind="ref", ref="opportunities", required=True, label="Opportunity"),
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("from_stage", max_len=32, label="From"),
        Field("to_stage", required=True, max_len=32, label="To"),
        Field("moved_at", kind="datetime", required=True, label="When"),
        Field("rep", max_len=100, label="By"),
    ),
    list_columns=("moved_at", "opportunity_id", "from_stage", "to_stage", "rep"),
    default_order="moved_at",
)

# A sales target of one rep (rep set) or of the team (rep empty) for a period label
# (2026-Q3, 2026-11, 2026); its id is derived from both, so two managers setting the
# same target merge into one record.
TARGET = Entity(
    name="target",
    table="targets",
    fields=(
        Field("rep", max_len=100, label="Rep"),
        Field("period", required=True, max_len=32, label="Period"),
        Field("amount", kind="money", required=True, label="Target"),
    ),
    list_columns=("period", "rep", "amount"),
    default_order="period",
    manager_only=True,
    rep_field="rep",  # a rep receives their own targets and the team's, a manager all
)

ENTITIES.update({e.table: e for e in (OPPORTUNITY, STAGE_CHANGE, TARGET)})

# -- Quotations (报价单, migration 14; docs/pipeline.md) ----------------------------------
QUOTE_STATUSES = ("draft", "sent", "accepted", "declined")
# The words a rep writes for them (a file of quotations, an edit).
QUOTE_STATUS_WORDS = (("草稿", "draft"), ("已发送", "sent"), ("已发出", "sent"), ("已接受", "accepted"),
                      ("已拒绝", "declined"), ("已谢绝", "declined"))

# A quotation for a customer, from one of their opportunities or not: its amount is the
# sum of its lines (crm_tui.domain.quotes); accepting it makes its order (order_id).
QUOTE = Entity(
    name="quotation",
    table="quotes",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("opportunity_id", kind="ref", ref="opportunities", label="Opportunity"),
        Field("title", max_len=200, label="Title"),
        Field("quoted_on", kind="date", required=True, label="Date"),
        Field("valid_until", kind="date", required=True, label="Valid until"),
        Field("status", kind="enum", choices=QUOTE_STATUSES, aliases=QUOTE_STATUS_WORDS, required=True,
              label="Status"),
        Field("amount", kind="money", required=True, label="Total"),
        Field("terms", max_len=5000, label="Terms"),
        Field("notes", max_len=5000, label="Notes"),
        Field("order_id", kind="ref", ref="orders", label="Order"),
    ),
    list_columns=("quoted_on", "customer_id", "title", "amount", "status", "valid_until"),
    default_order="quoted_on DESC",
)

# Its lines, as an order's: a product of the catalogue or free text, quantity, unit
# price, discount %; position keeps their order. customer_id scopes them like the quote.
QUOTE_LINE = Entity(
    name="quotation line",
    table="quote_lines",
    fields=(
        Field("quote_id", kind="ref", ref="quotes", required=True, label="Quotation"),
        Field("customer_id", kind="ref", ref="customers", required=True, label="Customer"),
        Field("position", kind="int", label="Line"),
        Field("product_id", kind="ref", ref="products", label="Catalogue product"),
        Field("product", max_len=200, required=True, label="Product"),
        Field("quantity", kind="decimal", decimals=QUANTITY_DECIMALS, required=True, label="Quantity"),
        Field("unit_price", kind="decimal", decimals=UNIT_PRICE_DECIMALS, required=True, label="Unit price"),
        Field("discount", kind="decimal", decimals=DISCOUNT_DECIMALS, percent=True, label="Discount %"),
        Field("amount", kind="money", required=True, label="Amount"),
    ),
    list_columns=("quote_id", "position", "product", "quantity", "unit_price", "discount", "amount"),
    default_order="quote_id, position",
)

ENTITIES.update({e.table: e for e in (QUOTE, QUOTE_LINE)})

# -- Merges of duplicate customers (整合和去重, issue 13) ------------------------------------
MERGE_STATUSES = ("merged", "undone")

# A merge of two customers (整合, migration `_merges`; crm_tui.api.merging): the kept customer
# (customer_id, its scope: those who see it see the merge), the one merged into it and
# deleted (other_id), what moved and what it replaced, so that it can be undone. The
# re-pointed records and the other's deletion are captured edits of the same
# transaction; this record is what every replica and the server see as the merge.
MERGE = Entity(
    name="merge",
    table="merges",
    fields=(
        Field("customer_id", kind="ref", ref="customers", required=True, label="Kept customer"),
        Field("other_id", kind="ref", ref="customers", required=True, label="Merged customer"),
        Field("merged_at", kind="datetime", required=True, label="Merged"),
        Field("status", kind="enum", choices=MERGE_STATUSES, required=True, label="Status"),
        # JSON: {table: [ids]} of the records moved from the other customer
        Field("moved", max_len=1_000_000, label="Moved records"),
        # JSON: {field: [kept customer's value before, value taken from the other]}
        Field("taken", max_len=100_000, label="Fields taken"),
        # JSON: the other customer's fields as they were (its record comes back on undo)
        Field("other_record", max_len=100_000, label="Merged customer's record"),
        Field("undone_at", kind="datetime", label="Undone"),
    ),
    list_columns=("merged_at", "customer_id", "other_id", "status", "owner"),
    default_order="merged_at DESC",
)
ENTITIES[MERGE.table] = MERGE


def entity(table: str) -> Entity:
    try:
        return ENTITIES[table]
    except KeyError:
        raise KeyError(f"unknown record kind {table!r}; expected one of {', '.join(ENTITIES)}") from None


def record_columns(ent: Entity) -> tuple[str, ...]:
    """What a record of `ent` holds: the system columns, then its fields."""
    return (*SYSTEM_COLUMNS, *ent.field_names)


def derived_columns(ent: Entity) -> tuple[str, ...]:
    return tuple(d.column for d in ent.derived)


def stored_columns(ent: Entity) -> tuple[str, ...]:
    """Every column the API writes: the record's, then the derived ones."""
    return (*record_columns(ent), *derived_columns(ent))


def synced_columns(ent: Entity) -> tuple[str, ...]:
    """Columns whose changes are captured and synced (the derived ones are local).
    The one source of the synced column set for change capture, the server's checks
    and the wire."""
    return tuple(c for c in record_columns(ent) if c != "id" and c not in ent.computed_names)


_SYNCED_SETS: dict[str, frozenset[str]] = {}


def synced_column_set(ent: Entity) -> frozenset[str]:
    """`synced_columns` as a set, made once per kind: every pulled and pushed change
    is checked against it."""
    found = _SYNCED_SETS.get(ent.table)
    if found is None:
        found = _SYNCED_SETS[ent.table] = frozenset(synced_columns(ent))
    return found


# Columns kept beside records but never synced, on every table: every derived column,
# the local rowid the search index points at, and a customer's `contact_search` (its
# contacts' search text, kept by triggers).
LOCAL_ONLY_COLUMNS = frozenset({"local_id", "contact_search"}
                               | {d.column for e in ENTITIES.values() for d in e.derived})


def local_only_columns(table: str) -> frozenset[str]:
    """The columns of `table` that stay on this laptop: LOCAL_ONLY_COLUMNS and the
    computed fields (a customer's classes)."""
    ent = ENTITIES.get(table)
    return LOCAL_ONLY_COLUMNS | frozenset(ent.computed_names if ent else ())


def derive(ent: Entity, record: Mapping[str, Any], changed: Iterable[str] | None = None) -> dict[str, Any]:
    """The derived columns of `record` (the whole record, after the write); with
    `changed`, only those computed from a changed field."""
    if not ent.derived:
        return {}
    if changed is None:
        return {d.column: d.compute(record) for d in ent.derived}
    keys = set(changed)
    return {d.column: d.compute(record) for d in ent.derived if keys.intersection(d.sources)}

