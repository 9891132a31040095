"""The dashboard: sales trend, RFM segment sizes, complaint Pareto and today's agenda
counts. Data comes from `Analytics.dashboard_data` in a thread worker, never on the
event loop; the charts are textual-plotext widgets."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from crm_tui.domain.analytics.complaints import UNKNOWN
from crm_tui.i18n import count, has, money, t
from crm_tui.screens.base import localize_bindings
from crm_tui.screens.pipeline import stage_label
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.literal import literal
from crm_tui.widgets.title_bar import TitleBar

if TYPE_CHECKING:
    from crm_tui.api.analytics import Analytics

# plotext lays text out one cell per character, but a Chinese character takes two
# cells: titles and bar labels then push the axes and borders out of line. So each
# wide character goes into plotext as two placeholder characters from the Unicode
# private use area (a code that names the character, then a filler), and WidePlot puts
# the character back into the finished drawing, where it fills both cells.
_FILLER = "\uf8ff"
_FIRST_CODE = 0xE000
_codes: dict[str, str] = {}
_chars: dict[str, str] = {}


def plot_text(text: str) -> str:
    """`text` as plotext should measure it: every wide character counts twice."""
    out = []
    for char in text:
        if cell_len(char) != 2:
            out.append(char)
            continue
        code = _codes.get(char)
        if code is None:  # a few dozen distinct characters at most: the catalog's labels
            code = _codes[char] = chr(_FIRST_CODE + len(_codes))
            _chars[code] = char
        out.append(code + _FILLER)
    return "".join(out)


class WidePlot(PlotextPlot):
    """A plotext chart whose titles and labels may hold Chinese (see plot_text), and
    whose bars are named by `name_bars`."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self._bar_names: list[str] = []
        self._horizontal = False
        self._value_width = 0

    def name_bars(self, names: list[str], *, horizontal: bool = False, value_labels: list[str] | None = None) -> None:
        """Name the bars just drawn (in plotext's order, the first at position 1).
        plotext drops overlapping tick labels in an order that changes with Python's
        hash seed, so on a small chart the months or segments it showed changed from
        run to run; the names are placed here, only as many as fit, at render time
        when the chart's size is known."""
        self._bar_names = names
        self._horizontal = horizontal
        self._value_width = max((len(label) for label in value_labels or []), default=0)

    def render(self) -> RenderResult:
        if self._bar_names:
            shown = named_bars(self._bar_names, self.bar_room(), horizontal=self._horizontal)
            ticks: list[float] = [i + 1 for i in shown]
            labels = [self._bar_names[i] for i in shown]
            if self._horizontal:
                self.plt.yticks(ticks, labels)
            else:
                self.plt.xticks(ticks, labels)
        drawing = super().render()
        if not isinstance(drawing, Text) or not any(code in drawing.plain for code in _chars):
            return drawing
        return _restore_wide(drawing)

    def bar_room(self) -> int:
        """The cells (rows of a sideways chart) its bars share: the widget less the
        title, the axes and their labels."""
        if self._horizontal:
            return self.size.height - 4  # title, two axes, the value labels
        return self.size.width - self._value_width - 3  # the value labels, a space, two axes


def named_bars(names: list[str], room: int, *, horizontal: bool = False) -> list[int]:
    """Which of `names` to show along an axis of `room` cells (rows, sideways) shared
    equally by their bars: all when they fit, else every k-th one counted back from
    the last (the current month, the top segment), so no two touch. A label is
    centred under its bar: one too wide for the room right of the last bar starts
    the count one bar earlier, rather than being dropped by plotext."""
    count = len(names)
    if count == 0 or room <= 0:
        return []
    widest = max(len(name) for name in names)  # plot_text: one char, one cell
    need = 1 if horizontal else widest + 2  # two spaces between names: plotext rounds their places
    every = max(1, math.ceil(need * count / room))
    last = count - 1
    if not horizontal:
        bar = room / count
        while last > 0 and (count - last - 0.5) * bar < (widest + 1) / 2:
            last -= 1
    return sorted(range(last, -1, -every))


def _restore_wide(drawing: Text) -> Text:
    plain = drawing.plain
    cuts: set[int] = set()
    for i, char in enumerate(plain):
        if char in _chars or char == _FILLER:
            cuts |= {i, i + 1}
    pieces = [piece for piece in drawing.divide(sorted(cuts)) if piece.plain]
    out = Text(end=drawing.end, no_wrap=True, overflow="crop")
    for i, piece in enumerate(pieces):
        char = piece.plain
        if char in _chars:
            paired = i + 1 < len(pieces) and pieces[i + 1].plain == _FILLER
            # a pair that plotext cut in two (a label cropped at the edge) keeps its one cell
            piece = _restyled(piece, _chars[char] if paired else "…")
        elif char == _FILLER:
            if i > 0 and pieces[i - 1].plain in _chars:
                continue  # its cell is taken by the wide character before it
            piece = _restyled(piece, "…")
        out.append_text(piece)
    return out


