"""The rules of an order's lines: a line's amount from quantity, unit price and
discount; an order's product, quantity and amount from its lines; the `--line`
notation. Pure: no IO."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeGuard

from crm_tui.domain.entities import (
    DISCOUNT_DECIMALS,
    ORDER_LINE,
    ORDER_STATUS_WORDS,
    ORDER_STATUSES,
    QUANTITY_DECIMALS,
    UNIT_PRICE_DECIMALS,
    Entity,
    Field,
)
from crm_tui.domain.validation import FieldError, ValidationError, clean_value
from crm_tui.i18n import field_label, money, t

CENT = Decimal("0.01")


def line_amount(quantity: float, unit_price: float, discount: float | None) -> float:
    """quantity × unit price × (1 − discount %), to the cent (half up, as on an invoice).
    The one place a line's amount is worked out: orders, quotes, refunds and imports
    of either. Quantity and unit price are exact to their decimals (4 and 6), so the
    product is exact before it is rounded once."""
    off = Decimal(str(discount or 0))
    if off > 100:
        raise ValidationError.one("discount", t("reason.discount_over", discount=discount))
    total = Decimal(str(quantity)) * Decimal(str(unit_price)) * (1 - off / 100)
    return float(total.quantize(CENT, rounding=ROUND_HALF_UP))


def lines_total(lines: Sequence[Mapping[str, Any]]) -> float:
    """What lines come to: the sum of their amounts, each already to the cent. The
    one total of an order (`order_summary`) and of a quotation (quotes.quote_totals),
    so a quote accepted becomes an order of the same amount."""
    return float(sum((Decimal(str(line["amount"])) for line in lines), Decimal(0)).quantize(CENT))


def check_total(kind: str, record_id: str, amount: Any, lines: Sequence[Mapping[str, Any]]) -> None:
    """An order's amount (a quotation's total; `kind` names which, as it is said) is
    what its lines come to (`lines_total`), whenever it has lines: the order book,
    the quotation book and the imports write it from them, and no other write may
    set it apart from them. An order without lines (written bare: an import of
    orders, an old one) keeps the amount it was given. Run by a laptop's edit of the
    amount and by the server on the record each push leaves (crm_tui.domain.
    record_rules TOTALS)."""
    if not lines or not _is_number(amount) or not all(_is_number(line.get("amount")) for line in lines):
        return  # a value's own rule says what is wrong with it
    total = lines_total(lines)
    if Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP) != Decimal(str(total)):
        raise ValidationError.one("amount", t("reason.lines_total.differs", amount=money(amount), kind=kind,
                                              id=record_id, total=money(total)))


def check_refunds(refunded: Sequence[tuple[str, float, str | None, str | None, float]]) -> None:
    """The rule of refunds (退款), over orders with refunds (id, amount, its own
    refund_of, status, what its refunds not cancelled come to): a refund is of a sale
    that is not cancelled, and the refunds of one order never come to more than it."""
    errors = []
    for order_id, amount, refund_of, status, total in refunded:
        if refund_of:
            errors.append(FieldError("refund_of", t("reason.refund_of_refund", id=order_id)))
        elif status == "cancelled":
            errors.append(FieldError("refund_of", t("reason.refund_cancelled", id=order_id)))
        elif total > amount + 0.005:
            errors.append(FieldError("amount", t("reason.refunds_would_exceed", id=order_id, refunded=money(total),
                                                 amount=money(amount))))
    if errors:
        raise ValidationError(errors)


def check_sale_deleted(refunds: Sequence[str]) -> None:
    """A sale deleted leaves no refund behind (`refunds`: the ids of its refunds): they
    would take from net sales a sale no longer there, so they go first."""
    if refunds:
        raise ValidationError.one("order", t("reason.delete.order_has_refunds", id=refunds[0]))


def check_refund_of(refund: Mapping[str, Any], sale: Mapping[str, Any] | None) -> None:
    """A refund against the sale it refunds as it stands (None: not known): the rule
    of refunds (`check_refunds`) as far as this refund alone tells, that is of the
    sale's own customer, of a sale not cancelled, itself no refund, and not for more
    than the sale. All of a sale's refunds together are `check_refunds`' (run on
    every write on a laptop, crm_tui.api.records WRITTEN_RULES, and on every pushed
    change by the server, which finds a sale's refunds among its customer's orders)."""
    if sale is None:
        return
    customer, sold_to = refund.get("customer_id"), sale.get("customer_id")
    if customer and sold_to and customer != sold_to:
        raise ValidationError.one("refund_of", t("reason.refund_other_customer", id=refund.get("refund_of"),
                                                 customer=sold_to))
    if refund.get("status") == "cancelled":
        return
    amount, sold = refund.get("amount"), sale.get("amount")
    if not _is_number(amount) or not _is_number(sold):
        return  # a value's own rule says what is wrong with it
    check_refunds([(str(refund.get("refund_of")), float(sold), sale.get("refund_of"), sale.get("status"),
                    float(amount))])


def check_returns(lines: Sequence[Mapping[str, Any]], sold: Sequence[Mapping[str, Any]],
                  returned: Mapping[str, float], sale_id: str) -> None:
    """The rule of returns (退货), over the lines of one refund (product, quantity):
    each product it takes back is on the sale `sale_id` (`sold`: the sale's lines),
    and no more of it than was sold less what the sale's other refunds (not
    cancelled) took back (`returned`: product -> quantity). The refund command, an
    import of order lines and the server on every pushed line of a refund run this
    one rule; errors name the product and the field."""
    asked: dict[str, Decimal] = {}
    for line in lines:
        asked[str(line["product"])] = asked.get(str(line["product"]), Decimal(0)) + Decimal(str(line["quantity"]))
    errors = []
    for product, quantity in asked.items():
        mine = [line for line in sold if line["product"] == product]
        if not mine:
            errors.append(FieldError("product", t("reason.not_on_order", product=product, id=sale_id)))
            continue
        bought = sum((Decimal(str(line["quantity"])) for line in mine), Decimal(0))
        left = bought - Decimal(str(returned.get(product, 0.0)))
        if quantity > left:
            errors.append(FieldError("quantity", t("reason.returns_exceed", product=product,
                                                   asked=plain_number(float(quantity)), left=plain_number(float(left)),
                                                   sold=plain_number(float(bought)))))
    if errors:
        raise ValidationError(errors)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def order_summary(lines: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What an order shows of its lines: the amount (their sum), the product (the
    first line's, "+N" for more) and the quantity (their sum, when whole)."""
    if not lines:
        raise ValidationError.one("lines", t("reason.no_lines"))
    quantity = sum((Decimal(str(line["quantity"])) for line in lines), Decimal(0))
    product = str(lines[0]["product"])
    if len(lines) > 1:
        product = f"{product[:190]} +{len(lines) - 1}"
    return {"amount": lines_total(lines), "product": product,
            "quantity": int(quantity) if quantity == quantity.to_integral_value() else None}


