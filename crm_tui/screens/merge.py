"""The merge view (整合): from a customer's screen, pick the record of the same person
(its probable duplicates, or any customer), choose field by field whose value the
kept customer ends with, merge, and undo the latest merge. The rules and the writes
are the API's (crm_tui.api.merging); this screen only shows and chooses."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from crm_tui.api import Record
from crm_tui.domain.entities import CUSTOMER
from crm_tui.domain.merging import KEEP, OTHER
from crm_tui.i18n import field_label, t
from crm_tui.screens.base import CrmScreen
from crm_tui.screens.modals import ConfirmScreen, CustomerPicker
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import literal, tell
from crm_tui.widgets.title_bar import TitleBar


def _shown(name: str, value: Any) -> str:
    from crm_tui.screens.detail import show_value

    return show_value("customers", name, value)


class MergeScreen(CrmScreen):
    """Merge another customer into this one (the kept customer)."""

    DEFAULT_CSS = """
    MergeScreen .hint { padding: 0 1; color: $text-muted; }
    MergeScreen #merge-candidates { height: auto; max-height: 35%; }
    MergeScreen #merge-fields { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "key.back", id="merge.back"),
        Binding("space", "take_other", "merge.key_toggle", id="merge.toggle"),
        Binding("a", "pick", "merge.key_pick", id="merge.pick"),
        Binding("ctrl+s", "merge", "merge.key_merge", id="merge.merge"),
        Binding("u", "undo", "merge.key_undo", id="merge.undo"),
    ]

    def __init__(self, customer_id: str) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.candidates: list[dict[str, Any]] = []
        self.other: Record | None = None
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield TitleBar(t("merge.title"))
        yield Static(t("merge.hint_candidates"), classes="hint", id="merge-hint")
        yield DataTable(id="merge-candidates", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="merge-fields", cursor_type="row", zebra_stripes=True)
        yield CrmFooter()

    def on_mount(self) -> None:
        self.reload()

    def reload(self, _: Any = None) -> None:
        crm, cid = self.crm, self.customer_id

        def load() -> tuple[Record, list[dict[str, Any]]]:
            from crm_tui.api.duplicates import find_duplicates

            keep = crm.customers.get(cid)
            pairs = [p for p in find_duplicates(crm) if keep["id"] in (p["first"], p["second"])]
            return keep, pairs

        self.run_db(load, self._show_candidates, group="merge", exclusive=True)

    def _show_candidates(self, loaded: tuple[Record, list[dict[str, Any]]]) -> None:
        keep, pairs = loaded
        self.keep = keep
        # through the bar: it fits the screens' keys again beside the longer title
        self.query_one(TitleBar).set_title(t("merge.title_of", name=keep["name"]))
        self.candidates = [{"id": p["second"] if p["first"] == keep["id"] else p["first"],
                            "name": p["second_name"] if p["first"] == keep["id"] else p["first_name"],
                            "score": p["score"], "reasons": "; ".join(p["reasons"])} for p in pairs]
        table = self.query_one("#merge-candidates", DataTable)
        table.clear(columns=True)
        table.add_columns(t("merge.col_score"), field_label(CUSTOMER, "name"), t("merge.col_reasons"), "id")
        for c in self.candidates:
            table.add_row(f"{c['score']:.2f}", literal(c["name"]), literal(c["reasons"]), c["id"][:10], key=c["id"])
        if not self.candidates:
            table.add_row("", Text(t("merge.no_candidates")), "", "")
        table.focus()
        self.other = None
        self.query_one("#merge-fields", DataTable).clear(columns=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "merge-candidates":
            if event.row_key.value:
                self.choose(str(event.row_key.value))
        elif event.data_table.id == "merge-fields":
            self.action_take_other()

    def choose(self, other_id: str) -> None:
        crm, cid = self.crm, self.customer_id
        self.run_db(lambda: (crm.customers.get(other_id), crm.merges.compare(cid, other_id)), self._show_fields)

    def _show_fields(self, loaded: tuple[Record, list[dict[str, Any]]]) -> None:
        self.other, rows = loaded
        # Fields where both are empty have nothing to choose.
        self.rows = [r for r in rows if r["keep"] is not None or r["other"] is not None]
        # Text: a name is what the rep typed, brackets too ("[VIP] 王芳"), never markup
        self.query_one("#merge-hint", Static).update(literal(t("merge.hint_fields", other=self.other["name"])))
        self._fill_fields()
        self.query_one("#merge-fields", DataTable).focus()

    def _fill_fields(self) -> None:
        table = self.query_one("#merge-fields", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.add_columns(t("merge.col_field"), t("merge.col_keep"), t("merge.col_other"), t("merge.col_result"))
        for r in self.rows:
            mine, theirs = _shown(r["field"], r["keep"]), _shown(r["field"], r["other"])
            pick_keep = r["side"] == KEEP
            table.add_row(Text(field_label(CUSTOMER, r["field"])),
                          Text(("● " if pick_keep else "  ") + mine, style="bold" if pick_keep else "dim"),
                          Text(("  " if pick_keep else "● ") + theirs, style="dim" if pick_keep else "bold"),
                          literal(mine if pick_keep else theirs), key=r["field"])
        if self.rows:
            table.move_cursor(row=min(max(cursor, 0), len(self.rows) - 1))

    # -- actions --------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_take_other(self) -> None:
        """Take the other value for the field under the cursor (or back)."""
        table = self.query_one("#merge-fields", DataTable)
        if self.other is None or not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return
        row = self.rows[table.cursor_row]
        row["side"] = OTHER if row["side"] == KEEP else KEEP
        self._fill_fields()

    def action_pick(self) -> None:
        """Merge any customer, not only a probable duplicate."""
        def picked(customer_id: str | None) -> None:
            if customer_id:
                self.choose(customer_id)

        self.app.push_screen(CustomerPicker(t("merge.pick_title")), picked)

    def action_merge(self) -> None:
        if self.other is None:
            tell(self, t("merge.choose_first"), severity="warning")
            return
        other, take = self.other, {r["field"]: r["side"] for r in self.rows}
        crm, cid = self.crm, self.customer_id

        def merged(record: Record) -> None:
            tell(self, t("merge.done", other=other["name"]), title=t("merge.title"), timeout=8)
            self.reload()

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_db(lambda: crm.merges.merge(cid, other["id"], take), merged)

        self.app.push_screen(ConfirmScreen(t("merge.question", other=other["name"], keep=self.keep["name"])),
                             answered)

    def action_undo(self) -> None:
        """Undo the latest merge into this customer."""
        crm, cid = self.crm, self.customer_id

        def undone(record: Record) -> None:
            tell(self, t("merge.undone"), title=t("merge.title"), timeout=8)
            self.reload()

        def ask(merges: list[Record]) -> None:
            open_ = [m for m in merges if m["status"] == "merged"]
            if not open_:
                tell(self, t("merge.nothing_to_undo"), severity="warning")
                return
            latest = open_[0]

            def answered(yes: bool | None) -> None:
                if yes:
                    self.run_db(lambda: crm.merges.unmerge(latest["id"]), undone)

            self.app.push_screen(ConfirmScreen(t("merge.undo_question", when=latest["merged_at"][:16])), answered)

        self.run_db(lambda: crm.merges.find(cid), ask)
