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

if TYPE_CHECKING:
    from crm_tui.api.analytics import Analytics

AGENDA_LABELS = {
    "follow_ups_overdue": "Follow-ups overdue",
    "follow_ups_today": "Follow-ups due today",
    "complaints_due": "Complaints due today or late",
    "complaints_open": "Complaints open",
    "contacts_overdue": "Customers past max. contact gap",
    "contacts_due": "Customers due a contact",
    "greetings": "Greetings to send this week",
}

# Short names so eleven segments fit under a terminal bar chart.
SEGMENT_SHORT = {
    "Champions": "Champ", "Loyal": "Loyal", "Can't Lose Them": "CantLose", "At Risk": "AtRisk", "New": "New",
    "Promising": "Promis", "Potential Loyalist": "PotLoyal", "Need Attention": "NeedAtt",
    "About to Sleep": "Sleepy", "Hibernating": "Hibern", "Lost": "Lost",
}


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
        Binding("r", "refresh", "Refresh", id="dashboard.refresh", tooltip="Reload the charts"),
    ]

    def __init__(self, analytics: Analytics | None = None, *, rep: str | None = None, name: str | None = None,
                 id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(name=name, id=id)
        self._analytics = analytics
        self.rep = rep
        self.data: dict[str, Any] | None = None  # the last data shown, for tests and reuse

    @property
    def analytics(self) -> Analytics:
        return self._analytics if self._analytics is not None else self.app.crm.analytics  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield Static("Dashboard: loading ...", id="dashboard-status")
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
        self.query_one("#dashboard-status", Static).update(f"Dashboard: could not load ({exc})")

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        sales = self.query_one("#chart-sales", PlotextPlot)
        plt = sales.plt
        plt.clear_figure()
        months = [m[5:] + "/" + m[2:4] for m, _ in data["monthly_sales"]]  # 09/26
        plt.bar(months, [v for _, v in data["monthly_sales"]])
        plt.title("Sales by month")

        segments = self.query_one("#chart-segments", PlotextPlot)
        plt = segments.plt
        plt.clear_figure()
        # Empty segments are left out: fewer, thicker bars stay legible in a small pane.
        sizes = [(SEGMENT_SHORT.get(k, k), v) for k, v in data["segments"].items() if v] or [("none", 0)]
        sizes.reverse()  # plotext draws the first bar at the bottom; Champions on top
        plt.bar([k for k, _ in sizes], [v for _, v in sizes], orientation="horizontal", width=0.5)
        plt.title("Customers per RFM segment")

        complaints = self.query_one("#chart-complaints", PlotextPlot)
        plt = complaints.plt
        plt.clear_figure()
        types = data["complaint_types"] or [("none", 0)]
        plt.bar([k.replace("_", " ") for k, _ in types], [v for _, v in types])
        plt.title("Complaints by type, last 90 days (Pareto)")

        agenda = data["agenda"]
        lines = ["[b]Today's agenda[/b]", ""]
        lines += [f"{AGENDA_LABELS.get(k, k)}: [b]{v}[/b]" for k, v in agenda.items()]
        self.query_one("#dashboard-agenda", Static).update("\n".join(lines))
        for plot in (sales, segments, complaints):
            plot.loading = False
            plot.refresh()
        self.query_one("#dashboard-status", Static).update(f"Dashboard for {data['today']}")
