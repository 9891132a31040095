"""The quotations of one opportunity, over the Pipeline screen or the customer's
Opportunities tab: a list (date, title, total, status, validity) with the lines of
the highlighted one; keys to make a quote (its lines start from the deal's products),
accept one (its order is created and the deal won) and print one as HTML. Data comes
from `crm.quote_book` in thread workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from crm_tui.api import Record
from crm_tui.domain.entities import QUOTE, Field
from crm_tui.domain.orders import parse_lines
from crm_tui.i18n import choice_label, language, money, quantity, t, unit_price
from crm_tui.screens.base import CrmModal
from crm_tui.screens.form import FormScreen
from crm_tui.screens.modals import ConfirmScreen
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import literal, tell

QUOTE_FIELDS = ("title", "valid_until", "lines", "terms")
# "Lines" as on the order form: the format shows inside the box (form.hint.lines), where a
# small terminal does not break it mid-word as the label column did
QUOTE_LINES = Field("lines", max_len=20000, required=True, label="order_lines.label")


def _spec_text(spec: Any) -> str:
    """A starting line in the form's PRODUCT:QTY[:PRICE] notation."""
    return f"{spec.product}:{spec.quantity}" + (f":{spec.unit_price}" if spec.unit_price else "")


class QuotesScreen(CrmModal[None]):
    DEFAULT_CSS = """
    QuotesScreen { align: center middle; }
    QuotesScreen > Vertical { width: 100; max-width: 100%; height: 90%; border: thick $primary;
                              background: $surface; padding: 0 1; }
    QuotesScreen #quotes-title { text-style: bold; padding: 0 0 1 0; }
    QuotesScreen #quotes-table { height: 1fr; }
    QuotesScreen #quote-lines { height: auto; max-height: 8; padding: 1 0 0 0; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "key.quotes.new", id="quotes.new"),
        Binding("a", "accept", "key.quotes.accept", id="quotes.accept"),
        Binding("p", "render", "key.quotes.render", id="quotes.render"),
        Binding("escape", "close", "key.quotes.close", id="quotes.close"),
    ]

    def __init__(self, deal: Record) -> None:
        super().__init__()
        self.deal = deal
        self.quotes: list[Record] = []
        self.detail: Record | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("quotes.title", title=self.deal["title"]), id="quotes-title", markup=False)
            yield DataTable(id="quotes-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="quote-lines", markup=False)
        yield CrmFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*(t(f"field.quotes.{name}") for name in ("quoted_on", "title", "amount", "status",
                                                                    "valid_until")))
        table.focus()
        self.reload()

    def reload(self, _: object = None) -> None:
        book, oid = self.crm.quote_book, self.deal["id"]
        self.run_db(lambda: book.find(opportunity_id=oid), self.show_quotes, group="quotes", exclusive=True)

    def show_quotes(self, rows: list[Record]) -> None:
        self.quotes = rows
        table = self.query_one(DataTable)
        table.clear()
        for q in rows:
            status = choice_label(QUOTE, "status", q["status"])
            if q["expired"]:
                status += f" ({t('quotes.expired')})"
            table.add_row(q["quoted_on"], literal(q.get("title")), Text(money(q["amount"]), justify="right"),
                          status, q["valid_until"], key=q["id"])
        if not rows:
            self.query_one("#quote-lines", Static).update(t("quotes.none"))
            self.detail = None
        else:
            self._show_lines(rows[min(table.cursor_row, len(rows) - 1)]["id"])

    def selected(self) -> Record | None:
        table = self.query_one(DataTable)
        if not self.quotes or not 0 <= table.cursor_row < len(self.quotes):
            return None
        return self.quotes[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key and event.row_key.value:
            self._show_lines(event.row_key.value)

    def _show_lines(self, quote_id: str) -> None:
        book = self.crm.quote_book
        self.run_db(lambda: book.get(quote_id), self._lines_shown, group="quote-lines", exclusive=True)

    def _lines_shown(self, quote: Record) -> None:
        self.detail = quote
        text = Text(no_wrap=True, overflow="ellipsis")
        for line in quote["lines"]:
            off = f" -{line['discount']:g}%" if line.get("discount") else ""
            text.append(f"{line['position']}. {line.get('sku') or ''} {line['product']}  {quantity(line['quantity'])} × "
                        f"{unit_price(line['unit_price'])}{off} = {money(line['amount'])}\n")
        totals = quote["totals"]
        text.append(f"{t('quote.subtotal')} {money(totals['subtotal'])}  {t('quote.discount_total')} "
                    f"{money(totals['discount'])}  ", style="")
        text.append(f"{t('quote.total')} {money(totals['total'])}", style="bold")
        self.query_one("#quote-lines", Static).update(text)

    # -- actions --------------------------------------------------------------------

    def action_new(self) -> None:
        crm, deal = self.crm, self.deal
        book = crm.quote_book

        def add(values: dict[str, Any]) -> Record:
            data = {k: v for k, v in values.items() if k != "lines"}
            return book.add({**data, "opportunity_id": deal["id"]}, parse_lines(values.get("lines")))

        def open_form(start: str) -> None:
            form = FormScreen(QUOTE, QUOTE_FIELDS, add, title=t("quotes.new_title"), extra_fields=(QUOTE_LINES,),
                              values={"title": deal["title"], "lines": start}, focus="lines",
                              context=t("form.for_customer", name=deal.get("customer_name") or "", company=""))
            self.app.push_screen(form, self.reload)

        # the lines start from the deal's products (read in a worker, like all data)
        self.run_db(lambda: "\n".join(_spec_text(spec) for spec in book.deal_lines(crm.opportunities.get(deal["id"]))),
                    open_form)

    def action_accept(self) -> None:
        quote = self.selected()
        if quote is None:
            return
        book = self.crm.quote_book

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_db(lambda: book.accept(quote["id"]), self._accepted)

        question = t("quotes.accept_question", title=quote.get("title") or "", amount=money(quote["amount"]))
        self.app.push_screen(ConfirmScreen(question), answered)

    def _accepted(self, result: tuple[Record, Record, Record | None]) -> None:
        _, order, deal = result
        if deal is not None:
            self.deal = deal
        tell(self, t("quotes.accepted", order=order["id"], amount=money(order["amount"])), timeout=5)
        self.reload()

    def action_render(self) -> None:
        quote = self.selected()
        if quote is None:
            return
        crm, lang = self.crm, language()
        # Beside the database, where the rep's files already are.
        target = Path(crm.path).resolve().parent / f"quote-{quote['id']}.html"

        def write() -> Path:
            target.write_text(crm.quote_book.render(quote["id"], lang=lang), encoding="utf-8")
            return target

        self.run_db(write, lambda path: tell(self, t("quotes.rendered", path=str(path)), timeout=8))

    def action_close(self) -> None:
        self.dismiss(None)
