"""The Textual application: opens the rep's database, chooses the language, applies the
key bindings from the config, and switches between the top-level screens (modes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static

from crm_tui.api import Crm
from crm_tui.api.agenda import Agenda
from crm_tui.api.complaints import ComplaintWorkflow, local_now
from crm_tui.config import ConfigError, load_config
from crm_tui.domain.complaints import SlaPolicy
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import resolve_language, set_language, t
from crm_tui.screens.agenda import AgendaScreen
from crm_tui.screens.base import localize_bindings
from crm_tui.screens.complaints import ComplaintsScreen
from crm_tui.screens.conflicts import ConflictsScreen
from crm_tui.screens.customers import CustomersScreen
from crm_tui.screens.dashboard import DashboardScreen
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.modals import HelpScreen
from crm_tui.screens.orders import OrdersScreen
from crm_tui.screens.palette import CrmCommands
from crm_tui.widgets.sync_status import SyncStatus


class CrmApp(App[None]):
    """crm_tui's terminal UI over one `Crm`."""

    TITLE = "crm_tui"
    CSS = """
    Screen { layers: base overlay; }
    """
    MODES: ClassVar[dict[str, Any]] = {
        "customers": CustomersScreen,
        "agenda": AgendaScreen,
        "complaints": ComplaintsScreen,
        "orders": OrdersScreen,
        "dashboard": DashboardScreen,
    }
    DEFAULT_MODE = "customers"
    COMMANDS = App.COMMANDS | {CrmCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "key.help", id="app.help"),
        Binding("f2", "switch_mode('customers')", "key.customers", id="app.customers", show=False),
        Binding("f3", "switch_mode('agenda')", "key.agenda", id="app.agenda", show=False),
        Binding("f4", "switch_mode('complaints')", "key.complaints", id="app.complaints", show=False),
        Binding("f5", "switch_mode('orders')", "key.orders", id="app.orders", show=False),
        Binding("f6", "switch_mode('dashboard')", "key.dashboard", id="app.dashboard", show=False),
        Binding("f7", "conflicts", "key.conflicts", id="app.conflicts", show=False),
        Binding("f9", "sync", "key.sync", id="app.sync", show=False),
        Binding("ctrl+q", "quit", "key.quit", id="app.quit", priority=True),
        Binding("ctrl+p", "command_palette", "key.palette", id="app.palette", show=False, priority=True),
    ]

    def __init__(self, db: str | Path | None = None, *, crm: Crm | None = None,
                 config: Mapping[str, Any] | None = None, lang: str | None = None,
                 now: Callable[[], dt.datetime] | None = None) -> None:
        self.config_error: str | None = None
        if config is None:
            try:
                config = load_config()
            except ConfigError as exc:
                config, self.config_error = {}, str(exc)
        self.config = dict(config)
        set_language(resolve_language(self.config, lang))
        super().__init__()
        localize_bindings(self)
        self.crm = crm if crm is not None else Crm(db)
        self._owns_crm = crm is None
        self.now = now or local_now
        try:
            policy = SlaPolicy.from_config(self.config)
        except ValidationError as exc:
            policy, self.config_error = SlaPolicy(), f"{t('app.bad_config')}: {exc}"
        self.agenda = Agenda(self.crm, now=self.now)
        self.workflow = ComplaintWorkflow(self.crm, policy, now=self.now)
        self.title = t("app.title")
        self.sub_title = str(self.crm.path)

    def on_mount(self) -> None:
        keys = self.config.get("keys") or {}
        if isinstance(keys, Mapping) and keys:
            self.set_keymap({str(k): str(v) for k, v in keys.items()})
        if self.config_error:
            self.notify(self.config_error, title=t("error.title"), severity="error", timeout=10, markup=False)

    def on_unmount(self) -> None:
        if self._owns_crm:
            self.crm.close()

    def status_widget(self) -> Widget:
        """The status line at the bottom of each main screen: the sync state."""
        return SyncStatus()

    # -- navigation ---------------------------------------------------------------------

    def open_customer(self, customer_id: str) -> None:
        self.push_screen(CustomerScreen(customer_id))

    def action_conflicts(self) -> None:
        if not isinstance(self.screen, ConflictsScreen):
            self.push_screen(ConflictsScreen())

    def action_sync(self) -> None:
        """Sync now, through the status line of the current screen."""
        status = self.screen.query(SyncStatus)
        if status:
            status.first().sync_now()
        else:
            self.notify(t("sync.no_status_here"), severity="warning")

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        bindings = list(screen.active_bindings.values())
        title = screen.query_one(".screen-title", Static).render() if screen.query(".screen-title") else ""
        self.push_screen(HelpScreen(str(title), bindings))
