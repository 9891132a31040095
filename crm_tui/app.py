"""The Textual application: opens the rep's database, chooses the language, applies the
key bindings from the config, and switches between the top-level screens (modes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from crm_tui.api import Crm
from crm_tui.api.agenda import Agenda
from crm_tui.api.complaints import ComplaintWorkflow
from crm_tui.config import Config, ConfigError
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
from crm_tui.screens.pipeline import PipelineScreen
from crm_tui.screens.products import ProductsScreen
from crm_tui.widgets.literal import tell
from crm_tui.widgets.sync_status import SyncStatus, announce, run_sync


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
        "pipeline": PipelineScreen,
        "products": ProductsScreen,
    }
    DEFAULT_MODE = "customers"
    COMMANDS = App.COMMANDS | {CrmCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1,question_mark", "help", "key.help", id="app.help"),
        Binding("f2", "open('customers')", "key.customers", id="app.customers", show=False),
        Binding("f3", "open('agenda')", "key.agenda", id="app.agenda", show=False),
        Binding("f4", "open('complaints')", "key.complaints", id="app.complaints", show=False),
        Binding("f5", "open('orders')", "key.orders", id="app.orders", show=False),
        Binding("f6", "open('dashboard')", "key.dashboard", id="app.dashboard", show=False),
        Binding("f7", "conflicts", "key.conflicts", id="app.conflicts", show=False),
        Binding("f8", "open('pipeline')", "key.pipeline.title", id="app.pipeline", show=False),
        Binding("f9", "sync", "key.sync", id="app.sync", show=False),
        # The product catalogue: from the palette (Ctrl+P "Products") or F10.
        Binding("f10", "open('products')", "products.title", id="app.products", show=False),
        Binding("ctrl+q", "quit", "key.quit", id="app.quit", priority=True),
        Binding("ctrl+p", "command_palette", "key.palette", id="app.palette", show=False, priority=True),
    ]

    def __init__(self, db: str | Path | None = None, *, crm: Crm | None = None,
                 config: Config | Mapping[str, Any] | None = None, lang: str | None = None,
                 now: Callable[[], dt.datetime] | None = None, key: str | None = None) -> None:
        """`config`: the settings (a parsed mapping is validated here); by default
        the given `crm`'s, else the user's config file. A bad file is shown as a
        notification and the defaults apply. `now` becomes the API's clock. `key`
        opens an encrypted database (asked for by screens/unlock.py)."""
        self.config_error: str | None = None
        if isinstance(config, Mapping):
            config = self._checked(partial(Config.from_mapping, config, source="config"))
        elif config is None:
            config = crm.config if crm is not None else self._checked(Config.load)
        self.config: Config = config
        set_language(resolve_language(self.config.lang, lang))
        super().__init__()
        localize_bindings(self)
        self.crm = crm if crm is not None else Crm(db, config=self.config, key=key)
        self._owns_crm = crm is None
        if now is not None:
            self.crm.now = now
        # The API's own use cases: the UI runs the same workflow, SLA and agenda as the CLI.
        self.agenda: Agenda = self.crm.agenda
        self.workflow: ComplaintWorkflow = self.crm.complaint_workflow
        self.title = t("app.title")
        self.sub_title = str(self.crm.path)

    def _checked(self, load: Callable[[], Config]) -> Config:
        try:
            return load()
        except ConfigError as exc:
            self.config_error = f"{t('app.bad_config')}: {exc}"
            return Config()

    def now(self) -> dt.datetime:
        return self.crm.now()

    def on_mount(self) -> None:
        if self.config.keys.bindings:
            self.set_keymap(dict(self.config.keys.bindings))
        if self.config_error:
            tell(self, self.config_error, title=t("error.title"), severity="error", timeout=10)
        for notice in self.crm.notices:
            tell(self, notice, title=t("privacy.notice_title"), severity="warning", timeout=10)
        if self.crm.is_demo:
            tell(self, t("demo.ui_notice"), title=t("demo.ui_notice_title"), timeout=8)

    def on_unmount(self) -> None:
        if self._owns_crm:
            self.crm.close()

    def status_widget(self) -> Widget:
        """The status line at the bottom of each main screen: the sync state."""
        return SyncStatus()

    # -- the command palette in the rep's language (Textual's own texts are English) --------

    def action_command_palette(self) -> None:
        if self.use_command_palette and not any(isinstance(s, CommandPalette) for s in self.screen_stack):
            self.push_screen(CommandPalette(id="--command-palette", placeholder=t("palette.placeholder")))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's system commands, named from the catalog."""
        yield SystemCommand(t("palette.theme"), t("palette.theme_help"), self.action_change_theme)
        yield SystemCommand(t("palette.quit"), t("palette.quit_help"), self.action_quit)
        if screen.query("HelpPanel"):
            yield SystemCommand(t("palette.keys"), t("palette.keys_hide_help"), self.action_hide_help_panel)
        else:
            yield SystemCommand(t("palette.keys"), t("palette.keys_help"), self.action_show_help_panel)
        yield SystemCommand(t("palette.screenshot"), t("palette.screenshot_help"),
                            lambda: self.set_timer(0.1, self.deliver_screenshot))

    # -- navigation ---------------------------------------------------------------------

    def open_customer(self, customer_id: str) -> None:
        self.push_screen(CustomerScreen(customer_id))

    async def action_open(self, mode: str) -> None:
        """The F-key of a top-level screen shows that screen itself, whatever was
        stacked on it (a customer, the conflicts): not what was left on top."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            await self.pop_screen()

    def action_conflicts(self) -> None:
        if not isinstance(self.screen, ConflictsScreen):
            self.push_screen(ConflictsScreen())

    def action_sync(self) -> None:
        """Sync now, from any screen: through its status line when it has one (which
        shows the progress), else in a worker of the app; the screen hears of the
        result by the same `SyncStatus.Synced` message either way."""
        status = self.screen.query(SyncStatus)
        if status:
            status.first().sync_now()
            return
        screen = self.screen

        def done(report: Any, error: str | None) -> None:
            announce(self, report, error)
            screen.post_message(SyncStatus.Synced(report, error))

        tell(self, t("sync.running"))
        run_sync(self, done)

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        bindings = list(screen.active_bindings.values())
        title = screen.query_one(".screen-title", Static).render() if screen.query(".screen-title") else ""
        self.push_screen(HelpScreen(str(title), bindings))
