"""The rules of a quotation (报价单): its totals from its lines (each line's amount is
an order line's, crm_tui.domain.orders.line_amount), its validity, and the state a
stored quote must agree with. Pure: no IO."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from crm_tui.domain.entities import (
    DISCOUNT_DECIMALS,
    QUANTITY_DECIMALS,
    QUOTE_STATUS_WORDS,
    QUOTE_STATUSES,
    UNIT_PRICE_DECIMALS,
    Entity,
    Field,
)
from crm_tui.domain.orders import line_amount, lines_total
from crm_tui.domain.validation import FieldError, ValidationError
from crm_tui.i18n import t

ACCEPTED = "accepted"
DECLINED = "declined"
# A quote is valid this many days unless --valid-until says otherwise.
DEFAULT_VALID_DAYS = 30


def quote_totals(lines: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """What a quote's foot shows: `subtotal` (quantity × unit price, before discounts),
    `discount` (what the discounts take off) and `total` (the sum of the lines'
    amounts, each rounded to the cent as on the order it becomes)."""
    # Each line before its discount is rounded as its amount is (line_amount), so a
    # quote without discounts has a subtotal equal to its total, to the cent.
    subtotal = sum((Decimal(str(line_amount(line["quantity"], line["unit_price"], None))) for line in lines),
                   Decimal(0))
    total = Decimal(str(lines_total(lines)))
    return {"subtotal": float(subtotal), "discount": float(subtotal - total), "total": float(total)}


def valid_until_default(quoted_on: str) -> str:
    return (dt.date.fromisoformat(quoted_on) + dt.timedelta(days=DEFAULT_VALID_DAYS)).isoformat()


def expired(quote: Mapping[str, Any], today: dt.date) -> bool:
    """An open quote (not accepted nor declined) whose validity has passed."""
    return quote.get("status") not in (ACCEPTED, DECLINED) and str(quote.get("valid_until") or "9999") \
        < today.isoformat()


def check_record(quote: Mapping[str, Any]) -> None:
    """A stored quote agrees with itself: valid from its date on, and accepted exactly
    when it has its order (only accepting makes both: `crm quotes accept`)."""
    errors: list[FieldError] = []
    if quote.get("valid_until") and quote.get("quoted_on") and quote["valid_until"] < quote["quoted_on"]:
        errors.append(FieldError("valid_until", t("reason.quote.valid_until", date=quote["quoted_on"])))
    if quote.get("status") == ACCEPTED and not quote.get("order_id"):
        errors.append(FieldError("status", t("reason.quote.accepted")))
    if quote.get("order_id") and quote.get("status") != ACCEPTED:
        errors.append(FieldError("order_id", t("reason.quote.order_id")))
    if errors:
        raise ValidationError(errors)


# The quotations file format (`crm quotes import` / `export`, docs/cli.md): one row per
# line, the rows of one quote sharing its key (报价单号); the quote's own fields on any
# of its rows (blank on the others, or the same), as the order-lines file. Not a stored
# kind: the columns a file may have. `amount` is the line's, checked against what its
# quantity, price and discount make when given (a sheet edited by hand).
QUOTE_LINE_ROW = Entity(
    name="quotation line row",
    table="quote_line_rows",
    fields=(
        Field("quote", required=True, max_len=64, label="Quotation"),
        Field("customer_id", kind="ref", ref="customers", label="Customer"),
        Field("opportunity_id", kind="ref", ref="opportunities", label="Opportunity"),
        Field("title", max_len=200, label="Title"),
        Field("quoted_on", kind="date", label="Date"),
        Field("valid_until", kind="date", label="Valid until"),
        Field("status", kind="enum", choices=QUOTE_STATUSES, aliases=QUOTE_STATUS_WORDS, label="Status"),
        Field("terms", max_len=5000, label="Terms"),
        Field("notes", max_len=5000, label="Notes"),
        Field("order_id", kind="ref", ref="orders", label="Order"),
        Field("position", kind="int", label="Line"),
        Field("sku", max_len=64, label="SKU"),
        Field("product", max_len=200, label="Product"),
        Field("quantity", kind="decimal", decimals=QUANTITY_DECIMALS, label="Quantity"),
        Field("unit_price", kind="decimal", decimals=UNIT_PRICE_DECIMALS, label="Unit price"),
        Field("discount", kind="decimal", decimals=DISCOUNT_DECIMALS, percent=True, label="Discount %"),
        Field("amount", kind="money", label="Amount"),
    ),
)
# The fields of the quote itself, the same on every row of one quote.
QUOTE_ROW_FIELDS = ("customer_id", "opportunity_id", "title", "quoted_on", "valid_until", "status", "terms",
                    "notes", "order_id", "owner")
