"""Small dialogs: confirm a question, the keys of the current screen, pick a customer,
filter the customer list."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Select, Static

from crm_tui.api import Filter, Record
from crm_tui.domain.entities import CUSTOMER
from crm_tui.i18n import choice_label, field_label, t
from crm_tui.screens.base import CrmModal, CrmScreen
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.record_table import RecordTable
from crm_tui.widgets.tables import customer_columns


class ConfirmScreen(CrmModal[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; max-width: 100%; height: auto; max-height: 100%;
                               border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmScreen #question-box { height: auto; max-height: 14; }
    ConfirmScreen #question { width: 100%; height: auto; }
    ConfirmScreen Horizontal { height: auto; padding: 1 0 0 0; }
    ConfirmScreen Button { margin: 0 2 0 0; width: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "key.yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "key.no", id="confirm.no"),
    ]

    def __init__(self, question: str, *, yes: str | None = None, no: str | None = None) -> None:
        super().__init__()
        self.question = question
        self.yes = yes or t("confirm.yes")
        self.no = no or t("confirm.no")

    def compose(self) -> ComposeResult:
        with Vertical():
            # wraps to the dialog's width: a long question (an erase names all it removes) is never cut
            with VerticalScroll(id="question-box"):
                yield Static(self.question, id="question", markup=False)
            with Horizontal():
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button(f"{self.no} (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")


class ChoiceScreen(CrmModal[bool | None]):
    """A question with two ways forward and a way back: y answers True, n False, and
    Escape (or the Cancel button) None, which does nothing. For questions where "no"
    still acts (win without an order), so that Escape never acts by accident."""

    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical { width: 70; max-width: 100%; height: auto; border: thick $warning;
                              background: $surface; padding: 1 2; }
    ChoiceScreen Horizontal { height: auto; padding: 1 0 0 0; }
    ChoiceScreen Button { margin: 0 1 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "key.yes", id="choice.yes"),
        Binding("n", "answer(False)", "key.no", id="choice.no"),
        Binding("escape", "cancel", "key.cancel", id="choice.cancel"),
    ]

    def __init__(self, question: str, *, yes: str, no: str) -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, markup=False)
            with Horizontal():
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button(f"{self.no} (n)", variant="primary", id="no")
                yield Button(t("form.cancel"), id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss({"yes": True, "no": False}.get(event.button.id or ""))


class HelpScreen(CrmModal[None]):
    """The keys of the screen it was opened from, as the footer would show them and
    the hidden ones too."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 80; max-width: 100%; height: 80%; border: thick $primary; background: $surface; padding: 0 1; }
    HelpScreen #help-title { text-style: bold; padding: 0 0 1 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "key.close", id="help.close")]

    def __init__(self, title: str, bindings: Sequence[ActiveBinding]) -> None:
        super().__init__()
        self.title_text = title
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        table = Table(show_header=True, box=None, expand=True, header_style="bold")
        table.add_column(t("help.key"), style="bold cyan", no_wrap=True)
        table.add_column(t("help.action"))
        table.add_column(t("help.id"), style="dim")
        seen = set()
        for active in self.bindings:
            binding = active.binding
            # Only our own bindings (they have ids, so they can be rebound); not Textual's internals.
            if not binding.description or not binding.id or (binding.action, binding.key) in seen:
                continue
            seen.add((binding.action, binding.key))
            # Text, not str: keys such as "[" and descriptions are shown, not read as markup
            table.add_row(Text(self.app.get_key_display(binding)), Text(binding.description), Text(binding.id or ""))
        with Vertical():
            yield Static(t("help.title", screen=self.title_text), id="help-title", markup=False)
            with VerticalScroll():
                yield Static(table)
                yield Static("\n" + t("help.rebind"), id="help-rebind", markup=False)  # "[keys]" stays
        yield CrmFooter()

    def action_close(self) -> None:
        self.dismiss(None)


