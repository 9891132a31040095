"""The agenda: follow-ups overdue, due today and coming up; log the visit that answers
one, mark it done, or move it to another day (a closed complaint's satisfaction
follow-up is done by the contact logged or its survey). Stale opportunities (past their expected
close, or quiet for the configured days) follow them: log a visit, or edit the deal."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from crm_tui.api import Record
from crm_tui.domain.agenda import section_counts
from crm_tui.i18n import count, t
from crm_tui.screens.base import TableScreen
from crm_tui.screens.modals import pick_customer_then
from crm_tui.screens.record_forms import opportunity_form, schedule_form, visit_form
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import tell
from crm_tui.widgets.record_table import RecordTable, Row
from crm_tui.widgets.tables import agenda_columns
from crm_tui.widgets.title_bar import TitleBar


def agenda_row_class(row: Row) -> str | None:
    return {"overdue": "overdue", "today": "soon", "stale": "soon"}.get(row.get("bucket") or "")


class AgendaScreen(TableScreen):
    DEFAULT_CSS = """
    AgendaScreen #agenda-counts { height: 1; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "log_visit", "key.log_follow_up", id="agenda.log"),
        Binding("d", "done", "key.mark_done", id="agenda.done"),
        Binding("n", "schedule", "key.schedule_next", id="agenda.schedule"),
        Binding("v", "visit_any", "key.log_visit_any", id="agenda.visit"),
        Binding("r", "refresh", "key.refresh", id="agenda.refresh"),
    ]

    def compose(self) -> ComposeResult:
        yield TitleBar(t("agenda.title"), "agenda")
        yield Static("", id="agenda-counts")
        yield RecordTable(agenda_columns(), row_class=agenda_row_class, id="agenda-table")
        yield self.app.status_widget()
        yield CrmFooter()

    def reload(self, _: object = None) -> None:
        agenda = self.app.agenda
        self.run_db(agenda.items, self.show_rows, group="agenda", exclusive=True)

    def show_rows(self, rows: list[Record]) -> None:
        cursor = self.table.cursor
        self.table.show_rows(rows)
        self.table.cursor = min(cursor, max(0, len(rows) - 1))
        counts = section_counts(rows)
        self.query_one("#agenda-counts", Static).update(
            f"[b $error]{t('agenda.overdue')} {count(counts['overdue'])}[/]   "
            f"[b $warning]{t('agenda.today')} {count(counts['today'])}[/]   "
            f"{t('agenda.upcoming')} {count(counts['upcoming'])}"
            + (f"   {t('agenda.stale')} {count(counts['stale'])}" if counts["stale"] else "")
            + ("" if rows else f"   —   {t('agenda.empty')}"))

    def _selected(self) -> Record | None:
        record = self.table.cursor_record
        if record is None:
            tell(self, t("agenda.none_selected"), severity="warning")
        return record

    def action_refresh(self) -> None:
        self.reload()

    def action_log_visit(self) -> None:
        """Log the visit that answers the selected follow-up (which is then done)."""
        follow_up = self._selected()
        if follow_up is None:
            return
        crm, app = self.crm, self.app
        answers = None if follow_up.get("kind") else follow_up["id"]  # a deal, a complaint: no visit to mark
        self.run_db(lambda: crm.customers.get(follow_up["customer_id"]),
                    lambda customer: visit_form(app, customer, self.reload, follow_up_of=answers))

    def action_visit_any(self) -> None:
        pick_customer_then(self, t("agenda.pick_customer"),
                           lambda customer: visit_form(self.app, customer, self.reload))

    def action_done(self) -> None:
        follow_up = self._selected()
        if follow_up is None:
            return
        if follow_up.get("kind") == "opportunity":
            tell(self, t("agenda.stale_not_a_follow_up"), severity="warning")
            return
        if follow_up.get("kind") == "complaint":
            tell(self, t("agenda_complaint.done_by_contact"), severity="warning")
            return
        agenda = self.app.agenda

        def done(_: Record) -> None:
            tell(self, t("agenda.marked_done", name=follow_up.get("customer_name", "")), timeout=3)
            self.reload()

        self.run_db(lambda: agenda.mark_done(follow_up["id"]), done)

    def action_schedule(self) -> None:
        follow_up = self._selected()
        if follow_up is None:
            return
        if follow_up.get("kind") == "opportunity":  # a stale deal: set its next step or close date
            crm, app = self.crm, self.app
            self.run_db(lambda: (crm.customers.get(follow_up["customer_id"]), crm.opportunities.get(follow_up["id"])),
                        lambda both: opportunity_form(app, both[0], self.reload, record=both[1]))
            return
        if follow_up.get("kind") == "complaint":
            tell(self, t("agenda_complaint.done_by_contact"), severity="warning")
            return
        schedule_form(self.app, follow_up, self.reload)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        self.app.open_customer(event.record["customer_id"])
