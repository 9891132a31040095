"""Orders with lines: create an order from its lines (products of the catalogue by
SKU, or free text with a price), replace its lines, refund it. Every write of an
order and its lines is one transaction, and the order's amount is always the sum of
its lines (crm_tui.domain.orders).

    crm.order_book.add({"customer_id": cid}, [LineSpec("SN-100", "3")])
    crm.order_book.refund(order_id)              # the whole order back
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crm_tui.api.records import Record
from crm_tui.db import records as sql
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain.entities import ORDER_LINE, QUANTITY_DECIMALS, UNIT_PRICE_DECIMALS
from crm_tui.domain.orders import LineSpec, check_returns, line_amount, order_summary, plain_number
from crm_tui.domain.validation import FieldError, ValidationError, clean, clean_value, remembered
from crm_tui.i18n import field_label, t

if TYPE_CHECKING:
    from crm_tui.api import Crm

class OrderBook:
    """The order use cases over one `Crm`."""

    def __init__(self, crm: Crm):
        self.crm = crm

    # -- reading ---------------------------------------------------------------------

    def lines(self, order_id: str) -> list[Record]:
        """The lines of an order, with the SKU of those from the catalogue. An order
        written without lines (an import, a script) reads as one line of its own
        product, quantity and amount."""
        with self.crm.lock:
            order = self.crm.orders.get(order_id)
            lines = self.crm.order_lines.find([Filter("order_id", "=", order["id"])])
            skus = sql.skus(self.crm.conn, {line["product_id"] for line in lines if line.get("product_id")})
        for line in lines:
            line["sku"] = skus.get(line.get("product_id") or "")
        if not lines:
            quantity = order.get("quantity") or 1
            lines = [{"id": None, "order_id": order["id"], "customer_id": order["customer_id"], "product_id": None,
                      "sku": None, "product": order["product"], "quantity": float(quantity),
                      "unit_price": round(order["amount"] / quantity, UNIT_PRICE_DECIMALS), "discount": None,
                      "amount": order["amount"]}]
        return lines

    # -- writing ---------------------------------------------------------------------

    def add(self, order: Mapping[str, Any], lines: Sequence[LineSpec]) -> Record:
        """A new order (status confirmed unless given: the field's default) with
        `lines`; its product, quantity and amount are worked out from them."""
        data = {k: v for k, v in order.items() if k not in ("product", "quantity", "amount")}
        with self.crm.lock:
            # a unique prefix of the customer's id will do, as everywhere
            customer_id = self.crm.customers.get(str(data["customer_id"]))["id"] if data.get("customer_id") else None
            made = self._lines(lines, customer_id or "")
            record = self.crm.orders.prepare({**data, "customer_id": customer_id, **order_summary(made)})
            with transaction(self.crm.conn):
                self.crm.orders.insert_prepared([record])
                self._insert_lines(record, made)
            return self.crm.orders.get(record["id"])

    def set_lines(self, order_id: str, lines: Sequence[LineSpec]) -> Record:
        """Replace an order's lines (new lines, the old ones deleted) and update its
        amount, in one transaction."""
        return self.update(order_id, {}, lines)

    def update(self, order_id: str, changes: Mapping[str, Any], lines: Sequence[LineSpec] | None = None) -> Record:
        """Change an order's fields and, given `lines`, replace its lines too: all in
        one transaction, so an edit refused for one field (a bad date beside new
        lines) writes nothing at all. The errors of the fields and of the lines are
        told together."""
        if lines is None:
            return self.crm.orders.update(order_id, changes)
        with self.crm.lock:
            order = self.crm.orders.get(order_id)
            errors: list[FieldError] = []
            values: dict[str, Any] = {}
            made: list[dict[str, Any]] = []
            try:
                values = clean(self.crm.orders.entity, changes, partial=True)
            except ValidationError as exc:
                errors += exc.errors
            try:
                made = self._lines(lines, order["customer_id"])
            except ValidationError as exc:
                errors += exc.errors
            if errors:
                raise ValidationError(errors)
            summary = order_summary(made)  # its refunds still within it: the write funnel's rule
            with transaction(self.crm.conn):
                for old in self.crm.order_lines.find([Filter("order_id", "=", order["id"])]):
                    sql.delete(self.crm.conn, self.crm.order_lines.entity, old["id"])
                self._insert_lines(order, made)
                self.crm.orders.apply_update(order, {**values, **summary})
            return self.crm.orders.get(order["id"])

    def refund(self, order_id: str, lines: Sequence[LineSpec] = (), *, ordered_at: str | None = None,
               notes: str | None = None) -> Record:
        """A refund order (退款) of `order_id`: the given lines (products returned), or
        all that is not refunded yet. A returned product is one of the order's, priced
        as it was sold (its unit price and discount on the order, unless a price is
        given), and no more of it comes back than was sold. The rule of refunds (of a
        sale not cancelled, never more than it) is the write funnel's, for every path
        (crm_tui.domain.orders.check_refunds)."""
        with self.crm.lock:
            original = self.crm.orders.get(order_id)
            sold = self.lines(original["id"])
            returned, refunded = self.returned(original["id"]), self.returned(original["id"], "amount")
            specs = list(lines) or _not_returned(sold, returned)
            # lines priced as sold (no price given) are capped by what is left of the sale
            as_sold = [not lines or spec.unit_price is None for spec in specs]
            if not specs:
                raise ValidationError.one("refund_of", t("reason.refunded_already", id=original["id"]))
            made = self._lines([_as_sold(number, spec, sold, original["id"]) for number, spec in enumerate(specs, 1)],
                               original["customer_id"])
            try:
                check_returns(made, sold, returned, original["id"])
            except ValidationError as exc:  # told as the --line it came from
                raise ValidationError([FieldError("lines", e.reason) for e in exc.errors]) from None
            _within_sold(made, as_sold, sold, refunded)
            summary = order_summary(made)
            data = {"customer_id": original["customer_id"], "refund_of": original["id"],
                    "ordered_at": ordered_at or dt.date.today().isoformat(), "notes": notes, **summary}
            record = self.crm.orders.prepare(data)
            with transaction(self.crm.conn):
                self.crm.orders.insert_prepared([record])
                self._insert_lines(record, made)
            return self.crm.orders.get(record["id"])

    def returned(self, order_id: str, measure: str = "quantity") -> dict[str, float]:
        """How much of each product of an order its refunds (not cancelled) took back:
        the quantity, or with `measure` "amount" the money."""
        returned: dict[str, float] = {}
        for refund in self.crm.orders.find([Filter("refund_of", "=", order_id)]):
            if refund.get("status") != "cancelled":
                for line in self.lines(refund["id"]):
                    returned[line["product"]] = returned.get(line["product"], 0.0) + line[measure]
        return returned

    # -- lines -----------------------------------------------------------------------

    def priced_lines(self, specs: Sequence[LineSpec], customer_id: str) -> list[dict[str, Any]]:
        """Line values priced by the order rules (catalogue SKU and list price, or free
        text with a price; discount; amount), not written: a quotation's lines too."""
        return self._lines(specs, customer_id)

    def _lines(self, specs: Sequence[LineSpec], customer_id: str) -> list[dict[str, Any]]:
        """Validated line values from `specs`: the catalogue gives the product and
        its list price (unless a price is given); errors name the line."""
        if not specs:
            raise ValidationError.one("lines", t("reason.no_lines"))
        made: list[dict[str, Any]] = []
        errors: list[FieldError] = []
        for number, spec in enumerate(specs, start=1):
            try:
                made.append(self._line(spec, customer_id))
            except ValidationError as exc:
                errors += [FieldError("lines", t("reason.lines.numbered", number=number,
                                                 reason=str(e) if e.field else e.reason)) for e in exc.errors]
        if errors:
            raise ValidationError(errors)
        return made

    def _line(self, spec: LineSpec, customer_id: str, catalogue: Mapping[str, Record] | None = None,
              memo: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """One line's values; `catalogue` (SKU -> product) spares a bulk import a
        query per line, and `memo` the check of a value it already checked (see
        validation.remembered)."""
        if catalogue is not None:
            product = catalogue.get(spec.product)
        else:
            found = self.crm.products.find([Filter("sku", "=", spec.product)], limit=1)
            product = found[0] if found else None
        price: Any = spec.unit_price
        if price is None:
            if product is None:
                named = self._sku_named(spec.product, catalogue)
                if named is not None:  # a rep remembers the product's name, not its SKU
                    raise ValidationError.one("", t("reason.catalogue.sku_of_name", product=repr(spec.product),
                                                    name=spec.product, sku=named))
                raise ValidationError.one("", t("reason.no_sku", product=repr(spec.product),
                                                quantity=spec.quantity, name=spec.product))
            if product.get("list_price") is None:
                raise ValidationError.one("", t("reason.no_list_price", product=spec.product))
            price = product["list_price"]
        values: dict[str, Any] = {}
        for name, given in (("quantity", spec.quantity), ("unit_price", price), ("discount", spec.discount)):
            # each by its field's rule (a unit price keeps 6 decimals, a quantity 4)
            try:
                f = ORDER_LINE.field(name)
                values[name] = (None if given is None else clean_value(f, given) if memo is None
                                else remembered(f, given, memo, name))
            except ValueError as exc:
                raise ValidationError.one("", f"{spec.product}: {field_label(ORDER_LINE, name)}: {exc}") from None
        quantity, unit_price, discount = values["quantity"], values["unit_price"], values["discount"]
        if quantity is None or unit_price is None:
            raise ValidationError.one("", t("reason.line_format", text=repr(f"{spec.product}:{spec.quantity}")))
        if quantity <= 0:
            raise ValidationError.one("quantity", t("reason.more_than_zero"))
        return {"customer_id": customer_id, "product_id": product["id"] if product else None,
                "product": product["name"] if product else spec.product, "quantity": quantity,
                "unit_price": unit_price, "discount": discount,
                "amount": line_amount(quantity, unit_price, discount)}

    def _sku_named(self, name: str, catalogue: Mapping[str, Record] | None) -> str | None:
        """The SKU of the one product of the catalogue named `name`, if one is."""
        if catalogue is not None:
            named = [p for p in catalogue.values() if p.get("name") == name][:2]
        else:
            named = self.crm.products.find([Filter("name", "=", name)], limit=2)
        return named[0]["sku"] if len(named) == 1 else None

    def _insert_lines(self, order: Mapping[str, Any], made: Sequence[Mapping[str, Any]]) -> None:
        book = self.crm.order_lines
        records = [book.prepare({**line, "order_id": order["id"], "customer_id": order["customer_id"]},
                                owner=order["owner"]) for line in made]
        book.insert_prepared(records)


def _not_returned(sold: Sequence[Mapping[str, Any]], returned: Mapping[str, float]) -> list[LineSpec]:
    """What of each sold line no refund took back yet. What came back of a product is
    taken from its lines in order: an order of 2.5 kg and 0.1 kg of one product with
    0.3 kg refunded has 2.2 and 0.1 kg left, not 2.2 alone."""
    left = dict(returned)
    specs = []
    for line in sold:
        taken = min(line["quantity"], left.get(line["product"], 0.0))
        left[line["product"]] = left.get(line["product"], 0.0) - taken
        rest = round(line["quantity"] - taken, QUANTITY_DECIMALS)
        if rest > 0:
            specs.append(_spec(line, plain_number(rest)))
    return specs


def _within_sold(made: Sequence[dict[str, Any]], as_sold: Sequence[bool], sold: Sequence[Mapping[str, Any]],
                 refunded: Mapping[str, float]) -> None:
    """Each refund line priced as sold, at most what of its product's sale is not
    refunded yet: a sale refunded in parts is worked out line by line, each rounded
    to the cent, and 2 × 0.005 sold for 0.01 would otherwise come back as 0.01 +
    0.01, which the rule of refunds refuses. A line with a price given is left as
    it is: the rule of refunds refuses it if it comes to more than the sale."""
    room: dict[str, Decimal] = {}
    for line in sold:
        room[line["product"]] = room.get(line["product"], Decimal(0)) + Decimal(str(line["amount"]))
    for product, back in refunded.items():
        room[product] = room.get(product, Decimal(0)) - Decimal(str(back))
    for line, capped in zip(made, as_sold, strict=True):
        left = max(room.get(line["product"], Decimal(0)), Decimal(0))
        amount = min(Decimal(str(line["amount"])), left) if capped else Decimal(str(line["amount"]))
        line["amount"] = float(amount)
        room[line["product"]] = left - amount


def _spec(line: Mapping[str, Any], quantity: str) -> LineSpec:
    """`quantity` of an order's line, at the price and discount it was sold at."""
    return LineSpec(line.get("sku") or line["product"], quantity, str(line["unit_price"]),
                    None if line.get("discount") is None else str(line["discount"]))


def _as_sold(number: int, spec: LineSpec, sold: Sequence[Mapping[str, Any]], order_id: str) -> LineSpec:
    """A refund's line `spec` as one of the order's lines: its product must be on the
    order (by SKU or name), and without a price it is priced as it was sold there, not
    at today's list price."""
    for line in sold:
        if spec.product in (line.get("sku"), line["product"]):
            return spec if spec.unit_price is not None else _spec(line, spec.quantity)
    raise ValidationError.one("lines", t("reason.lines.numbered", number=number,
                                         reason=t("reason.not_on_order", product=spec.product, id=order_id)))
