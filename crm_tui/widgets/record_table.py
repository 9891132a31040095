"""A table of records drawn line by line (Textual's line API) from pages fetched on
demand, so a list of 100k customers costs one page of rows, not 100k widgets.

The owner gives it a `fetch(offset, limit)` that runs in a thread worker (it calls the
API); pages arrive through `call_from_thread` and are cached. Every new query starts a
new generation, and pages of an older generation are dropped when they arrive late."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

Row = dict[str, Any]
Fetch = Callable[[int, int], list[Row]]
REST_MIN = 8  # the least a column that takes what is left is worth showing


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int = 12  # in terminal cells; 0 takes what is left
    render: Callable[[Row], str] | None = None
    justify: str = "left"
    # On a narrow terminal (80x24) a column first shrinks to `min_width` (0: it does
    # not shrink), then the columns with the highest `drop` leave, so that those
    # with drop 0 (never dropped) stay in view without scrolling sideways.
    min_width: int = 0
    drop: int = 0
    short: str = ""  # the title when the column is narrower than `title` (rather than cut)

    def text(self, row: Row) -> str:
        if self.render is not None:
            return self.render(row)
        value = row.get(self.key)
        return "" if value is None else str(value)


def fit(text: str, width: int, justify: str = "left") -> str:
    """`text` cut or padded to exactly `width` cells; wide (CJK) characters count two,
    so Chinese names line up with Latin ones."""
    text = text.replace("\n", " ")
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    if justify == "right":
        return " " * (width - cell_len(text)) + text
    return set_cell_size(text, width)


class RecordTable(ScrollView, can_focus=True):
    """Rows of records with a sticky header, a cursor, lazy pages and mouse support."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header", "record-table--cursor", "record-table--placeholder",
        "record-table--overdue", "record-table--soon", "record-table--done", "record-table--odd",
    }
    DEFAULT_CSS = """
    RecordTable { overflow-x: hidden; height: 1fr; background: $surface; }
    RecordTable > .record-table--header { background: $panel; color: $text; text-style: bold; }
    RecordTable > .record-table--cursor { background: $block-cursor-blurred-background; }
    RecordTable:focus > .record-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; text-style: bold; }
    RecordTable > .record-table--placeholder { color: $text-muted; }
    RecordTable > .record-table--overdue { color: $error; text-style: bold; }
    RecordTable > .record-table--soon { color: $warning; }
    RecordTable > .record-table--done { color: $text-muted; }
    RecordTable > .record-table--odd { background: $surface-lighten-1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", show=False),
        Binding("down,j", "cursor(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "jump(0)", show=False),
        Binding("end", "jump(-1)", show=False),
        Binding("enter", "select", show=False),
    ]

    cursor: reactive[int] = reactive(0, always_update=True)

    class Selected(Message):
        """Enter or a double click on a row."""

        def __init__(self, table: RecordTable, record: Row) -> None:
            super().__init__()
            self.table = table
            self.record = record

        @property
        def control(self) -> RecordTable:
            return self.table

    class Highlighted(Message):
        """The cursor moved to another row (or the rows changed under it)."""

        def __init__(self, table: RecordTable, record: Row | None) -> None:
            super().__init__()
            self.table = table
            self.record = record

        @property
        def control(self) -> RecordTable:
            return self.table

    class HeaderClicked(Message):
        def __init__(self, table: RecordTable, column: Column) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> RecordTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, page_size: int = 100,
                 row_class: Callable[[Row], str | None] | None = None, max_pages: int = 30,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.page_size = page_size
        self.row_class = row_class
        self.max_pages = max_pages
        self.total = 0
        self.sort_key: str | None = None
        self.sort_desc = False
        self.loaded_generation = -1  # the generation whose first page is shown
        self._generation = 0
        self._fetch: Fetch | None = None
        self._pages: dict[int, list[Row]] = {}
        self._pending: set[int] = set()
        self.rendered_at = 0.0  # perf_counter() of the last header draw (benchmarks read it)

    # -- feeding the table --------------------------------------------------------------

    def begin(self) -> int:
        """Start a new query; results of older generations are ignored from now on.
        The rows on screen stay until the new first page arrives (no flicker)."""
        self._generation += 1
        return self._generation

    @property
    def generation(self) -> int:
        return self._generation

    def show(self, generation: int, rows: list[Row], *, total: int | None = None,
             fetch: Fetch | None = None) -> None:
        """The first page of a query (or all its rows when `fetch` is None)."""
        if generation != self._generation:
            return
        self._fetch = fetch
        self._pending.clear()
        if fetch is None:
            self._pages = {i // self.page_size: rows[i:i + self.page_size] for i in range(0, len(rows), self.page_size)}
            self.total = len(rows)
        else:
            self._pages = {0: rows}
            self.total = total if total is not None else len(rows)
        self.loaded_generation = generation
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        self._resize()

    def show_rows(self, rows: list[Row]) -> None:
        self.show(self.begin(), rows)

    def set_total(self, generation: int, total: int) -> None:
        if generation == self._generation and total != self.total:
            self.total = total
            self._resize()

    def record_at(self, index: int) -> Row | None:
        page = self._pages.get(index // self.page_size)
        if page is None:
            return None
        offset = index % self.page_size
        return page[offset] if offset < len(page) else None

    @property
    def cursor_record(self) -> Row | None:
        if not 0 <= self.cursor < self.total:
            return None
        return self.record_at(self.cursor)

    def rows_loaded(self) -> list[Row]:
        return [row for _, page in sorted(self._pages.items()) for row in page]

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, self.total + 1)
        self.refresh()

    # -- pages ------------------------------------------------------------------------

    def _request_page(self, page: int) -> None:
        if self._fetch is None or page in self._pending:
            return
        self._pending.add(page)
        fetch, generation = self._fetch, self._generation

        def load() -> None:
            worker = get_current_worker()
            try:
                rows = fetch(page * self.page_size, self.page_size)
            except Exception as exc:  # shown as a notification, never a traceback
                if not worker.is_cancelled:
                    self.app.call_from_thread(self.notify, str(exc), severity="error")
                return
            if not worker.is_cancelled:
                self.app.call_from_thread(self._page_arrived, generation, page, rows)

        self.run_worker(load, thread=True, group=f"page-{page}", exit_on_error=False)

    def _page_arrived(self, generation: int, page: int, rows: list[Row]) -> None:
        if generation != self._generation:
            return
        self._pending.discard(page)
        self._pages[page] = rows
        while len(self._pages) > self.max_pages:
            oldest = next(p for p in self._pages if p != page)
            del self._pages[oldest]
        self.refresh()

    # -- drawing ----------------------------------------------------------------------

    def column_layout(self, width: int | None = None) -> list[tuple[Column, int]]:
        """The columns that fit `width` cells (the table's), each with its width."""
        width = self.scrollable_content_region.width if width is None else width
        shown = list(self.columns)

        def smallest(c: Column) -> int:
            return c.min_width or c.width or REST_MIN

        # leave: the most droppable first, while even the smallest widths overflow
        while sum(smallest(c) for c in shown) + len(shown) + 1 > width:
            droppable = [c for c in shown if c.drop]
            if not droppable:
                break
            shown.remove(max(droppable, key=lambda c: c.drop))
        widths = {c.key: c.width or REST_MIN for c in shown}
        excess = sum(widths.values()) + len(shown) + 1 - width
        # shrink: the most droppable first, each down to its minimum
        for c in sorted(shown, key=lambda c: -c.drop):
            if excess <= 0:
                break
            if c.min_width and widths[c.key] > c.min_width:
                cut = min(excess, widths[c.key] - c.min_width)
                widths[c.key] -= cut
                excess -= cut
        rest = width - 1 - len(shown) - sum(widths[c.key] for c in shown if c.width)
        return [(c, widths[c.key] if c.width else max(REST_MIN, rest)) for c in shown]

    def _line(self, cells: list[str], style: Style, width: int) -> Strip:
        text = " " + " ".join(cells)
        return Strip([Segment(set_cell_size(text, width), style)], width)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        layout = self.column_layout()  # the width left of the scrollbar
        if y == 0:
            self.rendered_at = time.perf_counter()
            style = base + self.get_component_rich_style("record-table--header")
            titles = []
            for col, w in layout:
                mark = ("▼" if self.sort_desc else "▲") if col.key == self.sort_key else ""
                title = col.short if col.short and cell_len(col.title + mark) > w else col.title
                titles.append(fit(title + mark, w, col.justify))
            return self._line(titles, style, width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.record_at(index)
        if row is None:
            self._request_page(index // self.page_size)
            style = base + self.get_component_rich_style("record-table--placeholder")
            return self._line(["…"], style, width)
        style = base
        if index % 2:
            style += self.get_component_rich_style("record-table--odd")
        extra = self.row_class(row) if self.row_class else None
        if extra:
            style += self.get_component_rich_style(f"record-table--{extra}")
        if index == self.cursor:
            style += self.get_component_rich_style("record-table--cursor")
        cells = [fit(col.text(row), w, col.justify) for col, w in layout]
        return self._line(cells, style, width)

    def on_resize(self, event: events.Resize) -> None:
        self._resize()

    # -- moving -----------------------------------------------------------------------

    @property
    def rows_visible(self) -> int:
        return max(1, self.size.height - 1)

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new >= top + self.rows_visible:
            self.scroll_to(y=new - self.rows_visible + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Highlighted(self, self.cursor_record))

    def _move_to(self, index: int) -> None:
        if self.total:
            self.cursor = max(0, min(self.total - 1, index))

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, step: int) -> None:
        self._move_to(self.cursor + step * self.rows_visible)

    def action_jump(self, where: int) -> None:
        self._move_to(0 if where == 0 else self.total - 1)

    def action_select(self) -> None:
        record = self.cursor_record
        if record is not None:
            self.post_message(self.Selected(self, record))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = 1
            for col, w in self.column_layout():
                if x <= event.x < x + w + 1:
                    self.post_message(self.HeaderClicked(self, col))
                    break
                x += w + 1
            return
        index = int(self.scroll_offset.y) + event.y - 1
        if 0 <= index < self.total:
            self.cursor = index
            if event.chain >= 2:
                self.action_select()
