"""The footer of every screen: Textual's, but on a narrow terminal (80x24, a split
tmux pane) it shows the keys that fit whole instead of cutting the last one in half,
and the greyed keys leave before those that apply. The help key always stays: it
lists every key of the screen."""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

KEEP = ("help",)  # actions never left out: F1 names the ones that were


class CrmFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True)
        self._room = 0

    def compose(self) -> ComposeResult:
        items = list(super().compose())
        palette = [w for w in items if w.has_class("-command-palette")]
        keys = [w for w in items if isinstance(w, FooterKey) and w not in palette]
        # The width this composition fits: a screen coming back from under two modals
        # (a form and its "discard?") recomposed its footer at width 0 before its
        # layout, which left only the help key; on_resize composes again at the real width.
        self._room = self.size.width
        room = self.size.width - sum(_width(w) + 2 for w in palette)
        shown = list(keys)
        # greyed keys (those that do not apply to what is selected) leave first; then
        # the screen's keys come first, the app's (quit, help) last: leave from the end
        # of the screen's keys, then the app's, never the help
        while shown and sum(_width(w) for w in shown) > room:
            droppable = [w for w in shown if w.action not in KEEP]
            if not droppable:
                break
            greyed = [w for w in droppable if w.has_class("-disabled")]
            if greyed:
                shown.remove(greyed[-1])
                continue
            shown.remove(droppable[-1] if len(droppable) < 2 or droppable[-1].action != "quit"
                         else droppable[-2])
        for item in items:
            if not isinstance(item, FooterKey) or item in palette or item in shown:
                yield item

    def on_resize(self) -> None:
        if self.size.width != self._room:
            self._room = self.size.width
            self.call_after_refresh(self.recompose)


def _width(key: Widget) -> int:
    """Cells a compact footer key takes: key, a space and its description, a margin."""
    assert isinstance(key, FooterKey)
    return cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0) + 1
