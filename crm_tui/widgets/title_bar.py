"""The top line of each main screen: its title on the left, and the keys that switch
between screens on the right (clickable, and showing the keys of the user's keymap)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
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

    def set_title(self, title: str) -> None:
        """A title known later (the customer's name): shown, and the keys fitted again beside it."""
        self.title_text = title
        self.query_one("#title", Static).update(Text(title))
        self.on_resize()

    def on_resize(self) -> None:
        # A narrower terminal (80x24, a split tmux pane): the screens' names leave from
        # the right, their keys stay, the current screen keeps its name; nothing is cut
        # off, and F1 names every key.
        used = cell_len(self.title_text) + 2
        if self.query("#demo-badge"):
            used += cell_len(t("demo.badge")) + 2
        room = self.size.width - used - 1
        for named in range(len(NAV), -1, -1):
            markup = self.nav_markup(named=named)
            if cell_len(Text.from_markup(markup).plain) <= room:
                break
        self.query_one("#nav", Static).update(markup)

    def nav_markup(self, named: int = len(NAV)) -> str:
        """The keys of the screens; the first `named` of them with their names too."""
        app = self.app
        bindings = {b.id: b for _, b in app._bindings if b.id}
        keymap = getattr(app, "_keymap", {})
        parts = []
        for index, (binding_id, action) in enumerate(NAV):
            binding = bindings.get(binding_id)
            if binding is None:
                continue
            key = keymap.get(binding_id, binding.key).split(",")[0]
            shown = app.get_key_display(binding.with_key(key))
            current = action in (f"switch_mode('{self.current}')", self.current)  # conflicts is no mode
            label = f"[b]{escape(shown)}[/b]"
            if index < named or current:
                label += f" {escape(binding.description)}"
            if current:
                label = f"[reverse]{label}[/reverse]"
            parts.append(f"[@click=app.{action}]{label}[/]")
        return ("  " if named == len(NAV) else " ").join(parts)
