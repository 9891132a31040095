"""The pipeline board: one column per open stage, a card per opportunity (customer,
title, amount, expected close; overdue ones marked). Keys move the selected card to
the next or previous stage, win it (offering to create its order) or lose it (asking
the reason), open, edit or add one; filters by rep and by search. Data comes from
`crm.pipeline` in thread workers."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from crm_tui.api import Record
from crm_tui.domain.opportunities import LOST, WON, PipelineSettings
from crm_tui.i18n import count, language, t
from crm_tui.i18n import money as i18n_money
from crm_tui.screens.base import CrmModal, CrmScreen, only_the_search_key
from crm_tui.screens.modals import ChoiceScreen, pick_customer_then
from crm_tui.screens.record_forms import opportunity_form
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import tell
from crm_tui.widgets.title_bar import TitleBar
from crm_tui.widgets.wrap import Wrapped


def stage_label(settings: PipelineSettings, stage_id: str) -> str:
    """The configured label of a stage in the UI's language (its id if unknown)."""
    try:
        return settings.stage(stage_id).label(language())
    except ValueError:
        return stage_id


def money(amount: float) -> str:
    return i18n_money(amount, 0)  # whole amounts: the board's cards are narrow


def short_money(amount: float) -> str:
    """A column head's amount in a few cells: 42.5k, 1.2M."""
    if amount >= 1e6:
        return f"{amount / 1e6:.1f}M"
    if amount >= 1e4:
        return f"{amount / 1e3:.0f}k"
    return money(amount)


