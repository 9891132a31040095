"""Quotation use cases: make a quote for a customer or from one of their opportunities
(lines priced as an order's: catalogue SKUs at their list price unless a price is
given, or free text with a price), change it, and accept it, which makes its order
with the same lines and wins the opportunity, all in one transaction. Every write goes
through the `Records` of quotes and quote lines (the one write funnel); the rules live
in crm_tui.domain.quotes and crm_tui.domain.orders.

    q = crm.quote_book.add({"opportunity_id": oid}, [LineSpec("SN-100", "3", discount="5")])
    crm.quote_book.accept(q["id"])          # -> (quote, order, opportunity or None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from crm_tui.api.names import customer_names
from crm_tui.api.records import Record, Records
from crm_tui.db import records as sql
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain.entities import QUOTE, QUOTE_LINE
from crm_tui.domain.opportunities import WON
from crm_tui.domain.orders import LineSpec
from crm_tui.domain.quotes import ACCEPTED, expired, quote_totals, valid_until_default
from crm_tui.domain.validation import ValidationError, clean_value
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api import Crm

# What `add` and `edit` take besides the lines: the quote's own fields. Its amount
# comes from the lines, its status moves by `edit` (draft, sent, declined) or `accept`.
QUOTE_INPUT = ("customer_id", "opportunity_id", "title", "quoted_on", "valid_until", "status", "terms", "notes")


class QuoteBook:
    """The quotation use cases over one `Crm`."""

    def __init__(self, crm: Crm):
        self.crm = crm
        self.quotes = Records(crm.conn, QUOTE, crm.lock)
        self.lines_api = Records(crm.conn, QUOTE_LINE, crm.lock)

    # -- reading ---------------------------------------------------------------------

    def get(self, quote_id: str) -> Record:
        """A quote with its `lines` (each with the SKU of a catalogue product), its
        `totals`, the customer's name and whether it has `expired`."""
        with self.crm.lock:
            quote = self.quotes.get(quote_id)
            lines = self.lines_api.find([Filter("quote_id", "=", quote["id"])], order="position")
            skus = sql.skus(self.crm.conn, {line["product_id"] for line in lines if line.get("product_id")})
            quote["customer_name"] = customer_names(self.crm, [quote["customer_id"]]).get(quote["customer_id"], "")
        for line in lines:
            line["sku"] = skus.get(line.get("product_id") or "")
        quote["lines"] = lines
        quote["totals"] = quote_totals(lines)
        quote["expired"] = expired(quote, self.crm.now().date())
        return quote

    def find(self, *, customer_id: str | None = None, opportunity_id: str | None = None,
             status: str | None = None, limit: int | None = None) -> list[Record]:
        """Quotes, newest first, with the customer's name and `expired`."""
        filters = []
        with self.crm.lock:
            if customer_id:
                filters.append(Filter("customer_id", "=", self.crm.customers.get(customer_id)["id"]))
            if opportunity_id:
                filters.append(Filter("opportunity_id", "=", self.crm.opportunities.get(opportunity_id)["id"]))
            if status:
                filters.append(Filter("status", "=", status))
            rows = self.quotes.find(filters, limit=limit)
            names = customer_names(self.crm, {r["customer_id"] for r in rows})
        today = self.crm.now().date()
        for row in rows:
            row["customer_name"] = names.get(row["customer_id"], "")
            row["expired"] = expired(row, today)
        return rows

    # -- writing ---------------------------------------------------------------------

    def add(self, quote: Mapping[str, Any], lines: Sequence[LineSpec] = ()) -> Record:
        """A new quote (status draft). With `opportunity_id`, its customer and title are
        the deal's, and without lines it quotes the deal's products (one each at list
        price), or else one line of the deal's title at its amount. Dated today and
        valid DEFAULT_VALID_DAYS unless given."""
        crm = self.crm
        data = {k: v for k, v in quote.items() if k in QUOTE_INPUT and v not in (None, "")}
        with crm.lock:
            deal = None
            if data.get("opportunity_id"):
                deal = crm.opportunities.get(str(data["opportunity_id"]))
                data["opportunity_id"] = deal["id"]
                if data.get("customer_id") and crm.customers.get(str(data["customer_id"]))["id"] != \
                        deal["customer_id"]:
                    raise ValidationError.one("customer_id", t("reason.quote_other_customer", id=deal["id"]))
                data["customer_id"] = deal["customer_id"]
                data.setdefault("title", deal["title"])
                if not lines:
                    lines = self.deal_lines(deal)
            if not data.get("customer_id"):
                raise ValidationError.one("customer_id", t("reason.quote_needs_customer"))
            data["customer_id"] = crm.customers.get(str(data["customer_id"]))["id"]
            data.setdefault("quoted_on", crm.now().date().isoformat())
            data.setdefault("status", "draft")
            if data["status"] == ACCEPTED:
                raise ValidationError.one("status", t("reason.quote_accept_command"))
            made = crm.order_book.priced_lines(lines, data["customer_id"])
            values = {**data, "amount": quote_totals(made)["total"]}
            if not values.get("valid_until"):
                try:
                    quoted_on = clean_value(QUOTE.field("quoted_on"), values["quoted_on"])
                except ValueError as exc:
                    raise ValidationError.one("quoted_on", str(exc)) from None
                values["valid_until"] = valid_until_default(quoted_on)
            record = self.quotes.prepare(values)
            with transaction(crm.conn):
                self.quotes.insert_prepared([record])
                self._insert_lines(record, made)
        return self.get(record["id"])

    def edit(self, quote_id: str, changes: Mapping[str, Any], lines: Sequence[LineSpec] | None = None) -> Record:
        """Change a quote's fields and, with `lines`, replace its lines (the amount
        follows), in one transaction. An accepted quote is final."""
        crm = self.crm
        unknown = sorted(k for k in changes if k not in QUOTE_INPUT or k in ("customer_id", "opportunity_id"))
        if unknown:
            raise ValidationError.one(unknown[0], t("reason.quote_fixed_field"))
        with crm.lock:
            current = self.quotes.get(quote_id)
            if current["status"] == ACCEPTED:
                raise ValidationError.one("status", t("reason.quote_accepted_fixed", id=current["id"],
                                                      order=current["order_id"]))
            values = dict(changes)
            made = crm.order_book.priced_lines(lines, current["customer_id"]) if lines is not None else None
            if made is not None:
                values["amount"] = quote_totals(made)["total"]
            with transaction(crm.conn):
                if made is not None:  # the lines first: the total is checked against them
                    for old in self.lines_api.find([Filter("quote_id", "=", current["id"])]):
                        self.lines_api.delete(old["id"])
                    self._insert_lines(current, made)
                if values:
                    self.quotes.update(current["id"], values)
        return self.get(current["id"])

    def delete(self, quote_id: str) -> Record:
        """Delete a quote and its lines (an accepted quote's order stays)."""
        crm = self.crm
        with crm.lock:
            quote = self.get(quote_id)
            with transaction(crm.conn):
                for line in quote["lines"]:
                    self.lines_api.delete(line["id"])
                self.quotes.delete(quote["id"])
        return quote

    def accept(self, quote_id: str) -> tuple[Record, Record, Record | None]:
        """Accept a quote: its order (confirmed, dated today, the quote's lines) is made,
        the quote is marked accepted with it, and its opportunity, if any, is won with
        that order and the quote's total as its amount. One transaction: all or none.
        Refused for a quote already accepted, declined or expired, and for a deal won
        with another order already."""
        crm = self.crm
        with crm.lock:
            quote = self.get(quote_id)
            if quote["status"] == ACCEPTED:
                raise ValidationError.one("status", t("reason.quote_already_accepted", id=quote["id"],
                                                      order=quote["order_id"]))
            if quote["status"] == "declined":
                raise ValidationError.one("status", t("reason.quote_declined", id=quote["id"]))
            if quote["expired"]:
                raise ValidationError.one("valid_until", t("reason.quote_expired", date=quote["valid_until"]))
            deal = crm.opportunities.get(quote["opportunity_id"]) if quote.get("opportunity_id") else None
            if deal is not None and deal["stage"] == WON and deal.get("order_id") \
                    and sql.exists(crm.conn, "orders", deal["order_id"]):
                raise ValidationError.one("opportunity_id", t("reason.deal_won_already", id=deal["id"],
                                                              order=deal["order_id"]))
            specs = [LineSpec(line["sku"] or line["product"], str(line["quantity"]), str(line["unit_price"]),
                              None if line.get("discount") is None else str(line["discount"]))
                     for line in quote["lines"]]
            with transaction(crm.conn):
                order = crm.order_book.add({"customer_id": quote["customer_id"],
                                            "ordered_at": crm.now().date().isoformat(),
                                            "notes": f"quotation {quote['id']}"}, specs)
                self.quotes.update(quote["id"], {"status": ACCEPTED, "order_id": order["id"]})
                if deal is not None:
                    if deal["stage"] != WON:
                        crm.pipeline.move(deal["id"], WON)
                    deal = crm.opportunities.update(deal["id"], {"order_id": order["id"], "amount": order["amount"]})
        return self.get(quote["id"]), order, deal

    def render(self, quote_id: str, *, lang: str = "en") -> str:
        """The quote as a self-contained printable HTML document in `lang` (en, zh):
        the company header of the config's `[company]`, the customer, lines, totals,
        validity and terms (crm_tui.report.quote_html)."""
        from crm_tui.i18n import t_in
        from crm_tui.report.quote_html import render_quote

        quote = self.get(quote_id)
        with self.crm.lock:
            customer = self.crm.customers.get(quote["customer_id"])

        def tr(key: str, **values: Any) -> str:
            return t_in(lang, key, **values)

        return render_quote(quote, customer, self.crm.config.company, lang=lang, tr=tr,
                            currency=self.crm.pipeline.settings.currency,
                            status=tr(f"choice.quotes.status.{quote['status']}"))

    # -- lines -----------------------------------------------------------------------

    def deal_lines(self, deal: Record) -> list[LineSpec]:
        """What a quote from `deal` starts with: its products, one each at list price;
        else one line of its title at its amount."""
        ids = [i for i in (deal.get("product_ids") or "").split(",") if i]
        products = sql.product_names(self.crm.conn, ids)
        if products:
            return [LineSpec(products[i][0], "1") for i in ids if i in products]
        return [LineSpec(deal["title"][:200], "1", str(deal["amount"]))]

    def _insert_lines(self, quote: Mapping[str, Any], made: Sequence[Mapping[str, Any]]) -> None:
        records = [self.lines_api.prepare({**line, "quote_id": quote["id"], "customer_id": quote["customer_id"],
                                           "position": n}, owner=quote["owner"])
                   for n, line in enumerate(made, start=1)]
        self.lines_api.insert_prepared(records)