class CustomerPicker(CrmModal[str | None]):
    """Search-as-you-type over customers; Enter returns the chosen customer's id."""

    DEFAULT_CSS = """
    CustomerPicker { align: center middle; }
    CustomerPicker > Vertical { width: 100; max-width: 100%; height: 80%; border: thick $primary; background: $surface; }
    CustomerPicker #picker-title { text-style: bold; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "key.cancel", id="picker.cancel"),
        Binding("down", "to_list", show=False),
    ]

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="picker-title", markup=False)
            yield Input(placeholder=t("customers.search_placeholder"), id="picker-search")
            yield RecordTable(customer_columns(compact=True), id="picker-table", page_size=50)
        yield CrmFooter()

    def on_mount(self) -> None:
        self.query_one("#picker-search", Input).focus()
        self.search("")

    def search(self, text: str) -> None:
        table = self.query_one(RecordTable)
        generation = table.begin()
        crm = self.crm
        self.run_db(lambda: crm.customers.find(search=text or None, limit=50),
                    lambda rows: table.show(generation, rows), group="picker", exclusive=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.search(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        record = self.query_one(RecordTable).cursor_record
        if record is not None:
            self.dismiss(record["id"])

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        self.dismiss(event.record["id"])

    def action_to_list(self) -> None:
        self.query_one(RecordTable).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


FILTER_FIELDS = ("status", "tier", "region", "industry", "owner", "tags")


class FilterScreen(CrmModal[dict[str, str] | None]):
    """The customer list's filters: status, tier, region, industry, owner, tag."""

    DEFAULT_CSS = """
    FilterScreen { align: center middle; }
    FilterScreen > Vertical { width: 70; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 0 1; }
    FilterScreen .filter-row { height: auto; padding: 1 0 0 0; }
    FilterScreen .filter-row Label { width: 14; }
    FilterScreen .filter-row Input, FilterScreen .filter-row Select { width: 1fr; }
    FilterScreen Horizontal { height: auto; padding: 1 0 0 0; }
    FilterScreen Button { margin: 0 2 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "apply", "key.apply", id="filter.apply", priority=True),
        Binding("ctrl+l", "clear", "key.clear_filters", id="filter.clear"),
        Binding("escape", "cancel", "key.cancel", id="filter.cancel"),
    ]

    def __init__(self, current: dict[str, str]) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(t("filter.title"), id="filter-title")
            for name in FILTER_FIELDS:
                label = t("filter.tag") if name == "tags" else field_label(CUSTOMER, name)
                value = self.current.get(name, "")
                with Horizontal(classes="filter-row"):
                    yield Label(label)
                    if name in ("status", "tier"):
                        f = CUSTOMER.field(name)
                        yield Select([(choice_label(CUSTOMER, name, c), c) for c in f.choices],
                                     value=value or Select.NULL, id=f"filter-{name}", prompt=t("filter.any"),
                                     compact=True)
                    else:
                        yield Input(value, id=f"filter-{name}", placeholder=t("filter.any"), compact=True)
            with Horizontal():
                yield Button(t("filter.apply"), variant="primary", id="apply")
                yield Button(t("filter.clear"), id="clear")
        yield CrmFooter()

    def values(self) -> dict[str, str]:
        out = {}
        for name in FILTER_FIELDS:
            widget: Any = self.query_one(f"#filter-{name}")
            value = widget.value
            if isinstance(widget, Select):
                value = "" if value in (Select.NULL, None) else str(value)
            if value and str(value).strip():
                out[name] = str(value).strip()
        return out

    def action_apply(self) -> None:
        self.dismiss(self.values())

    def action_clear(self) -> None:
        self.dismiss({})

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "apply":
            self.action_apply()
        else:
            self.action_clear()


def pick_customer_then(screen: CrmScreen, prompt: str, then: Callable[[Record], Any]) -> None:
    """Ask which customer, load it in a worker, then hand it to `then` (a form)."""
    crm = screen.crm

    def picked(customer_id: str | None) -> None:
        if customer_id:
            screen.run_db(lambda: crm.customers.get(customer_id), then)

    screen.app.push_screen(CustomerPicker(prompt), picked)


def customer_filters(values: dict[str, str]) -> list[Filter]:
    """The filter dialog's values as API filters: exact for codes, contains for text,
    "has this tag" for tags."""
    filters = []
    for name, value in values.items():
        op = "=" if name in ("status", "tier", "tags") else "~"
        filters.append(Filter(name, op, value))
    return filters
