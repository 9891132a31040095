"""The user's data shown as typed. Textual reads a str given to a notification, a
Static, a Label or a DataTable cell as markup: a customer named "[b]ACME[/b]" came out
bold, "Foo [/]" stopped the app, "[@click=app.quit]" became a link that runs an action.
Every notification, and every widget text that holds a record's name, a value, a path
or a server's answer, goes through here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode
    from textual.notifications import SeverityLevel


def literal(value: object) -> Text:
    """`value` as text, every "[" shown as it is (a cell, a Static, a Label)."""
    return Text("" if value is None else str(value))


def tell(node: DOMNode | App, message: str, *, title: str = "", severity: SeverityLevel = "information",
         timeout: float | None = None) -> None:
    """A notification whose message is never read as markup: it names records, values,
    paths and server answers. Thread-safe, as `App.notify` is."""
    node.app.notify(message, title=title, severity=severity, timeout=timeout, markup=False)
