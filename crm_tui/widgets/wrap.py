"""Text broken into lines as Chinese is written: between any two Chinese characters as
well as at spaces, never a closing mark (，。）) at the start of a line nor an opening
one (（「) at its end. Textual (8.2) and Rich break only at spaces and fold a longer
word, so "地址： 北京市…" left 地址： alone on a line and a line could start with "，".
`Wrapped` draws a text (its styles kept) so: in the detail views and on the cards,
wherever a note, an address or a title may run long."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len, get_character_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.text import Text

# Marks that close a phrase never start a line; those that open one never end it
# (避头尾, the Chinese rule of line breaking).
CLOSING = frozenset("，。、；：？！）］｝】」』》〉〕”’…‥～％‰,.;:?!)]}%")
OPENING = frozenset("（［｛【「『《〈〔“‘([{")


# (start, end) spans of a text that are one word though Chinese: a label the catalog
# wrote as one (已逾期), which a line may not break inside as it may a title or a note.
Spans = Sequence[tuple[int, int]]


def _units(text: str, whole: Spans = ()) -> list[tuple[int, int]]:
    """Spans never broken inside: a run of spaces; one wide (Chinese, Japanese,
    Korean, full-width) character; a run of narrow ones (a word, a number, "ERP");
    with a closing mark glued to what it follows and an opening one to what follows it;
    each span of `whole`, a word written as one."""
    inside = {i for s, e in whole for i in range(s + 1, e)}
    spans: list[tuple[int, int]] = []
    for i, char in enumerate(text):
        if spans and i in inside:
            spans[-1] = (spans[-1][0], i + 1)
            continue
        if spans and text[i - 1].isspace() == char.isspace():
            previous = text[i - 1]
            if char.isspace() or char in CLOSING or previous in OPENING or (
                    get_character_cell_size(char) == 1 and get_character_cell_size(previous) == 1):
                spans[-1] = (spans[-1][0], i + 1)
                continue
        spans.append((i, i + 1))
    return spans


def line_spans(text: str, width: int, whole: Spans = ()) -> list[tuple[int, int]]:
    """(start, end) of each line of `text` at `width` cells; the spaces a line is
    broken at are left out, no line breaks inside a span of `whole` (a word the
    catalog wrote as one) unless it is wider than the line, and a unit wider than the
    line is cut by characters."""
    width = max(1, width)
    lines: list[tuple[int, int]] = []
    offset = 0
    for paragraph in text.split("\n"):
        start: int | None = None
        end = used = 0
        space = 0  # cells of the spaces since the line's last unit
        words = [(s - offset, e - offset) for s, e in whole if offset <= s and e <= offset + len(paragraph)]
        for s, e in _units(paragraph, words):
            piece = paragraph[s:e]
            cells = cell_len(piece)
            if piece.isspace():
                space = cells if start is not None else 0
                continue
            if start is not None and used + space + cells <= width:
                end, used, space = e, used + space + cells, 0
                continue
            if start is not None:
                lines.append((offset + start, offset + end))
            start, end, used, space = s, s, 0, 0
            for i in range(s, e):  # a unit wider than the line: cut where it must be
                char_cells = get_character_cell_size(paragraph[i])
                if used + char_cells > width and end > start:
                    lines.append((offset + start, offset + end))
                    start, used = i, 0
                end, used = i + 1, used + char_cells
        lines.append((offset + (start or 0), offset + (end if start is not None else 0)))
        offset += len(paragraph) + 1
    return lines


class Wrapped:
    """A Rich renderable: `content` (a str, or a Text with its styles) broken into
    lines by `line_spans` at the width it is given (a Static, a table cell, a card),
    never inside a span of `whole` (the catalog's words in it) while it fits a line."""

    def __init__(self, content: str | Text, style: str = "", whole: Spans = ()) -> None:
        self.text = content if isinstance(content, Text) else Text(content, style=style)
        self.whole = whole

    def __str__(self) -> str:
        return self.text.plain  # what a table's cell holds, read as Text's is

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for start, end in line_spans(self.text.plain, options.max_width, self.whole):
            yield from self.text[start:end].render(console)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        plain = self.text.plain
        widest_unit = max((cell_len(plain[s:e]) for s, e in _units(plain, self.whole)), default=0)
        widest_line = max((cell_len(line) for line in plain.split("\n")), default=0)
        return Measurement(min(widest_unit, widest_line), widest_line).clamp(max_width=options.max_width)


def _plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _widest(cell: object) -> int:
    """Cells of the longest line of `cell`."""
    return max((cell_len(line) for line in _plain(cell).split("\n")), default=0)


def _least(cell: object, cap: int) -> int:
    """Cells of its widest unbreakable piece (a word, a date), at most `cap`: a longer
    one (a URL) is cut across lines rather than widen its column past the screen."""
    plain = _plain(cell)
    return min(cap, max((cell_len(plain[s:e]) for s, e in _units(plain) if not plain[s:e].isspace()), default=0))


def column_widths(headers: Sequence[str], rows: Sequence[Sequence[object]], room: int, *,
                  padding: int = 2, cap: int = 10) -> list[int]:
    """Widths of a table's columns in `room` cells: each as wide as its widest cell or
    title when they all fit; else the widest columns give way first (a note before a
    date), none below its widest word (at most `cap`), so each may wrap (`Wrapped`)."""
    widths = [max([_widest(h), *(_widest(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    least = [max([_least(h, cap), *(_least(r[i], cap) for r in rows)]) for i, h in enumerate(headers)]
    excess = sum(widths) + padding * len(widths) - room
    while excess > 0:
        give = [i for i, w in enumerate(widths) if w > least[i]]
        if not give:
            break  # nothing narrower reads: the table scrolls sideways
        widest = max(widths[i] for i in give)
        for i in give:
            if widths[i] == widest and excess > 0:
                widths[i] -= 1
                excess -= 1
    return widths