class PromptScreen(CrmModal[str | None]):
    """Ask for one line of text (a lost reason, a rep); Enter answers, Escape cancels."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 60; max-width: 100%; height: auto; border: thick $primary;
                              background: $surface; padding: 0 1; }
    PromptScreen #prompt-question { padding: 0 0 1 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "key.cancel", id="prompt.cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="prompt-question", markup=False)
            yield Input(self.value, id="prompt-input", compact=True)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class StageColumn(Vertical):
    """One open stage: its label, count and weighted amount, and its cards."""

    DEFAULT_CSS = """
    StageColumn { width: 1fr; height: 1fr; border-right: vkey $primary-darken-2; }
    StageColumn > .stage-head { height: 2; padding: 0 1; background: $boost; text-style: bold;
                                text-wrap: nowrap; text-overflow: ellipsis; }
    StageColumn > OptionList { height: 1fr; border: none; padding: 0; }
    StageColumn > OptionList:focus { background-tint: $primary 8%; }
    """

    def __init__(self, stage_id: str) -> None:
        super().__init__(id=f"stage-{stage_id}")
        self.stage_id = stage_id
        self.figures: tuple[str, int, float] | None = None  # label, count, weighted amount

    def compose(self) -> ComposeResult:
        yield Static("", classes="stage-head", markup=False)
        yield OptionList(id=f"cards-{self.stage_id}", compact=True)

    def show_figures(self, label: str, count: int, weighted: float) -> None:
        self.figures = (label, count, weighted)
        self._show_head()

    def on_resize(self) -> None:
        self._show_head()

    def _show_head(self) -> None:
        """The stage's name and count on the first line, its weighted amount on the
        second: each stays on its line (the name cut short, never wrapped over the
        amount), and a column too narrow for the words keeps the amount alone."""
        if self.figures is None:
            return
        label, deals, weighted = self.figures
        head = self.query_one(".stage-head", Static)
        amount = short_money(weighted)
        line = t("pipeline.column_weighted", weighted=amount)
        room = head.size.width - head.styles.gutter.width  # the cells inside its padding
        if room and cell_len(line) > room:
            line = amount
        text = Text(label, style="bold")
        text.append(t("pipeline.column_count", count=count(deals)))
        text.append("\n" + line, style="dim")
        head.update(text)


class PipelineScreen(CrmScreen):
    DEFAULT_CSS = """
    PipelineScreen #pipeline-bar { height: 1; }
    PipelineScreen #pipeline-search { width: 1fr; }
    PipelineScreen #pipeline-summary { width: auto; padding: 0 1; color: $text-muted; }
    PipelineScreen #board { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("greater_than_sign,full_stop", "step(1)", "key.pipeline.next_stage", id="pipeline.next"),
        Binding("less_than_sign,comma", "step(-1)", "key.pipeline.prev_stage", id="pipeline.prev"),
        Binding("w", "win", "key.pipeline.win", id="pipeline.win"),
        Binding("l", "lose", "key.pipeline.lose", id="pipeline.lose"),
        Binding("n", "new", "key.pipeline.new_opportunity", id="pipeline.new"),
        Binding("e", "edit", "key.edit", id="pipeline.edit"),
        Binding("c", "customer", "key.open_customer", id="pipeline.customer"),
        Binding("q", "quotes", "key.quotes.open", id="pipeline.quotes"),
        Binding("slash", "focus_search", "key.search", id="pipeline.search"),
        Binding("r", "rep", "key.pipeline.filter_rep", id="pipeline.rep"),
        Binding("left", "column(-1)", show=False),
        Binding("right", "column(1)", show=False),
        # as in every list's search box: Esc clears it, then goes back to the cards
        Binding("escape", "leave_search", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rep: str | None = None
        self.board: dict[str, list[dict[str, Any]]] = {}
        self.focus_card: tuple[str, str | None] | None = None  # (stage, deal id) to select after a reload
        self.totals: dict[str, Any] | None = None  # the last figures shown in the summary

    @property
    def settings(self) -> PipelineSettings:
        return self.crm.pipeline.settings

    def compose(self) -> ComposeResult:
        yield TitleBar(t("pipeline.title"), "pipeline")
        with Horizontal(id="pipeline-bar"):
            yield Input(placeholder=t("pipeline.search_placeholder"), id="pipeline-search", compact=True)
            yield Static("", id="pipeline-summary", markup=False)
        with Horizontal(id="board"):
            for stage in self.settings.open_stages:
                yield StageColumn(stage.id)
        yield self.app.status_widget()
        yield CrmFooter()

    def on_mount(self) -> None:
        first = self.query(OptionList)
        if first:
            first.first().focus()
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    # -- loading ------------------------------------------------------------------------

    def reload(self, _: object = None) -> None:
        crm, rep = self.crm, self.rep
        search = self.query_one("#pipeline-search", Input).value

        def load() -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
            # the columns' counts and amounts are those of the cards: the same search
            return crm.pipeline.board(rep=rep, search=search), crm.pipeline.pipeline(rep=rep, search=search)

        self.run_db(load, self.show_board, group="pipeline", exclusive=True)

    def show_board(self, result: tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]) -> None:
        board, totals = result
        self.board = board
        weighted = {s["stage"]: s for s in totals["stages"]}
        for column in self.query(StageColumn):
            cards = board.get(column.stage_id, [])
            figures = weighted.get(column.stage_id, {"count": 0, "weighted": 0.0})
            column.show_figures(stage_label(self.settings, column.stage_id), figures["count"], figures["weighted"])
            options = column.query_one(OptionList)
            highlighted = options.highlighted
            options.clear_options()
            options.add_options([Option(self._card(c), id=c["id"]) for c in cards])
            if cards:
                target = None
                if self.focus_card and self.focus_card[0] == column.stage_id and self.focus_card[1]:
                    target = next((i for i, c in enumerate(cards) if c["id"] == self.focus_card[1]), None)
                options.highlighted = target if target is not None else min(highlighted or 0, len(cards) - 1)
                if target is not None:
                    options.focus()
        self.focus_card = None
        self.totals = totals
        self._show_summary()

    def _show_summary(self) -> None:
        if self.totals is None:
            return
        # under 100 columns (80x24) the amounts go short (1.2M) so the search box keeps its hint
        amount = money if self.size.width >= 100 else short_money
        self.query_one("#pipeline-summary", Static).update(
            t("pipeline.summary", rep=self.rep or t("pipeline.all_reps"), amount=amount(self.totals["amount"]),
              weighted=amount(self.totals["weighted"]), currency=self.totals["currency"]))

    def on_resize(self) -> None:
        self._show_summary()

    def _card(self, card: dict[str, Any]) -> Wrapped:
        """Customer, title, then amount and expected close; an overdue close is red
        and marked (the mark stays when the column is too narrow for the word). A long
        title wraps in the column, between Chinese characters too (Wrapped); the
        catalog's words (已逾期, 无预计成交日期) move to the next line whole, as
        'overdue' does, rather than break as 已逾 / 期."""
        text = Text()
        words: list[tuple[int, int]] = []

        def word(label: str, style: str) -> None:
            words.append((len(text), len(text) + len(label)))
            text.append(label, style=style)

        text.append(card["customer_name"] or "", style="bold")
        text.append("\n" + (card["title"] or ""))
        text.append(f"\n{money(card['amount'])} ")
        if card["overdue"]:
            text.append(f"⚠{card['close_date']} ", style="bold red")
            word(t("pipeline.overdue"), "bold red")
        elif card["close_date"]:
            text.append(card["close_date"])
        else:
            word(t("pipeline.no_close_date"), "dim")
        text.append("\n")
        return Wrapped(text, whole=words)

    # -- the selected card --------------------------------------------------------------

    def _column(self) -> StageColumn | None:
        focused = self.focused
        while focused is not None and not isinstance(focused, StageColumn):
            focused = focused.parent  # type: ignore[assignment]
        return focused

    def selected(self) -> dict[str, Any] | None:
        column = self._column()
        if column is None:
            return None
        options = column.query_one(OptionList)
        cards = self.board.get(column.stage_id, [])
        if options.highlighted is None or not 0 <= options.highlighted < len(cards):
            return None
        return cards[options.highlighted]

    def action_column(self, step: int) -> None:
        columns = list(self.query(StageColumn))
        current = self._column()
        if not columns:
            return
        index = columns.index(current) if current in columns else 0
        columns[(index + step) % len(columns)].query_one(OptionList).focus()

    def _after_move(self, deal: Record) -> None:
        self.focus_card = (deal["stage"], deal["id"])
        if deal["stage"] in (WON, LOST):
            tell(self, t(f"pipeline.{deal['stage']}_done", title=deal["title"]), timeout=4)
        self.reload()

    def action_step(self, by: int) -> None:
        card = self.selected()
        if card is None:
            return
        pipeline = self.crm.pipeline
        self.run_db(lambda: pipeline.step(card["id"], by), self._after_move)

    def action_win(self) -> None:
        card = self.selected()
        if card is None:
            return
        pipeline = self.crm.pipeline

        def answered(create_order: bool | None) -> None:
            if create_order is None:
                return
            self.run_db(lambda: pipeline.move(card["id"], WON, create_order=create_order)[0], self._after_move)

        question = t("pipeline.win_question", title=card["title"], amount=money(card["amount"]))
        # Escape cancels the win: only y or n decide about the order (ChoiceScreen).
        self.app.push_screen(ChoiceScreen(question, yes=t("pipeline.win_with_order"),
                                          no=t("pipeline.win_without_order")), answered)

    def action_lose(self) -> None:
        card = self.selected()
        if card is None:
            return
        pipeline = self.crm.pipeline

        def answered(reason: str | None) -> None:
            if reason is None:
                return
            self.run_db(lambda: pipeline.move(card["id"], LOST, lost_reason=reason)[0], self._after_move)

        self.app.push_screen(PromptScreen(t("pipeline.lost_reason_question", title=card["title"])), answered)

    def _saved(self, record: Record | None) -> None:
        if record is not None:
            self.focus_card = (record["stage"], record["id"])
            self.reload()

    def action_new(self) -> None:
        column = self._column()
        stage = column.stage_id if column else None
        pick_customer_then(self, t("pipeline.pick_customer"),
                           lambda customer: opportunity_form(self.app, customer, self._saved, stage=stage))

    def action_edit(self) -> None:
        card = self.selected()
        if card is None:
            return
        crm, app = self.crm, self.app
        self.run_db(lambda: (crm.customers.get(card["customer_id"]),
                             crm.opportunities.with_product_skus([crm.opportunities.get(card["id"])])[0]),
                    lambda both: opportunity_form(app, both[0], self._saved, record=both[1]))

    def action_quotes(self) -> None:
        """The selected deal's quotations: make, accept (wins the deal) and print them."""
        from crm_tui.screens.quotes import QuotesScreen

        card = self.selected()
        if card is not None:
            self.app.push_screen(QuotesScreen(card), self.reload)

    def action_customer(self) -> None:
        card = self.selected()
        if card is not None:
            self.app.open_customer(card["customer_id"])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_edit()

    def action_focus_search(self) -> None:
        self.query_one("#pipeline-search", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "pipeline-search" and not only_the_search_key(event):
            self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "pipeline-search":
            self.action_column(0)

    def action_leave_search(self) -> None:
        box = self.query_one("#pipeline-search", Input)
        if self.focused is box and box.value:
            box.value = ""
        elif self.focused is box:
            self.action_column(0)

    def on_key(self, event: events.Key) -> None:
        # Down from the search box goes to the cards, as from every list's search box.
        if event.key == "down" and self.focused is self.query_one("#pipeline-search", Input):
            self.action_column(0)
            event.stop()

    def action_rep(self) -> None:
        def answered(rep: str | None) -> None:
            if rep is None:
                return
            self.rep = rep.strip() or None
            self.reload()

        self.app.push_screen(PromptScreen(t("pipeline.rep_question"), self.rep or ""), answered)