def _restyled(piece: Text, char: str) -> Text:
    new = Text(char, style=piece.style)
    for span in piece.spans:
        new.stylize(span.style, 0, len(char))
    return new


def axis_ticks(top: float, *, count: int = 3, whole: bool = False) -> tuple[list[float], list[str]]:
    """A chart axis up to `top`: a few round values (1, 2, 2.5 or 5 times a power of
    ten; whole numbers for counts) labelled with thousands separators, 1,000,000 not
    1000000.0, so an axis reads at a glance on a small terminal."""
    if top <= 0:
        return [0], ["0"]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1, math.ceil(step))
    ticks = [i * step for i in range(int(top // step) + 1)]
    return ticks, [money(v, 0 if v == int(v) else 1) for v in ticks]


def segment_label(segment: str) -> str:
    """The short chart label of an RFM segment ("Can't Lose Them" -> dashboard.segment.cant_lose_them):
    short, so eleven segments fit beside a terminal bar chart."""
    key = "dashboard.segment." + segment.lower().replace("'", "").replace(" ", "_")
    return t(key) if has(key) else segment


def complaint_type_label(code: str) -> str:
    """A complaint type code as the catalog names it (choice.type.*); rows without a
    type come from the analytics as "(unknown)"."""
    if code == UNKNOWN:
        return t("dashboard.unknown_type")
    key = f"choice.type.{code}"
    return t(key) if has(key) else code.replace("_", " ")


CHART_ROWS = 14  # the least a chart gets, whatever the terminal: enough to read a trend


def chart_rows(bars: int) -> int:
    """The rows a chart needs so that each of `bars` sideways bars has its name beside
    it (one row a bar, plus the title, two axes and the value labels). The dashboard's
    three rows of charts take at least this, and the page scrolls on a small terminal
    rather than squeeze bars and their names out of the charts."""
    return max(CHART_ROWS, bars + 4)


def sideways_bars(plot: WidePlot, bars: list[tuple[str, float]], title: str) -> None:
    """A chart of counts, one named bar a row: whole numbers on the axis, every name
    that has a row beside its bar."""
    plt = plot.plt
    plt.clear_figure()
    names = [plot_text(name) for name, _ in bars]
    plt.bar(names, [v for _, v in bars], orientation="horizontal", width=0.5)
    plt.xticks(*axis_ticks(max((v for _, v in bars), default=0), whole=True))
    plot.name_bars(names, horizontal=True)
    plt.title(plot_text(title))


def forecast_text(data: dict[str, Any]) -> Text:
    """This quarter's forecast against its target, as lines of text."""
    fc = data["forecast"]
    text = Text(t("pipeline.forecast_title", quarter=data["quarter"]) + "\n\n", style="bold")
    text.append(t("pipeline.forecast_line", won=money(fc["won"], 0), weighted=money(fc["weighted_pipeline"], 0),
                  forecast=money(fc["forecast"], 0)) + "\n")
    if fc.get("target"):
        share = fc["attainment"] or 0.0
        text.append(t("pipeline.target_line", target=money(fc["target"], 0), sales=money(fc["sales"], 0),
                      attainment=f"{100 * share:.0f}%") + "\n")
        filled = max(0, min(20, round(20 * share)))
        text.append("█" * filled, style="green" if share >= 1 else "yellow")
        text.append("░" * (20 - filled), style="dim")
    else:
        text.append(t("pipeline.no_target", quarter=data["quarter"]), style="dim")
    return text


class DashboardScreen(Screen):
    """Charts of the rep's book. Give it the `Analytics` to read from, or leave it to
    `app.crm.analytics`."""

    DEFAULT_CSS = """
    DashboardScreen #dashboard-scroll { height: 1fr; }
    /* min-height: see chart_rows; on 80x24 the page scrolls (↓, PgDn) */
    DashboardScreen #dashboard-grid { grid-size: 2 3; grid-gutter: 0 2; padding: 0 1; height: 1fr; min-height: 42; }
    DashboardScreen PlotextPlot { height: 1fr; }
    DashboardScreen #dashboard-agenda, DashboardScreen #dashboard-forecast {
        height: 1fr; border: round $primary; padding: 0 1; }
    DashboardScreen #dashboard-status { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "key.refresh", id="dashboard.refresh", tooltip="dashboard.refresh_tooltip"),
    ]

    def __init__(self, analytics: Analytics | None = None, *, rep: str | None = None, name: str | None = None,
                 id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(name=name, id=id)
        localize_bindings(self)  # descriptions above are catalog keys
        self._analytics = analytics
        self.rep = rep
        self.data: dict[str, Any] | None = None  # the last data shown, for tests and reuse

    @property
    def analytics(self) -> Analytics:
        return self._analytics if self._analytics is not None else self.app.crm.analytics  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield TitleBar(t("key.dashboard"), "dashboard")  # the screens' keys, and DEMO on the demo
        yield Static(t("dashboard.loading"), id="dashboard-status")
        with VerticalScroll(id="dashboard-scroll"), Grid(id="dashboard-grid"):
            yield WidePlot(id="chart-sales")
            yield WidePlot(id="chart-segments")
            yield WidePlot(id="chart-complaints")
            yield Static("", id="dashboard-agenda")
            yield WidePlot(id="chart-funnel")
            yield Static("", id="dashboard-forecast")
        yield CrmFooter()

    def on_mount(self) -> None:
        self.action_refresh()

    def on_screen_resume(self) -> None:
        # shown again (F6 after work elsewhere): today's figures again, as every list
        # reloads when shown; the first showing is on_mount's load
        if self.data is not None:
            self.action_refresh()

    def action_refresh(self) -> None:
        for plot in self.query(PlotextPlot):
            plot.loading = True
        self.run_worker(self._load, thread=True, exclusive=True, group="dashboard", name="dashboard data")

    def _load(self) -> None:
        """In a thread: read the data, then hand it to the event loop."""
        try:
            data = self.analytics.dashboard_data(rep=self.rep)
        except Exception as exc:  # shown to the user, never a crash of the UI
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._failed, exc)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show, data)

    def _failed(self, exc: Exception) -> None:
        for plot in self.query(PlotextPlot):
            plot.loading = False
        self.query_one("#dashboard-status", Static).update(literal(t("dashboard.failed", error=exc)))

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        sales = self.query_one("#chart-sales", WidePlot)
        plt = sales.plt
        plt.clear_figure()
        months = [m[5:] + "/" + m[2:4] for m, _ in data["monthly_sales"]]  # 09/26
        plt.bar(months, [v for _, v in data["monthly_sales"]])
        amounts = axis_ticks(max((v for _, v in data["monthly_sales"]), default=0))
        plt.yticks(*amounts)
        sales.name_bars(months, value_labels=amounts[1])
        plt.title(plot_text(t("dashboard.sales_title")))

        segments = self.query_one("#chart-segments", WidePlot)
        # Empty segments are left out: fewer, thicker bars stay legible in a small pane.
        sizes = [(segment_label(k), v) for k, v in data["segments"].items() if v] or [(t("dashboard.none"), 0)]
        sizes.reverse()  # plotext draws the first bar at the bottom; Champions on top
        sideways_bars(segments, sizes, t("dashboard.segments_title"))  # customers: whole counts

        complaints = self.query_one("#chart-complaints", WidePlot)
        types = [(complaint_type_label(k), v) for k, v in data["complaint_types"]] or [(t("dashboard.none"), 0)]
        types.reverse()  # the Pareto's biggest on top; sideways, every type's name has room
        sideways_bars(complaints, types, t("dashboard.complaints_title"))

        funnel = self.query_one("#chart-funnel", WidePlot)
        settings = self.analytics.pipeline.settings
        steps = [(stage_label(settings, k), v) for k, v in data["funnel"]]
        steps.reverse()  # plotext draws the first bar at the bottom; the first stage on top
        sideways_bars(funnel, steps, t("pipeline.funnel_title", quarter=data["quarter"]))
        self.query_one("#dashboard-grid", Grid).styles.min_height = 3 * chart_rows(max(len(sizes), len(types),
                                                                                  len(steps)))
        self.query_one("#dashboard-forecast", Static).update(forecast_text(data))

        agenda = data["agenda"]
        lines = [f"[b]{t('dashboard.agenda_title')}[/b]", ""]
        lines += [t("dashboard.agenda_line", label=t(f"dashboard.agenda.{k}") if has(f"dashboard.agenda.{k}") else k,
                    count=count(v)) for k, v in agenda.items()]
        self.query_one("#dashboard-agenda", Static).update("\n".join(lines))
        for plot in (sales, segments, complaints, funnel):
            plot.loading = False
            plot.refresh()
        self.query_one("#dashboard-status", Static).update(t("dashboard.status", date=data["today"]))
