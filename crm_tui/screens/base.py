"""What every screen of the UI shares: key descriptions from the catalog, and running
API calls in thread workers whose results and errors come back to the event loop."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual import events
from textual.binding import BindingsMap
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Input
from textual.worker import get_current_worker

from crm_tui.api import NotFound, ValidationError
from crm_tui.i18n import field_label, label_of_name, t
from crm_tui.widgets.literal import tell
from crm_tui.widgets.record_table import RecordTable

if TYPE_CHECKING:
    from textual import getters

    from crm_tui.api import Crm
    from crm_tui.app import CrmApp

T = TypeVar("T")


def localize_bindings(node: DOMNode) -> None:
    """Binding descriptions in BINDINGS are catalog keys ("key.edit"); give this node
    its own copy with the text of the current language, so the footer, the help
    screen and the palette speak it. Keys and ids are kept, so keymaps still apply."""
    localized = {
        key: [dataclasses.replace(b, description=t(b.description) if b.description else "",
                                  tooltip=t(b.tooltip) if b.tooltip else "") for b in bindings]
        for key, bindings in node._bindings.key_to_bindings.items()
    }
    node._bindings = BindingsMap.from_keys(localized)


def describe_error(exc: BaseException, entity: Any = None) -> str:
    """A one-line message for the user; never a traceback."""
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors:
            label = (field_label(entity, err.field) if entity is not None
                     else label_of_name(err.field) or err.field.replace("_", " "))
            parts.append(f"{label}{t('sep.label')}{err.reason}")
        return t("sep.reasons").join(parts)
    if isinstance(exc, NotFound):
        return str(exc)
    return t("error.unexpected", kind=type(exc).__name__, message=str(exc))


class DbMixin:
    """Run API calls off the event loop. `done` and `failed` run back on it."""

    if TYPE_CHECKING:
        # Textual's own `app`, typed as the CRM's app; the screens below say the same
        # in Textual's way (getters.app), which also settles which `app` they inherit.
        @property
        def app(self) -> CrmApp: ...

    @property
    def crm(self) -> Crm:
        return self.app.crm

    def run_db(self, call: Callable[[], T], done: Callable[[T], Any] | None = None, *,
               failed: Callable[[BaseException], Any] | None = None, group: str = "db",
               exclusive: bool = False) -> None:
        node: DOMNode = self  # type: ignore[assignment]

        def work() -> None:
            worker = get_current_worker()
            try:
                result = call()
            except Exception as exc:  # every failure becomes a notification
                if not worker.is_cancelled:
                    self._call_back(failed or self.show_error, exc)
                return
            if done is not None and not worker.is_cancelled:
                self._call_back(done, result)

        node.run_worker(work, thread=True, group=group, exclusive=exclusive, exit_on_error=False)

    def _call_back(self, callback: Callable[[Any], Any], value: Any) -> None:
        # RuntimeError: the app is shutting down; nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            self.app.call_from_thread(callback, value)

    def show_error(self, exc: BaseException) -> None:
        # tell: messages quote what the user typed, which may hold "[".
        tell(self.app, describe_error(exc), title=t("error.title"), severity="error", timeout=8)


class CrmScreen(DbMixin, Screen):
    """A top-level screen of the CRM."""

    if TYPE_CHECKING:
        app = getters.app(CrmApp)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localize_bindings(self)


class TableScreen(CrmScreen):
    """A screen around one RecordTable, reloaded each time it is shown."""

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self, _: object = None) -> None:
        raise NotImplementedError


def only_the_search_key(event: Input.Changed) -> bool:
    """Whether the change is a lone "/" typed into an empty search box that already had
    the focus (the customer list's has it from the start): that "/" is the key that
    means "search", not the start of what is searched for, so it is taken out again."""
    if event.value == "/":
        event.input.value = ""
        return True
    return False


class FilterAsYouType:
    """A search box above a list that filters it as the user types, the same on every
    list screen: `/` goes to the box, each key reloads the list, Enter or ↓ goes down to
    the list, Esc clears the box, then leaves it. The screen gives the box the class
    `list-search`, binds `/` to `focus_search` and Esc to `escape`, and reads
    `search_text` in its `reload`."""

    search_text = ""

    if TYPE_CHECKING:  # provided by the Screen this is mixed into
        focused: Any

        def query_one(self, selector: Any, expect_type: Any = None) -> Any: ...

        # each screen's own reload; this mixin calls it with no argument
        def reload(self, *args: Any, **kwargs: Any) -> None: ...

    @property
    def table(self) -> RecordTable:
        return self.query_one(RecordTable)

    def search_box(self) -> Input:
        return self.query_one(".list-search", Input)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.has_class("list-search"):
            if only_the_search_key(event):
                return
            self.search_text = event.value
            self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.has_class("list-search"):
            self.table.focus()

    def on_key(self, event: events.Key) -> None:
        # Down from the search box goes to the list, as in a browser's search field.
        if event.key == "down" and self.focused is self.search_box():
            self.table.focus()
            event.stop()

    def action_focus_search(self) -> None:
        self.search_box().focus()

    def action_escape(self) -> None:
        box = self.search_box()
        if self.focused is box and box.value:
            box.value = ""
        elif self.focused is box:
            self.table.focus()
        else:
            box.focus()


class CrmModal(DbMixin, ModalScreen[T]):
    if TYPE_CHECKING:
        app = getters.app(CrmApp)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localize_bindings(self)
