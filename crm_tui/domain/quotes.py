"""The rules of a quotation (报价单): its totals from its lines (each line's amount is
an order line's, crm_tui.domain.orders.line_amount), its validity, and the state a
stored quote must agree with. Pure: no IO."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

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
