"""The key of an encrypted database, asked for when the UI starts: a small app of its
own, run before the main one, so that nothing of the main UI opens the database
before it can be read. A wrong key is said on the screen; the rep tries again."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from crm_tui.api import DatabaseError
from crm_tui.api.encryption import check_key
from crm_tui.i18n import t


class UnlockApp(App[str]):
    """Returns (from `run`) the key that opens `path`, or None when the rep quits."""

    CSS = """
    Screen { align: center middle; }
    #unlock { width: 70; max-width: 100%; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    #unlock Horizontal { height: auto; padding: 1 0 0 0; }
    #unlock Button { margin: 0 2 0 0; }
    #error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,ctrl+q", "quit_unlock", "key.quit", priority=True),
    ]

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.title = t("encryption.unlock_title")

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock"):
            yield Label(t("encryption.unlock_text", path=self.path), markup=False)
            yield Input(password=True, placeholder=t("encryption.unlock_placeholder"), id="key")
            yield Static("", id="error", markup=False)
            with Horizontal():
                yield Button(t("encryption.unlock_button"), variant="primary", id="open")
                yield Button(t("encryption.quit_button"), id="quit")

    def on_mount(self) -> None:
        self.query_one("#key", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._try(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "quit":
            self.exit(None)
        else:
            self._try(self.query_one("#key", Input).value)

    def _try(self, key: str) -> None:
        try:
            check_key(self.path, key)
        except DatabaseError as exc:
            self.query_one("#error", Static).update(str(exc))
            field = self.query_one("#key", Input)
            field.value = ""
            field.focus()
            return
        self.exit(key)

    def action_quit_unlock(self) -> None:
        self.exit(None)