@dataclass(frozen=True)
class LineSpec:
    """One `--line PRODUCT:QTY[:PRICE[:DISCOUNT]]`: PRODUCT is a SKU of the catalogue
    or, for a product not in it, its name (then PRICE is needed)."""

    product: str
    quantity: str
    unit_price: str | None = None
    discount: str | None = None


def parse_line(text: str) -> LineSpec:
    """'SN-100:3', 'SN-100:3:1150', 'SN-100:3::5' (5 % off), '旧产品:2:300'."""
    parts = [p.strip() for p in text.split(":")]
    if len(parts) < 2 or len(parts) > 4 or not parts[0] or not parts[1]:
        raise ValidationError.one("lines", t("reason.line_format", text=repr(text)))
    for name, value in zip(("quantity", "unit_price", "discount"), parts[1:], strict=False):
        if value:
            try:
                clean_value(ORDER_LINE.field(name), value)
            except ValueError as exc:
                raise ValidationError.one("lines", t("reason.lines.value", text=repr(text),
                                                     field=field_label(ORDER_LINE, name), reason=exc)) from None
    return LineSpec(parts[0], parts[1], parts[2] if len(parts) > 2 and parts[2] else None,
                    parts[3] if len(parts) > 3 and parts[3] else None)


def parse_lines(text: str | None) -> list[LineSpec]:
    """Lines one per line of text (or separated by ';'), as the order form takes them."""
    return [parse_line(item) for item in (text or "").replace(";", "\n").splitlines() if item.strip()]


def format_line(line: Mapping[str, Any]) -> str:
    """A stored line in the `--line` notation (the order form edits lines this way)."""
    text = f"{line.get('sku') or line['product']}:{_num(line['quantity'])}:{_price(line['unit_price'])}"
    if line.get("discount"):
        text += f":{_num(line['discount'])}"
    return text


def _num(value: float) -> str:
    """A stored number as typed back: every decimal it keeps (0.0035, not 0.00), no '.0'."""
    return plain_number(value)


def _price(value: float) -> str:
    """A unit price typed back as money reads (128.50, 1200) with every further
    decimal it keeps (0.0035)."""
    text = plain_number(value)
    whole, dot, decimals = text.partition(".")
    return text if not dot else f"{whole}.{decimals.ljust(2, '0')}"


def plain_number(value: float) -> str:
    """The shortest text that reads back as `value`, without an exponent: 0.0035,
    1200, 2.5. A unit price or quantity written for a person or a file."""
    return format(Decimal(repr(float(value))).normalize(), "f")


# The order-lines file format (`crm orders import-lines`, docs/cli.md): one row per line,
# the rows of one order sharing its key (订单号); the order's own fields on any of its
# rows (blank on the others, or the same). Not a stored kind: the columns a file may have.
ORDER_LINE_ROW = Entity(
    name="order line row",
    table="order_line_rows",
    fields=(
        Field("order", required=True, max_len=64, label="Order"),
        Field("customer_id", kind="ref", ref="customers", label="Customer"),
        Field("ordered_at", kind="date", label="Date"),
        Field("status", kind="enum", choices=ORDER_STATUSES, aliases=ORDER_STATUS_WORDS, label="Status"),
        Field("notes", max_len=5000, label="Notes"),
        # a refund's sale: its key in the file, or the id of an order already in the book
        Field("refund_of", max_len=64, label="Refund of"),
        Field("sku", max_len=64, label="SKU"),
        Field("product", max_len=200, label="Product"),
        Field("quantity", kind="decimal", decimals=QUANTITY_DECIMALS, label="Quantity"),
        Field("unit_price", kind="decimal", decimals=UNIT_PRICE_DECIMALS, label="Unit price"),
        Field("discount", kind="decimal", decimals=DISCOUNT_DECIMALS, percent=True, label="Discount %"),
    ),
)
# The fields of the order itself, the same on every row of one order.
ORDER_ROW_FIELDS = ("customer_id", "ordered_at", "status", "notes", "refund_of", "owner")
