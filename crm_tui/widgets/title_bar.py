"""The top line of each main screen: its title on the left, and the keys that switch
between screens on the right (clickable, and showing the keys of the user's keymap)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.markup import escape
from textual.widgets import Static

from crm_tui.i18n import t

# (binding id, action) of the app-wide keys shown in the bar, in order.
NAV = (("app.customers", "switch_mode('customers')"), ("app.agenda", "switch_mode('agenda')"),
       ("app.complaints", "switch_mode('complaints')"), ("app.orders", "switch_mode('orders')"),
       ("app.dashboard", "switch_mode('dashboard')"), ("app.conflicts", "conflicts"),
       ("app.pipeline", "switch_mode('pipeline')"), ("app.sync", "sync"),
       ("app.help", "help"))


class TitleBar(Horizontal):
    DEFAULT_CSS = """
    TitleBar { height: 1; background: $primary; color: $text; }
    TitleBar > #title { width: auto; padding: 0 1; text-style: bold; }
    TitleBar > #nav { width: 1fr; text-align: right; padding: 0 1 0 0; }
    TitleBar > #demo-badge { width: auto; padding: 0 1; background: $warning; color: $text; text-style: bold; }
    """

    def __init__(self, title: str, current: str = "") -> None:
        super().__init__(classes="title-bar")
        self.title_text = title
        self.current = current

    def compose(self) -> ComposeResult:
        yield Static(self.title_text, id="title", classes="screen-title")
        crm = getattr(self.app, "crm", None)
        if crm is not None and crm.is_demo:
            # on every screen: the user always sees this is not their own book
            yield Static(t("demo.badge"), id="demo-badge")
        yield Static(self.nav_markup(), id="nav")

    def nav_markup(self) -> str:
        app = self.app
        bindings = {b.id: b for _, b in app._bindings if b.id}
        keymap = getattr(app, "_keymap", {})
        parts = []
        for binding_id, action in NAV:
            binding = bindings.get(binding_id)
            if binding is None:
                continue
            key = keymap.get(binding_id, binding.key).split(",")[0]
            shown = app.get_key_display(binding.with_key(key))
            label = f"[b]{escape(shown)}[/b] {escape(binding.description)}"
            if action == f"switch_mode('{self.current}')":
                label = f"[reverse]{label}[/reverse]"
            parts.append(f"[@click=app.{action}]{label}[/]")
        return "  ".join(parts)
