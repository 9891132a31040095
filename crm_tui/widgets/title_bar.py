"""The top line of each main screen: its title on the left, and the keys that switch
between screens on the right (clickable, and showing the keys of the user's keymap)."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.markup import escape
from textual.widgets import Static

from crm_tui.i18n import t
from crm_tui.widgets.literal import literal

# The app-wide keys shown in the bar: every key that opens a top-level screen (F10
# Products too), read from the app's own bindings so a screen added there is listed
# here; then these, and the help last.
NAV_ACTIONS = ("conflicts", "sync")
LAST = "help"


def nav_bindings(app: App) -> list[Binding]:
    """The app's bindings of the bar, in the order the app declares them (of a key
    declared twice, "f1,question_mark", the last, as the bar always showed)."""
    seen: dict[str, Binding] = {}
    for _, binding in app._bindings:
        if binding.id and (
                binding.action.startswith("open(") or binding.action in (*NAV_ACTIONS, LAST)):
            seen[binding.id] = binding
    return sorted(seen.values(), key=lambda b: b.action == LAST)


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
        yield Static(literal(self.title_text), id="title", classes="screen-title")
        crm = getattr(self.app, "crm", None)
        if crm is not None and crm.is_demo:
            # on every screen: the user always sees this is not their own book
            yield Static(t("demo.badge"), id="demo-badge")
        yield Static(self.nav_markup(), id="nav")

    def set_title(self, title: str) -> None:
        """A title known later (the customer's name): shown, and the keys fitted again beside it."""
        self.title_text = title
        self.on_resize()

    def on_resize(self) -> None:
        # A narrower terminal (80x24, a split tmux pane): the screens' names leave from
        # the right, their keys stay, the current screen keeps its name; nothing is cut
        # off, and F1 names every key. A title too long even for the bare keys (a
        # customer with a long company name) is shortened (…): the keys stay whole.
        badge = cell_len(t("demo.badge")) + 2 if self.query("#demo-badge") else 0
        keys = cell_len(Text.from_markup(self.nav_markup(named=0)).plain)
        title = self.title_text
        if self.size.width and cell_len(title) + 2 + badge + 1 + keys > self.size.width:
            title = set_cell_size(title, max(1, self.size.width - 2 - badge - 1 - keys - 1)) + "…"
        self.query_one("#title", Static).update(literal(title))
        room = self.size.width - (cell_len(title) + 2) - badge - 1
        for named in range(len(nav_bindings(self.app)), -1, -1):
            markup = self.nav_markup(named=named)
            if cell_len(Text.from_markup(markup).plain) <= room:
                break
        self.query_one("#nav", Static).update(markup)

    def nav_markup(self, named: int | None = None) -> str:
        """The keys of the screens; the first `named` of them (all by default) with their names too."""
        app = self.app
        keymap = getattr(app, "_keymap", {})
        shown = nav_bindings(app)
        named = len(shown) if named is None else named
        parts = []
        for index, binding in enumerate(shown):
            key = keymap.get(binding.id, binding.key).split(",")[0]
            display = app.get_key_display(binding.with_key(key))
            # conflicts is no mode: its screen names itself
            current = binding.action in (f"open('{self.current}')", self.current)
            label = f"[b]{escape(display)}[/b]"
            if index < named or current:
                label += f" {escape(binding.description)}"
            if current:
                label = f"[reverse]{label}[/reverse]"
            parts.append(f"[@click=app.{binding.action}]{label}[/]")
        return ("  " if named == len(shown) else " ").join(parts)
