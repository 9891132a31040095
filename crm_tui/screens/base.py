"""What every screen of the UI shares: key descriptions from the catalog, and running
API calls in thread workers whose results and errors come back to the event loop."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.binding import BindingsMap
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.worker import get_current_worker

from crm_tui.api import NotFound, ValidationError
from crm_tui.i18n import field_label, t
from crm_tui.widgets.record_table import RecordTable

if TYPE_CHECKING:
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
            label = field_label(entity, err.field) if entity is not None else err.field.replace("_", " ")
            parts.append(f"{label}: {err.reason}")
        return "; ".join(parts)
    if isinstance(exc, NotFound):
        return str(exc)
    return t("error.unexpected", kind=type(exc).__name__, message=str(exc))


class DbMixin:
    """Run API calls off the event loop. `done` and `failed` run back on it."""

    app: CrmApp

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
        # markup=False: messages quote what the user typed, which may hold "[".
        self.app.notify(describe_error(exc), title=t("error.title"), severity="error", timeout=8, markup=False)


class CrmScreen(DbMixin, Screen):
    """A top-level screen of the CRM."""

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


class CrmModal(DbMixin, ModalScreen[T]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        localize_bindings(self)
