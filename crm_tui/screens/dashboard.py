"""The dashboard: sales trend, RFM segment sizes, complaint Pareto and today's agenda
counts. Data comes from `Analytics.dashboard_data` in a thread worker, never on the
event loop; the charts are textual-plotext widgets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot

from crm_tui.domain.analytics.complaints import UNKNOWN
from crm_tui.i18n import has, t
from crm_tui.screens.base import localize_bindings

if TYPE_CHECKING:
    from crm_tui.api.analytics import Analytics


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


class DashboardScreen(Screen):
    """Charts of the rep's book. Give it the `Analytics` to read from, or leave it to
    `app.crm.analytics`."""

    DEFAULT_CSS = """
    DashboardScreen #dashboard-grid { grid-size: 2 2; grid-gutter: 1 2; padding: 0 1; }
    DashboardScreen PlotextPlot { height: 1fr; }
    DashboardScreen #dashboard-agenda { height: 1fr; border: round $primary; padding: 0 1; }
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
        yield Static(t("dashboard.loading"), id="dashboard-status")
        with Grid(id="dashboard-grid"):
            yield PlotextPlot(id="chart-sales")
            yield PlotextPlot(id="chart-segments")
            yield PlotextPlot(id="chart-complaints")
            yield Static("", id="dashboard-agenda")
        yield Footer()

    def on_mount(self) -> None:
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
        self.query_one("#dashboard-status", Static).update(t("dashboard.failed", error=exc))

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        sales = self.query_one("#chart-sales", PlotextPlot)
        plt = sales.plt
        plt.clear_figure()
        months = [m[5:] + "/" + m[2:4] for m, _ in data["monthly_sales"]]  # 09/26
        plt.bar(months, [v for _, v in data["monthly_sales"]])
        plt.title(t("dashboard.sales_title"))

        segments = self.query_one("#chart-segments", PlotextPlot)
        plt = segments.plt
        plt.clear_figure()
        # Empty segments are left out: fewer, thicker bars stay legible in a small pane.
        sizes = [(segment_label(k), v) for k, v in data["segments"].items() if v] or [(t("dashboard.none"), 0)]
        sizes.reverse()  # plotext draws the first bar at the bottom; Champions on top
        plt.bar([k for k, _ in sizes], [v for _, v in sizes], orientation="horizontal", width=0.5)
        plt.title(t("dashboard.segments_title"))

        complaints = self.query_one("#chart-complaints", PlotextPlot)
        plt = complaints.plt
        plt.clear_figure()
        types = [(complaint_type_label(k), v) for k, v in data["complaint_types"]] or [(t("dashboard.none"), 0)]
        plt.bar([k for k, _ in types], [v for _, v in types])
        plt.title(t("dashboard.complaints_title"))

        agenda = data["agenda"]
        lines = [f"[b]{t('dashboard.agenda_title')}[/b]", ""]
        lines += [f"{t(f'dashboard.agenda.{k}') if has(f'dashboard.agenda.{k}') else k}: [b]{v}[/b]"
                  for k, v in agenda.items()]
        self.query_one("#dashboard-agenda", Static).update("\n".join(lines))
        for plot in (sales, segments, complaints):
            plot.loading = False
            plot.refresh()
        self.query_one("#dashboard-status", Static).update(t("dashboard.status", date=data["today"]))
