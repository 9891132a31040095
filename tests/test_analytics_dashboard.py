"""The dashboard screen mounts in a tiny app, loads its data in a worker and shows
its charts (Pilot, no mocks: the hand-worked book in a real database)."""

from __future__ import annotations

import pytest
from analytics_fixture import analytics, build
from textual.app import App
from textual.widgets import Static
from textual_plotext import PlotextPlot

from crm_tui.api import Crm
from crm_tui.screens.dashboard import DashboardScreen

# anyio's pytest plugin runs the async tests (anyio comes with httpx).
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class DashboardApp(App):
    def __init__(self, screen: DashboardScreen) -> None:
        super().__init__()
        self.dashboard = screen

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)


async def test_dashboard_mounts_and_shows_its_charts(crm: Crm) -> None:
    build(crm)
    screen = DashboardScreen(analytics(crm))
    app = DashboardApp(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.data is not None
        plots = {p.id: p for p in screen.query(PlotextPlot)}
        assert set(plots) == {"chart-sales", "chart-segments", "chart-complaints"}
        assert not any(p.loading for p in plots.values())
        rendered = {k: str(p.render()) for k, p in plots.items()}
        assert "Sales by month" in rendered["chart-sales"]
        assert "RFM segment" in rendered["chart-segments"] and "Champ" in rendered["chart-segments"]
        assert "Delivery" in rendered["chart-complaints"]  # choice.type.delivery
        agenda = str(screen.query_one("#dashboard-agenda", Static).render())
        assert "Follow-ups overdue: 1" in agenda  # F's follow-up of 2026-07-10
        assert "Dashboard for 2026-09-30" in str(screen.query_one("#dashboard-status", Static).render())
        # the data behind the charts: September's sales, two Champions
        assert screen.data["monthly_sales"][-1] == ("2026-09", 3600.0)
        assert screen.data["segments"]["Champions"] == 2
        # refresh reloads in the worker again
        crm.orders.create({"customer_id": crm.customers.list()[0]["id"],
                           "ordered_at": "2026-09-29", "product": "x", "amount": 400})
        await pilot.press("r")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.data["monthly_sales"][-1] == ("2026-09", 4000.0)
