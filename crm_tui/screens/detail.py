"""One customer: the profile with every field, and tabs for contacts (with their power
map), visits, complaints, orders and the field history from the change log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane, Tabs

from crm_tui.api import Filter, Record
from crm_tui.api.history import field_history
from crm_tui.domain.entities import COMPLAINT, CONTACT, CONTACT_ROLES, CUSTOMER, ENTITIES, OPPORTUNITY, ORDER
from crm_tui.domain.times import is_time_name, shown_time
from crm_tui.domain.validation import display_phone
from crm_tui.i18n import choice_label, count, field_label, money, quantity, t
from crm_tui.screens.base import CrmScreen
from crm_tui.screens.modals import ConfirmScreen
from crm_tui.screens.pipeline import stage_label
from crm_tui.screens.record_forms import (
    complaint_form,
    contact_form,
    customer_form,
    opportunity_form,
    order_form,
    visit_form,
)
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import literal, tell
from crm_tui.widgets.tables import signed_amount, visit_cells, visit_headers
from crm_tui.widgets.title_bar import TitleBar
from crm_tui.widgets.wrap import Wrapped, column_widths, line_spans

TABS = ("profile", "contacts", "visits", "complaints", "orders", "opportunities", "history")
# The record kinds listed on a tab, by the tab's id.
LISTED = ("contacts", "visits", "complaints", "orders", "opportunities")
CONTACT_COLUMNS = ("name", "title", "department", "role", "attitude", "mobile", "phone", "email")
# How the power map marks a contact's attitude: a sign that reads without colour too.
ATTITUDE_MARKS = {"supporter": ("+", "green"), "neutral": ("○", "yellow"), "opponent": ("−", "red")}


def power_map(contacts: list[Record]) -> Table:
    """The contacts grouped by their role in the buying decision, each marked by
    their attitude; contacts with no role come last."""
    table = Table(show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True, width=14)
    table.add_column(overflow="fold")
    for role in (*CONTACT_ROLES, None):
        members = [c for c in contacts if c.get("role") == role]
        if not members:
            continue
        line = Text()
        for i, c in enumerate(members):
            mark, colour = ATTITUDE_MARKS.get(c.get("attitude") or "", ("?", "dim"))
            if i:
                line.append("   ")
            line.append(f"{mark} ", style=f"bold {colour}")
            line.append(c["name"])
            if c.get("title"):
                line.append(f" ({c['title']})", style="dim")
            if c.get("attitude"):
                line.append(f" {choice_label(CONTACT, 'attitude', c['attitude'])}", style=colour)
        table.add_row(choice_label(CONTACT, "role", role) if role else t("contacts.no_role"), Wrapped(line))
    if not contacts:
        table.add_row("", Text(t("contacts.none"), style="dim"))
    return table


@dataclass
class CustomerFile:
    """Everything the detail screen shows, loaded in one worker."""

    customer: Record
    contacts: list[Record] = field(default_factory=list)
    visits: list[Record] = field(default_factory=list)
    complaints: list[Record] = field(default_factory=list)
    orders: list[Record] = field(default_factory=list)
    opportunities: list[Record] = field(default_factory=list)
    order_lines: dict[str, list[Record]] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)


def load_customer_file(app: Any, customer_id: str) -> CustomerFile:
    crm = app.crm
    crm.analytics.ensure_classes()  # the profile shows the classes `crm classify` computes
    customer = crm.customers.get(customer_id)
    by_customer = [Filter("customer_id", "=", customer["id"])]
    orders = crm.orders.find(by_customer)
    return CustomerFile(
        customer=customer,
        contacts=crm.contacts.find(by_customer),
        visits=crm.visits.find(by_customer),
        complaints=app.workflow.queue(None, customer_id=customer["id"]),
        orders=orders,
        order_lines={o["id"]: crm.order_book.lines(o["id"]) for o in orders},
        opportunities=crm.opportunities.with_product_skus(crm.opportunities.find(by_customer, order="-close_date")),
        history=field_history(crm, "customers", customer["id"]),
    )


def show_value(table: str, name: str, value: Any) -> str:
    if value is None:
        return ""
    ent = ENTITIES[table]
    if name in ent.field_names and ent.field(name).kind == "enum":
        return choice_label(ent, name, value)
    if name in ent.field_names and ent.field(name).kind == "phone":
        return display_phone(str(value))
    return str(value)


class CustomerScreen(CrmScreen):
    DEFAULT_CSS = """
    CustomerScreen TabbedContent { height: 1fr; }
    CustomerScreen TabPane { height: 1fr; padding: 0; }
    CustomerScreen DataTable { height: 1fr; }
    CustomerScreen #power-map-box { height: auto; max-height: 50%; padding: 0 1 1 1; }
    CustomerScreen .section-title { text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "key.back", id="detail.back"),
        Binding("e", "edit", "key.edit", id="detail.edit"),
        Binding("v", "log_visit", "key.log_visit", id="detail.visit"),
        Binding("c", "new_complaint", "key.new_complaint", id="detail.complaint"),
        Binding("o", "new_order", "key.new_order", id="detail.order"),
        Binding("p", "new_opportunity", "key.pipeline.new_opportunity", id="detail.opportunity"),
        Binding("n", "new_contact", "contacts.key_new", id="detail.contact"),
        # only on the Opportunities tab: out of the footer, in help and the palette
        Binding("q", "quotes", "key.quotes.open", id="detail.quotes", show=False),
        Binding("delete", "delete", "key.delete_row", id="detail.delete"),
        # Erasing a person is rare and final: out of the footer, in help and the palette.
        Binding("X", "erase", "key.erase_customer", id="detail.erase", show=False),
        # Merging a duplicate into this customer (and undoing it): in help and the palette.
        Binding("M", "merge", "merge.key_open", id="detail.merge", show=False),
        Binding("right_square_bracket", "tab(1)", "key.next_tab", id="detail.next_tab"),
        Binding("left_square_bracket", "tab(-1)", "key.prev_tab", id="detail.prev_tab"),
    ]

    def __init__(self, customer_id: str) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.file: CustomerFile | None = None
        # what each tab's table shows, to fit its text columns again on a resize
        self._filled: dict[str, tuple[list[str], list[list[Any]], list[Record]]] = {}

    def compose(self) -> ComposeResult:
        yield TitleBar(t("detail.loading"))
        with TabbedContent(id="tabs"):
            with TabPane(t("detail.profile"), id="profile"), VerticalScroll():
                yield Static("", id="profile-body")
            with TabPane(t("contacts.tab"), id="contacts"):
                with VerticalScroll(id="power-map-box"):
                    yield Static(t("contacts.power_map"), classes="section-title")
                    yield Static("", id="power-map")
                yield DataTable(id="contacts-table", cursor_type="row", zebra_stripes=True)
            with TabPane(t("detail.visits"), id="visits"):
                yield DataTable(id="visits-table", cursor_type="row", zebra_stripes=True)
            with TabPane(t("detail.complaints"), id="complaints"):
                yield DataTable(id="complaints-table", cursor_type="row", zebra_stripes=True)
            with TabPane(t("detail.orders"), id="orders"):
                yield DataTable(id="orders-table", cursor_type="row", zebra_stripes=True)
            with TabPane(t("pipeline.tab"), id="opportunities"):
                yield DataTable(id="opportunities-table", cursor_type="row", zebra_stripes=True)
            with TabPane(t("detail.history"), id="history"):
                yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield CrmFooter()

    def on_mount(self) -> None:
        self.reload()

    def reload(self, _: Any = None) -> None:
        app = self.app
        cid = self.customer_id
        self.run_db(lambda: load_customer_file(app, cid), self.show_file, group="detail", exclusive=True)

    def show_file(self, file: CustomerFile) -> None:
        self.file = file
        c = file.customer
        title = c["name"] + (f" · {c['company']}" if c.get("company") else "")
        self.query_one(TitleBar).set_title(title)
        self._profile(c)
        self.query_one("#power-map", Static).update(power_map(file.contacts))
        self._fill("contacts-table", [field_label(CONTACT, n) for n in CONTACT_COLUMNS],
                   [[show_value("contacts", n, r.get(n)) for n in CONTACT_COLUMNS] for r in file.contacts],
                   file.contacts)
        self._fill("visits-table", visit_headers(), [visit_cells(v) for v in file.visits], file.visits)
        self._fill("complaints-table",
                   [field_label(COMPLAINT, n) for n in ("received_at", "type", "priority", "status", "handler",
                                                        "due_at", "description")],
                   [[shown_time(r["received_at"]), show_value("complaints", "type", r["type"]),
                     show_value("complaints", "priority", r["priority"]),
                     show_value("complaints", "status", r["status"]), r.get("handler") or "",
                     shown_time(r.get("due_at")), r.get("description") or ""]
                    for r in file.complaints], file.complaints)
        # A refund shows as a negative amount, as it counts in the sales figures.
        self._fill("orders-table", [field_label(ORDER, n) for n in ("ordered_at", "product", "quantity", "amount",
                                                                    "status", "notes")],
                   [[r["ordered_at"], r["product"], quantity(r.get("quantity")),
                     Text(money(signed_amount(r)), justify="right"),
                     show_value("orders", "status", r.get("status")), r.get("notes") or ""] for r in file.orders],
                   file.orders)
        stage = self.crm.pipeline.settings
        self._fill("opportunities-table",
                   [field_label(OPPORTUNITY, n) for n in ("title", "stage", "amount", "probability", "close_date",
                                                          "next_step", "closed_on", "lost_reason")],
                   [[r["title"], stage_label(stage, r["stage"]), Text(money(r["amount"]), justify="right"),
                     f"{stage.probability(r)}%", r.get("close_date") or "", r.get("next_step") or "",
                     r.get("closed_on") or "", r.get("lost_reason") or ""] for r in file.opportunities],
                   file.opportunities)
        self._fill("history-table", [t("history.when"), t("history.field"), t("history.from"), t("history.to"),
                                     t("history.rep"), t("history.replica")],
                   [[h["when"], field_label(CUSTOMER, h["field"]) if h["field"] != "*" else t("history.deleted"),
                     show_value("customers", h["field"], h["old"]), show_value("customers", h["field"], h["new"]),
                     h["rep"], h["node"][:8]] for h in file.history], file.history)

    def _profile(self, c: Record) -> None:
        table = Table(show_header=False, box=None, padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, width=18)
        table.add_column(overflow="fold")
        for name in CUSTOMER.field_names:
            table.add_row(field_label(CUSTOMER, name), Wrapped(literal(show_value("customers", name, c.get(name)))))
        for name in ("owner", "created_at", "updated_at", "id"):
            value = c.get(name)
            table.add_row(t(f"detail.{name}"), literal(shown_time(value) if is_time_name(name) else value))
        self.query_one("#profile-body", Static).update(table)

    def _fill(self, table_id: str, headers: list[str], rows: list[list[Any]], records: list[Record]) -> None:
        """Show `rows` in a tab's table, its columns fitted to the screen's width: when
        they do not all fit, the widest (an outcome, a description, notes) give way
        first and wrap, so a long Chinese note reads whole on 80 columns instead of
        running off the edge."""
        self._filled[table_id] = (headers, rows, records)
        table = self.query_one(f"#{table_id}", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        # literal: a DataTable reads str cells as markup, and users type "[".
        cells = [[literal(cell) if isinstance(cell, str) else cell for cell in row] for row in rows]
        widths = column_widths(headers, cells, self.size.width - 2)  # less the scrollbar
        wrapped = widths != column_widths(headers, cells, 10**6)
        table.header_height = max(len(line_spans(h, w)) for h, w in zip(headers, widths, strict=True))
        for header, width in zip(headers, widths, strict=True):
            table.add_column(header, width=width)
        for row, record in zip(cells, records, strict=True):
            key = record.get("id") or f"{record.get('hlc')}-{record.get('field')}"
            table.add_row(*(Wrapped(cell) if wrapped else cell for cell in row), key=key,
                          height=None if wrapped else 1)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def on_resize(self) -> None:
        # the free-text columns take the width there is: fitted again to the new one
        for table_id, filled in list(self._filled.items()):
            self._fill(table_id, *filled)

    # -- actions --------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, step: int) -> None:
        tabs = self.query_one(TabbedContent)
        index = TABS.index(tabs.active) if tabs.active in TABS else 0
        tabs.active = TABS[(index + step) % len(TABS)]
        # the tab's list takes the keys (Enter edits the row under the cursor); the
        # profile has none: the tab bar keeps them, as when the customer opens
        lists = self.query_one(f"#{tabs.active}", TabPane).query(DataTable)
        (lists.first() if lists else tabs.query_one(Tabs)).focus()

    def action_edit(self) -> None:
        if self.file:
            customer_form(self.app, self.file.customer, self._saved)

    def action_log_visit(self) -> None:
        if self.file:
            visit_form(self.app, self.file.customer, self._saved)

    def action_new_complaint(self) -> None:
        if self.file:
            complaint_form(self.app, self.file.customer, self._saved)

    def action_new_order(self) -> None:
        if self.file:
            order_form(self.app, self.file.customer, self._saved)

    def action_new_opportunity(self) -> None:
        if self.file:
            opportunity_form(self.app, self.file.customer, self._saved)

    def action_quotes(self) -> None:
        """The quotations of the opportunity under the cursor of the Opportunities tab."""
        from crm_tui.screens.quotes import QuotesScreen

        if self.file is None or self.query_one(TabbedContent).active != "opportunities":
            return
        table = self.query_one("#opportunities-table", DataTable)
        deals = self.file.opportunities
        if not deals or not 0 <= table.cursor_row < len(deals):
            return
        deal = {**deals[table.cursor_row], "customer_name": self.file.customer.get("name")}
        self.app.push_screen(QuotesScreen(deal), lambda _: self.reload())

    def action_new_contact(self) -> None:
        if self.file:
            contact_form(self.app, self.file.customer, self._saved)

    def action_delete(self) -> None:
        """Delete the contact, visit, complaint or order under the cursor of the open tab."""
        if self.file is None:
            return
        tab = self.query_one(TabbedContent).active
        records = getattr(self.file, tab) if tab in LISTED else None
        if not records:
            return
        table = self.query_one(f"#{tab}-table", DataTable)
        if not 0 <= table.cursor_row < len(records):
            return
        record = records[table.cursor_row]
        api = self.crm.records(tab)

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_db(lambda: api.delete(record["id"]), self.reload)

        kind = {"opportunities": t("pipeline.tab"), "contacts": t("contacts.tab")}.get(tab) or t(f"detail.{tab}")
        self.app.push_screen(ConfirmScreen(t("detail.delete_question", kind=kind)), answered)

    def action_erase(self) -> None:
        """Erase this customer's personal data (a request to the managers for a rep on
        a team server), after a question that names what goes (docs/privacy.md)."""
        if self.file is None:
            return
        cid = self.file.customer["id"]
        privacy = self.crm.privacy

        def erased(result: Any) -> None:
            key = "privacy.erased" if result.erased else "privacy.requested"
            tell(self, t(key, id=cid[:10]), title=t("privacy.notice_title"), timeout=8)
            self.reload()

        def ask(preview: dict[str, Any]) -> None:
            counts = preview["records"]
            question = t("privacy.request_question" if preview["request"] else "privacy.erase_question",
                         name=preview["name"] or cid, visits=count(counts.get("visits", 0)),
                         complaints=count(counts.get("complaints", 0)), surveys=count(counts.get("surveys", 0)),
                         orders=count(counts.get("orders", 0)), log=count(preview["change_log"]))

            def answered(yes: bool | None) -> None:
                if yes:
                    self.run_db(lambda: privacy.erase(cid), erased)

            self.app.push_screen(ConfirmScreen(question, yes=t("privacy.erase_yes")), answered)

        self.run_db(lambda: privacy.preview(cid), ask)

    def action_merge(self) -> None:
        from crm_tui.screens.merge import MergeScreen

        if self.file:
            self.app.push_screen(MergeScreen(self.file.customer["id"]), self.reload)

    def _saved(self, record: Record | None) -> None:
        if record is not None:
            self.reload()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a contact, visit, complaint or order edits it."""
        if self.file is None or event.row_key.value is None:
            return
        table_id = event.data_table.id or ""
        tab = table_id.removesuffix("-table")
        records = getattr(self.file, tab) if tab in LISTED else None
        if records is None:
            return
        record = next((r for r in records if r["id"] == event.row_key.value), None)
        if record is None:
            return
        customer = self.file.customer
        if table_id == "visits-table":
            # The form shows the contacts met by name, which the API takes as well as ids.
            names = {c["id"]: c["name"] for c in self.file.contacts}
            met = [names.get(i, i) for i in (record.get("contact_ids") or "").split(",") if i]
            visit_form(self.app, customer, self._saved, record={**record, "contact_ids": ",".join(met) or None})
        elif table_id == "complaints-table":
            complaint_form(self.app, customer, self._saved, record=record)
        elif table_id == "opportunities-table":
            opportunity_form(self.app, customer, self._saved, record=record)
        elif table_id == "contacts-table":
            contact_form(self.app, customer, self._saved, record=record)
        else:
            order_form(self.app, customer, self._saved, record=record, lines=self.file.order_lines.get(record["id"]))
