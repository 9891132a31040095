"""The customer list: search as you type, filters, sorting and counts over any number
of customers. Rows come a page at a time from the API into a line-API table."""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.markup import escape
from textual.widgets import Input, Static

from crm_tui.api import Record
from crm_tui.domain.entities import CUSTOMER
from crm_tui.i18n import choice_label, count, field_label, t
from crm_tui.screens.base import CrmScreen, FilterAsYouType
from crm_tui.screens.modals import ConfirmScreen, FilterScreen, customer_filters
from crm_tui.screens.record_forms import complaint_form, customer_form, order_form, visit_form
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import tell
from crm_tui.widgets.record_table import RecordTable
from crm_tui.widgets.tables import customer_columns
from crm_tui.widgets.title_bar import TitleBar

SORTABLE = ("name", "company", "region", "industry", "status", "tier", "owner", "updated_at")


class CustomersScreen(FilterAsYouType, CrmScreen):
    DEFAULT_CSS = """
    CustomersScreen #search { margin: 0 0; }
    CustomersScreen #status-line { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new", "key.new_customer", id="customers.new"),
        Binding("slash", "focus_search", "key.search", id="customers.search"),
        Binding("ctrl+f", "filters", "key.filters", id="customers.filters"),
        Binding("ctrl+o", "sort", "key.sort", id="customers.sort"),
        Binding("ctrl+r", "reverse", "key.reverse", id="customers.reverse"),
        Binding("e", "edit", "key.edit", id="customers.edit"),
        Binding("v", "log_visit", "key.log_visit", id="customers.visit"),
        Binding("c", "new_complaint", "key.new_complaint", id="customers.complaint"),
        Binding("o", "new_order", "key.new_order", id="customers.order"),
        Binding("delete", "delete", "key.delete", id="customers.delete"),
        Binding("escape", "escape", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_values: dict[str, str] = {}
        self.sort = "name"
        self.sort_desc = False
        self.total_all: int | None = None
        self.matching: int | None = None
        self.loading = False  # a page query is in flight
        self.queued = False  # the query changed while it was

    def compose(self) -> ComposeResult:
        yield TitleBar(t("customers.title"), "customers")
        yield Input(placeholder=t("customers.search_placeholder"), id="search", classes="list-search")
        yield Static("", id="status-line")
        yield RecordTable(customer_columns(), id="customers")
        yield self.app.status_widget()
        yield CrmFooter()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#customers", RecordTable)

    def on_mount(self) -> None:
        self.table.sort_key = self.sort
        self.query_one("#search", Input).focus()
        self.reload()

    def on_screen_resume(self) -> None:
        if self.table.loaded_generation >= 0:
            self.reload(keep_cursor=True)

    def on_resize(self) -> None:
        if self.total_all is not None:
            self.update_status()  # one row or two, for the new width

    # -- loading ----------------------------------------------------------------------

    def reload(self, keep_cursor: bool = False) -> None:
        """Run the current search, filters and sort: first page, then the counts.

        At most one query is in flight: thread workers cannot be interrupted and the API
        serialises calls, so keys typed while one runs are coalesced into one more query
        with the latest text when it lands."""
        if self.loading:
            self.queued = True
            return
        self.loading = True
        table = self.table
        generation = table.begin()
        crm = self.crm
        search = self.search_text or None
        filters = customer_filters(self.filter_values)
        order = ("-" if self.sort_desc else "") + self.sort
        page = table.page_size
        cursor = table.cursor if keep_cursor else 0

        def fetch(offset: int, limit: int) -> list[Record]:
            return crm.customers.find(filters, search=search, order=order, limit=limit, offset=offset)

        def first_page() -> list[Record]:
            return fetch(0, page)

        def shown(rows: list[Record]) -> None:
            self.loading = False
            # Until the count arrives, a full page means "maybe more": let it scroll one page.
            table.show(generation, rows, total=len(rows), fetch=fetch)
            if keep_cursor and cursor < len(rows):
                table.cursor = cursor
            if self.queued:
                self.queued = False
                self.reload()
            else:
                self.run_db(counts, counted, group="customers-count")

        def failed(exc: BaseException) -> None:
            self.loading = self.queued = False
            self.show_error(exc)

        def counts() -> tuple[int, int]:
            matching = crm.customers.count(filters, search=search)
            total = matching if not (search or filters) else crm.customers.count()
            return matching, total

        def counted(result: tuple[int, int]) -> None:
            if generation != table.generation:
                return
            self.matching, self.total_all = result
            table.set_total(generation, self.matching)
            self.update_status()

        self.run_db(first_page, shown, failed=failed, group="customers-page")

    def update_status(self) -> None:
        parts = [t("customers.count", shown=count(self.matching or 0), total=count(self.total_all or 0))]
        if not self.total_all:
            parts.append(t("customers.empty_hint"))
        elif not self.matching and not self.search_text and self.filter_values:
            # Esc clears the search, not the filters: say which keys clear these
            parts.append(t("find.filters.no_match", filters=self.key_of("customers.filters", "ctrl+f"),
                           clear=self.key_of("filter.clear", "ctrl+l")))
        elif not self.matching:
            parts.append(t("find.no_match"))
        if self.filter_values:
            described = []
            for name, value in self.filter_values.items():
                label = t("filter.tag") if name == "tags" else field_label(CUSTOMER, name)
                shown = choice_label(CUSTOMER, name, value) if name in ("status", "tier") else value
                described.append(f"{label}={escape(shown)}")
            parts.append(t("customers.filtered", filters=", ".join(described)))
        arrow = "▼" if self.sort_desc else "▲"
        parts.append(t("customers.sorted", field=field_label(CUSTOMER, self.sort) if self.sort in CUSTOMER.field_names
                       else t("customers.updated"), arrow=arrow))
        text = "  ·  ".join(parts)
        line = self.query_one("#status-line", Static)
        # a second row when the line is longer than the screen is wide (80x24, the
        # empty list's hint): whole, not cut; the layout changes only when the rows do
        rows = 1 if cell_len(Text.from_markup(text).plain) <= max(1, line.content_region.width) else 2
        if line.styles.height is None or line.styles.height.value != rows:
            line.styles.height = rows
        line.update(text, layout=False)

    # -- filters and sorting ------------------------------------------------------------

    def key_of(self, binding_id: str, key: str) -> str:
        """How the footer shows the key of a binding, as the user's keymap binds it."""
        key = getattr(self.app, "_keymap", {}).get(binding_id, key).split(",")[0]
        return self.app.get_key_display(Binding(key, ""))

    def action_filters(self) -> None:
        def chosen(values: dict[str, str] | None) -> None:
            if values is not None:
                self.filter_values = values
                self.reload()

        self.app.push_screen(FilterScreen(self.filter_values), chosen)

    def action_sort(self) -> None:
        index = SORTABLE.index(self.sort) if self.sort in SORTABLE else -1
        self.set_sort(SORTABLE[(index + 1) % len(SORTABLE)], False)

    def action_reverse(self) -> None:
        self.set_sort(self.sort, not self.sort_desc)

    def set_sort(self, key: str, desc: bool) -> None:
        self.sort, self.sort_desc = key, desc
        self.table.sort_key, self.table.sort_desc = key, desc
        self.reload()

    def on_record_table_header_clicked(self, event: RecordTable.HeaderClicked) -> None:
        key = event.column.key
        if key in SORTABLE:
            self.set_sort(key, not self.sort_desc if key == self.sort else False)

    # -- records ------------------------------------------------------------------------

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        self.app.open_customer(event.record["id"])

    def _selected(self) -> Record | None:
        record = self.table.cursor_record
        if record is None:
            tell(self, t("customers.none_selected"), severity="warning")
        return record

    def _after_save(self, record: Record | None) -> None:
        if record is not None:
            self.reload(keep_cursor=True)

    def action_new(self) -> None:
        def created(record: Record | None) -> None:
            if record is not None:
                self.app.open_customer(record["id"])
                self.reload()

        customer_form(self.app, None, created)

    def action_edit(self) -> None:
        if (record := self._selected()) is not None:
            # The list holds the whole record, so the form opens without a round trip.
            customer_form(self.app, record, self._after_save)

    def action_delete(self) -> None:
        record = self._selected()
        if record is None:
            return
        crm = self.crm

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_db(lambda: crm.customers.delete(record["id"]), lambda _: self.reload(keep_cursor=True))

        self.app.push_screen(ConfirmScreen(t("customers.delete_question", name=record["name"])), answered)

    def action_log_visit(self) -> None:
        if (record := self._selected()) is not None:
            visit_form(self.app, record, self._after_save)

    def action_new_complaint(self) -> None:
        if (record := self._selected()) is not None:
            complaint_form(self.app, record, self._after_save)

    def action_new_order(self) -> None:
        if (record := self._selected()) is not None:
            order_form(self.app, record, self._after_save)
