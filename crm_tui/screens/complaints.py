"""The complaints queue by status and priority, due and overdue times highlighted, and
the workflow actions. Which action applies is the API's rule
(`crm_tui.domain.complaints`); the screen only greys out the keys that would fail."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static, Tab, Tabs

from crm_tui.api import Record
from crm_tui.domain import complaints as rules
from crm_tui.domain.entities import COMPLAINT, COMPLAINT_STATUSES
from crm_tui.domain.times import shown_time
from crm_tui.i18n import choice_label, t
from crm_tui.screens.base import FilterAsYouType, TableScreen
from crm_tui.screens.modals import pick_customer_then
from crm_tui.screens.record_forms import assign_form, complaint_form, resolve_form
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import tell
from crm_tui.widgets.record_table import RecordTable, Row
from crm_tui.widgets.tables import complaint_columns
from crm_tui.widgets.title_bar import TitleBar

VIEWS = ("open", *COMPLAINT_STATUSES, "all")

# action -> the statuses in which it applies (mirrors the workflow rules).
APPLIES = {
    "acknowledge": (rules.NEW,),
    "assign": rules.OPEN_STATUSES,
    "first_response": rules.OPEN_STATUSES,
    "resolve": rules.OPEN_STATUSES,
    "close": (rules.RESOLVED,),
    "reopen": (rules.RESOLVED, rules.CLOSED),
}


class ComplaintsScreen(FilterAsYouType, TableScreen):
    DEFAULT_CSS = """
    ComplaintsScreen #complaint-info { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "key.acknowledge", id="complaints.acknowledge"),
        Binding("h", "assign", "key.assign", id="complaints.assign"),
        Binding("f", "first_response", "key.first_response", id="complaints.first_response"),
        Binding("s", "resolve", "key.resolve", id="complaints.resolve"),
        Binding("x", "close", "key.close_complaint", id="complaints.close"),
        Binding("o", "reopen", "key.reopen", id="complaints.reopen"),
        Binding("n", "new", "key.new_complaint", id="complaints.new"),
        Binding("e", "edit", "key.edit", id="complaints.edit"),
        Binding("c", "customer", "key.open_customer", id="complaints.customer"),
        Binding("tab", "view(1)", "key.next_view", id="complaints.next_view"),
        Binding("shift+tab", "view(-1)", "key.prev_view", id="complaints.prev_view", show=False),
        Binding("slash", "focus_search", "key.search", id="complaints.search"),
        Binding("escape", "escape", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = "open"

    def compose(self) -> ComposeResult:
        yield TitleBar(t("complaints.title"), "complaints")
        yield Tabs(*(Tab(self.view_label(v), id=f"view-{v}") for v in VIEWS), id="views")
        yield Input(placeholder=t("find.complaints_placeholder"), id="complaints-search", classes="list-search",
                    compact=True)
        yield RecordTable(complaint_columns(self.due_text), row_class=self.row_class, id="complaints-table")
        yield Static("", id="complaint-info")
        yield self.app.status_widget()
        yield CrmFooter()

    @staticmethod
    def view_label(view: str) -> str:
        return t(f"complaints.view_{view}") if view in ("open", "all") else choice_label(COMPLAINT, "status", view)

    # -- showing --------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        return self.app.now()

    def due_text(self, row: Row) -> str:
        due = row.get("due_at")
        if not due:
            return ""
        text = shown_time(due)
        if rules.is_overdue(row, self.now()):
            return f"{text} {t('complaints.overdue')}"
        return text

    def row_class(self, row: Row) -> str | None:
        now = self.now()
        if row.get("status") in (rules.RESOLVED, rules.CLOSED):
            return "done"
        if rules.is_overdue(row, now) or rules.first_response_overdue(row, now, self.app.workflow.policy):
            return "overdue"
        if rules.due_soon(row, now):
            return "soon"
        return None

    def reload(self, _: object = None) -> None:
        workflow, view, search = self.app.workflow, self.view, self.search_text
        status = None if view == "all" else view
        self.run_db(lambda: workflow.queue(status, search=search), self.show_rows, group="complaints",
                    exclusive=True)

    def show_rows(self, rows: list[Record]) -> None:
        cursor = self.table.cursor
        self.table.show_rows(rows)
        self.table.cursor = min(cursor, max(0, len(rows) - 1))
        self.refresh_bindings()
        self.show_info()

    def show_info(self) -> None:
        record = self.table.cursor_record
        if record is None:
            text = t("find.no_match") if self.search_text else t("complaints.empty")
        else:
            first_due = self.app.workflow.first_response_due(record)
            first = shown_time(record.get("first_response_at")) or \
                t("complaints.first_response_due", when=shown_time(first_due))
            text = f"{record.get('customer_name', '')} · {t('complaints.first_response')}{t('sep.label')}{first}"
        self.query_one("#complaint-info", Static).update(Text(text), layout=False)

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id and event.tab.id.removeprefix("view-") != self.view:
            self.view = event.tab.id.removeprefix("view-")
            self.reload()

    def action_view(self, step: int) -> None:
        index = (VIEWS.index(self.view) + step) % len(VIEWS)
        self.query_one(Tabs).active = f"view-{VIEWS[index]}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in APPLIES:
            record = self.table.cursor_record if self.is_mounted else None
            return None if record is None or record["status"] not in APPLIES[action] else True
        return True

    # -- workflow -------------------------------------------------------------------------

    def _selected(self) -> Record | None:
        record = self.table.cursor_record
        if record is None:
            tell(self, t("complaints.none_selected"), severity="warning")
        return record

    def _done(self, record: Record | None) -> None:
        if record is not None:
            tell(self, t("complaints.now_status", status=choice_label(COMPLAINT, "status", record["status"])),
                            timeout=3)
            self.reload()

    def _step(self, name: str) -> None:
        record = self._selected()
        if record is None:
            return
        call = getattr(self.app.workflow, name)
        self.run_db(lambda: call(record["id"]), self._done)

    def action_acknowledge(self) -> None:
        self._step("acknowledge")

    def action_first_response(self) -> None:
        self._step("record_first_response")

    def action_close(self) -> None:
        self._step("close")

    def action_reopen(self) -> None:
        self._step("reopen")

    def action_assign(self) -> None:
        if (record := self._selected()) is not None:
            assign_form(self.app, record, self._done)

    def action_resolve(self) -> None:
        if (record := self._selected()) is not None:
            resolve_form(self.app, record, self._done)

    def action_new(self) -> None:
        pick_customer_then(self, t("complaints.pick_customer"),
                           lambda customer: complaint_form(self.app, customer, self._done))

    def action_edit(self) -> None:
        record = self._selected()
        if record is None:
            return
        crm, app = self.crm, self.app
        self.run_db(lambda: crm.customers.get(record["customer_id"]),
                    lambda customer: complaint_form(app, customer, self._done, record=record))

    def action_customer(self) -> None:
        if (record := self._selected()) is not None:
            self.app.open_customer(record["customer_id"])

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        # Enter opens what the row is, as in the orders and the pipeline: the complaint
        self.action_edit()

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        # Another complaint: other workflow keys may apply now.
        self.refresh_bindings()
        self.show_info()
