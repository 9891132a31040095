"""All orders, newest first, paged from the API; add one for a chosen customer or edit
the selected one."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from crm_tui.api import Record
from crm_tui.api.names import with_customer_names
from crm_tui.i18n import count, t
from crm_tui.screens.base import FilterAsYouType, TableScreen
from crm_tui.screens.modals import ConfirmScreen, pick_customer_then
from crm_tui.screens.record_forms import order_form
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.record_table import RecordTable
from crm_tui.widgets.tables import order_columns
from crm_tui.widgets.title_bar import TitleBar


class OrdersScreen(FilterAsYouType, TableScreen):
    DEFAULT_CSS = """
    OrdersScreen #orders-count { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new", "key.new_order", id="orders.new"),
        Binding("e", "edit", "key.edit", id="orders.edit"),
        Binding("c", "customer", "key.open_customer", id="orders.customer"),
        Binding("delete", "delete", "key.delete", id="orders.delete"),
        Binding("slash", "focus_search", "key.search", id="orders.search"),
        Binding("escape", "escape", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TitleBar(t("orders.title"), "orders")
        yield Input(placeholder=t("find.orders_placeholder"), id="orders-search", classes="list-search", compact=True)
        yield Static("", id="orders-count")
        yield RecordTable(order_columns(), id="orders-table")
        yield self.app.status_widget()
        yield CrmFooter()

    def on_screen_resume(self) -> None:
        self.reload(keep_cursor=True)

    def reload(self, _: object = None, keep_cursor: bool = False) -> None:
        table, crm = self.table, self.crm
        generation = table.begin()
        cursor = table.cursor if keep_cursor else 0
        search = self.search_text or None

        def fetch(offset: int, limit: int) -> list[Record]:
            with crm.lock:
                rows = crm.orders.find(search=search, order="-ordered_at", limit=limit, offset=offset)
                return with_customer_names(crm, rows)

        def first() -> tuple[list[Record], int]:
            return fetch(0, table.page_size), crm.orders.count(search=search)

        def shown(result: tuple[list[Record], int]) -> None:
            rows, total = result
            table.show(generation, rows, total=total, fetch=fetch)
            table.cursor = min(cursor, max(0, total - 1))
            text = t("orders.count", count=count(total))
            if not total:  # never a bare 0 without what to do about it
                text += "  ·  " + (t("find.no_match") if search else t("find.orders_empty"))
            self.query_one("#orders-count", Static).update(text, layout=False)

        self.run_db(first, shown, group="orders", exclusive=True)

    def _saved(self, record: Record | None) -> None:
        if record is not None:
            self.reload(keep_cursor=True)

    def action_new(self) -> None:
        pick_customer_then(self, t("orders.pick_customer"),
                           lambda customer: order_form(self.app, customer, self._saved))

    def action_edit(self) -> None:
        record = self.table.cursor_record
        if record is None:
            return
        crm, app = self.crm, self.app
        self.run_db(lambda: (crm.customers.get(record["customer_id"]), crm.order_book.lines(record["id"])),
                    lambda found: order_form(app, found[0], self._saved, record=record, lines=found[1]))

    def action_delete(self) -> None:
        record = self.table.cursor_record
        if record is None:
            return
        crm = self.crm

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_db(lambda: crm.orders.delete(record["id"]), lambda _: self.reload(keep_cursor=True))

        question = t("orders.delete_question", product=record["product"], name=record.get("customer_name", ""))
        self.app.push_screen(ConfirmScreen(question), answered)

    def action_customer(self) -> None:
        record = self.table.cursor_record
        if record is not None:
            self.app.open_customer(record["customer_id"])

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        self.action_edit()
