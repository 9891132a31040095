"""The product catalogue (产品目录): every product, filtered as you type (SKU, name,
category, unit); a manager adds, edits and deletes products here. On a team server
only managers change the catalogue (the server refuses a rep's change), so a rep's
laptop shows it read-only and says why."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from crm_tui.api import Record
from crm_tui.domain.catalogue import filter_products
from crm_tui.domain.entities import PRODUCT
from crm_tui.i18n import count, field_label, t, unit_price
from crm_tui.screens.base import TableScreen, only_the_search_key
from crm_tui.screens.form import FormScreen
from crm_tui.screens.modals import ConfirmScreen
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import literal, tell
from crm_tui.widgets.record_table import Column, RecordTable
from crm_tui.widgets.title_bar import TitleBar

PRODUCT_FIELDS = PRODUCT.input_names


def _price(row: dict[str, Any]) -> str:
    return unit_price(row.get("list_price"))


def product_columns() -> list[Column]:
    return [
        # at 80x24 (see Column): SKU, name, price and whether it is sold stay; notes,
        # then the unit leave first, the name shrinks
        Column("sku", field_label(PRODUCT, "sku"), 12),
        Column("name", field_label(PRODUCT, "name"), 22, min_width=14),
        Column("category", field_label(PRODUCT, "category"), 12, drop=3),
        Column("unit", field_label(PRODUCT, "unit"), 6, drop=4),
        Column("list_price", field_label(PRODUCT, "list_price"), 12, render=_price, justify="right"),
        Column("active", field_label(PRODUCT, "active"), 8,
               render=lambda r: t("products.yes") if r.get("active") != 0 else t("products.no")),
        Column("notes", field_label(PRODUCT, "notes"), 0, drop=9),
    ]


class ProductsScreen(TableScreen):
    DEFAULT_CSS = """
    ProductsScreen #products-count { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new", "products.key_new", id="products.new"),
        Binding("slash", "focus_filter", "products.key_filter", id="products.filter"),
        Binding("e", "edit", "key.edit", id="products.edit"),
        Binding("delete", "delete", "key.delete", id="products.delete"),
        Binding("escape", "escape", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""
        self.read_only = False

    def compose(self) -> ComposeResult:
        yield TitleBar(t("products.title"), "products")
        yield Input(placeholder=t("products.filter_placeholder"), id="products-filter")
        yield Static("", id="products-count")
        yield RecordTable(product_columns(), id="products-table")
        yield CrmFooter()

    def on_mount(self) -> None:
        # After TableScreen's own on_mount (which focuses the list and loads it):
        # typing filters at once.
        self.call_after_refresh(self.action_focus_filter)

    def reload(self, _: object = None) -> None:
        table, crm, query = self.table, self.crm, self.query_text
        generation = table.begin()

        def load() -> tuple[list[Record], int, bool]:
            products = crm.products.find(order="sku")
            return list(filter_products(products, query)), len(products), crm.catalogue_read_only()  # type: ignore[arg-type]

        def shown(result: tuple[list[Record], int, bool]) -> None:
            rows, total, self.read_only = result
            cursor = table.cursor
            table.show(generation, rows)
            table.cursor = min(cursor, max(0, len(rows) - 1))
            said = t("products.count", shown=count(len(rows)), total=count(total))
            if self.read_only:
                said += " · " + t("products.read_only")
            elif not total:  # never a bare 0 without what to do about it
                said += " · " + t("find.empty.products")
            line = self.query_one("#products-count", Static)
            # a second row when the line is longer than the screen is wide (80x24): whole, not cut
            height = 1 if cell_len(said) <= max(1, line.content_region.width) else 2
            if line.styles.height is None or line.styles.height.value != height:
                line.styles.height = height
            line.update(literal(said), layout=False)

        self.run_db(load, shown, group="products", exclusive=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "products-filter":
            if only_the_search_key(event):
                return
            self.query_text = event.value
            self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "products-filter":
            self.table.focus()

    def on_key(self, event: events.Key) -> None:
        if event.key == "down" and self.focused is self.query_one("#products-filter"):
            self.table.focus()
            event.stop()

    def action_focus_filter(self) -> None:
        self.query_one("#products-filter", Input).focus()

    def action_escape(self) -> None:
        box = self.query_one("#products-filter", Input)
        if box.value:
            box.value = ""
        box.focus()

    def _may_change(self) -> bool:
        if self.read_only:
            tell(self, t("products.read_only_note"), severity="warning")
        return not self.read_only

    def _saved(self, record: Record | None) -> None:
        if record is not None:
            self.reload()

    def action_new(self) -> None:
        if self._may_change():
            form = FormScreen(PRODUCT, PRODUCT_FIELDS, self.crm.products.create, title=t("products.new"),
                              values={"active": 1})
            self.app.push_screen(form, self._saved)

    def action_edit(self) -> None:
        record = self.table.cursor_record
        if record is None or not self._may_change():
            return
        pid, products = record["id"], self.crm.products
        form = FormScreen(PRODUCT, PRODUCT_FIELDS, lambda v: products.update(pid, v),
                          title=t("products.edit", sku=record["sku"]), values=record, only_changes=True)
        self.app.push_screen(form, self._saved)

    def action_delete(self) -> None:
        record = self.table.cursor_record
        if record is None or not self._may_change():
            return
        products = self.crm.products

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_db(lambda: products.delete(record["id"]), self.reload)

        self.app.push_screen(ConfirmScreen(t("products.delete_question", sku=record["sku"], name=record["name"])),
                             answered)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        self.action_edit()
