"""Conflicts: same-field edits made at the same time on two laptops. Lists the open
ones with both values and both reps; `m` keeps mine, `t` keeps theirs. The choice is
written as a normal change that syncs. Below them, the rep's changes the server
refused, with its reason: `s` sends a record again after it was fixed, `d` discards
the change. Data via `crm_tui.api.sync` in workers."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from crm_tui.domain.entities import ENTITIES
from crm_tui.domain.times import shown_time
from crm_tui.i18n import choice_label, field_label, has, t
from crm_tui.screens.base import CrmScreen
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import literal, tell
from crm_tui.widgets.title_bar import TitleBar


def _value(value: Any) -> str:
    return "—" if value is None else str(value).replace("\n", " ")[:60]


def _field(table: str, name: str) -> str:
    """A field as the forms name it, in the rep's language (company -> 公司名称)."""
    ent = ENTITIES.get(table)
    return field_label(ent, name) if ent is not None and name in ent.field_names else name


def _shown(table: str, name: str, value: Any) -> str:
    """A value as the lists show it: a stored code by its label (low -> 低)."""
    ent = ENTITIES.get(table)
    if ent is not None and name in ent.field_names and ent.field(name).kind == "enum" and value is not None:
        value = choice_label(ent, name, value)
    return _value(value)


def _op(op: str) -> str:
    return t(f"changes.op.{op}") if has(f"changes.op.{op}") else op


class ConflictsScreen(CrmScreen):
    DEFAULT_CSS = """
    ConflictsScreen .screen-title { height: 1; padding: 0 1; background: $primary; color: $text; text-style: bold; }
    ConflictsScreen #conflicts-empty { padding: 1 2; }
    ConflictsScreen #conflicts-table { height: 1fr; }
    ConflictsScreen #rejected-table { height: 1fr; }
    ConflictsScreen #rejected-empty { padding: 0 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        # English until the catalog has these keys (t() would show the key itself).
        Binding("m", "keep('mine')", "key.keep_mine" if has("key.keep_mine") else "Keep mine", id="conflicts.mine"),
        Binding("t", "keep('theirs')", "key.keep_theirs" if has("key.keep_theirs") else "Keep theirs",
                id="conflicts.theirs"),
        Binding("s", "retry", "key.retry", id="conflicts.retry"),
        Binding("d", "discard", "key.discard", id="conflicts.discard"),
        Binding("r", "refresh", "key.refresh", id="conflicts.refresh"),
        Binding("escape", "app.pop_screen", "key.back", id="conflicts.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield TitleBar(t("conflicts.title"), "conflicts")
        yield Static("", id="conflicts-empty")
        table: DataTable[str] = DataTable(id="conflicts-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", t("conflicts.record"), t("conflicts.field"),
                          t("conflicts.mine"), t("conflicts.theirs"),
                          t("conflicts.by"), t("conflicts.when"))
        yield table
        yield Static(t("rejected.title"), classes="screen-title")
        yield Static("", id="rejected-empty")
        refused: DataTable[str] = DataTable(id="rejected-table", cursor_type="row", zebra_stripes=True)
        refused.add_columns("#", t("rejected.record"), t("rejected.op"), t("rejected.fields"),
                            t("rejected.reason"), t("rejected.when"))
        yield refused
        yield CrmFooter()

    def on_mount(self) -> None:
        self.query_one("#conflicts-table", DataTable).focus()
        self.reload()

    def reload(self, _: object = None) -> None:
        crm = self.crm
        self.run_db(lambda: crm.sync.conflicts(), self.show_rows, group="conflicts", exclusive=True)
        self.run_db(lambda: crm.sync.rejected(), self.show_rejected, group="rejected", exclusive=True)

    def show_rejected(self, rows: list[dict[str, Any]]) -> None:
        self.rejected = rows
        table = self.query_one("#rejected-table", DataTable)
        table.clear()
        for r in rows:
            table.add_row(str(r["id"]), literal(r["record"]), _op(r["op"]), literal(r["fields"]),
                          literal(_value(r["reason"])), shown_time(r["rejected_at"]), key=str(r["id"]))
        self.query_one("#rejected-empty", Static).update("" if rows else t("rejected.none"))
        self.refresh_bindings()

    def _chosen_rejection(self) -> int | None:
        table = self.query_one("#rejected-table", DataTable)
        if not self.rejected or table.cursor_row is None or table.cursor_row >= len(self.rejected):
            return None
        return int(self.rejected[table.cursor_row]["id"])

    def action_retry(self) -> None:
        self._settle("retry")

    def action_discard(self) -> None:
        self._settle("discard")

    def _settle(self, how: str) -> None:
        """Retry or discard the refused change under the cursor of its table."""
        rejected_id = self._chosen_rejection()
        if rejected_id is None:
            return
        crm = self.crm

        def settled(result: dict[str, Any]) -> None:
            key = "rejected.retried" if how == "retry" else "rejected.discarded"
            tell(self, t(key, id=rejected_id, record=result["record"]))
            self.reload()

        sync = crm.sync
        call = sync.retry if how == "retry" else sync.discard
        self.run_db(lambda: call(rejected_id), settled, group="rejected-settle")

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        table = self.query_one("#conflicts-table", DataTable)
        table.clear()
        for r in rows:
            tbl, name = r["tbl"], r["field"]
            table.add_row(str(r["id"]), literal(r["record"]), literal(_field(tbl, name)),
                          literal(_shown(tbl, name, r["mine"])), literal(_shown(tbl, name, r["theirs"])),
                          literal(f"{r['mine_rep']} / {r['theirs_rep']}"),
                          shown_time(r["detected_at"]), key=str(r["id"]))
        self.query_one("#conflicts-empty", Static).update(
            "" if rows else t("conflicts.none"))
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keep mine / theirs only while there is a conflict, retry and discard only
        while there is a refused change: an empty list's footer offers no key that
        would do nothing (it says there is nothing to review)."""
        if action == "keep":
            return bool(self.rows)
        if action in ("retry", "discard"):
            return bool(self.rejected)
        return True

    def on_sync_status_synced(self, _: object) -> None:
        self.reload()  # F9 here: the pulled changes may bring or settle conflicts

    def action_refresh(self) -> None:
        self.reload()

    def action_keep(self, side: str) -> None:
        table = self.query_one("#conflicts-table", DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return
        conflict_id = self.rows[table.cursor_row]["id"]
        crm = self.crm

        def resolved(result: dict[str, Any]) -> None:
            tbl, name = result.get("tbl", ""), result["field"]
            tell(self, t("conflicts.resolved", field=_field(tbl, name),
                                 value=_shown(tbl, name, result["kept"])))
            self.reload()

        def refused(exc: BaseException) -> None:
            self.show_error(exc)
            self.reload()  # a conflict out of date was closed all the same

        self.run_db(lambda: crm.sync.resolve(conflict_id, side), resolved, failed=refused, group="conflicts-resolve")
