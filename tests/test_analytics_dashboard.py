"""The dashboard screen mounts in a tiny app, loads its data in a worker and shows
its charts (Pilot, no mocks: the hand-worked book in a real database)."""

from __future__ import annotations

import pytest
from analytics_fixture import NOW, add_deals, analytics, build
from pilot_steps import workers_done
from rich.cells import cell_len
from textual.app import App
from textual.widgets import Static
from textual_plotext import PlotextPlot

from crm_tui import i18n
from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.domain.analytics.complaints import UNKNOWN
from crm_tui.domain.analytics.rfm import SEGMENTS
from crm_tui.screens.dashboard import DashboardScreen, complaint_type_label, segment_label

# anyio's pytest plugin runs the async tests (anyio comes with httpx).
pytestmark = pytest.mark.anyio


class DashboardApp(App):
    def __init__(self, screen: DashboardScreen) -> None:
        super().__init__()
        self.dashboard = screen

    def on_mount(self) -> None:
        self.push_screen(self.dashboard)


async def test_dashboard_mounts_and_shows_its_charts(crm: Crm) -> None:
    add_deals(crm, build(crm))
    screen = DashboardScreen(analytics(crm))
    app = DashboardApp(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await workers_done(app)
        await pilot.pause()
        assert screen.data is not None
        plots = {p.id: p for p in screen.query(PlotextPlot)}
        assert set(plots) == {"chart-sales", "chart-segments", "chart-complaints", "chart-funnel"}
        assert not any(p.loading for p in plots.values())
        rendered = {k: str(p.render()) for k, p in plots.items()}
        assert "Sales by month" in rendered["chart-sales"]
        assert "RFM segment" in rendered["chart-segments"] and "Champ" in rendered["chart-segments"]
        assert "Delivery" in rendered["chart-complaints"]  # choice.type.delivery
        agenda = str(screen.query_one("#dashboard-agenda", Static).render())
        assert "Follow-ups overdue: 1" in agenda  # F's follow-up of 2026-07-10
        # this quarter's funnel (4 deals created in July) and forecast against the team target
        assert "Funnel 2026-Q3" in str(plots["chart-funnel"].render())
        assert screen.data["funnel"][:2] == [("lead", 4), ("qualified", 3)]
        forecast = str(screen.query_one("#dashboard-forecast", Static).render())
        assert "Won 2,600 + weighted 2,320 = 4,920" in forecast and "attainment 50%" in forecast
        assert "Dashboard for 2026-09-30" in str(screen.query_one("#dashboard-status", Static).render())
        # the data behind the charts: September's sales, two Champions
        assert screen.data["monthly_sales"][-1] == ("2026-09", 3600.0)
        assert screen.data["segments"]["Champions"] == 2
        # refresh reloads in the worker again
        crm.orders.create({"customer_id": crm.customers.find()[0]["id"],
                           "ordered_at": "2026-09-29", "product": "x", "amount": 400})
        await pilot.press("r")
        await workers_done(app)
        await pilot.pause()
        assert screen.data["monthly_sales"][-1] == ("2026-09", 4000.0)


async def test_dashboard_speaks_chinese_with_crm_lang_zh(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    """CRM_LANG=zh: the titles, segment and complaint type labels, agenda counts, status
    line and key descriptions come from the Chinese catalog, and the charts stay in line
    although each Chinese character takes two cells."""
    build(crm)
    monkeypatch.setenv("CRM_LANG", "zh")
    app = CrmApp(crm=crm, config={}, now=lambda: NOW)  # picks the language from CRM_LANG
    try:
        screen = DashboardScreen(analytics(crm))
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(screen)
            for _ in range(3):
                await workers_done(app)
                await pilot.pause()
            assert screen.data is not None
            plots = {p.id: p for p in screen.query(PlotextPlot)}
            rendered = {k: str(p.render()) for k, p in plots.items()}
            assert "月度销售额" in rendered["chart-sales"]
            assert "各 RFM 细分的客户数" in rendered["chart-segments"]
            assert "冠军" in rendered["chart-segments"] and "Champ" not in rendered["chart-segments"]
            assert "近 90 天投诉类型" in rendered["chart-complaints"]
            assert "交付" in rendered["chart-complaints"] and "产品质量" in rendered["chart-complaints"]
            assert "delivery" not in rendered["chart-complaints"].lower()
            for key, plot in plots.items():
                # every line exactly as wide as the chart: the wide characters took their two cells
                widths = {cell_len(line) for line in rendered[key].splitlines()}
                assert widths == {plot.size.width}, (key, widths)
            # the y axis of the segment chart is one straight line, Chinese labels or not
            axis = {cell_len(line[:line.index("┤")]) for line in rendered["chart-segments"].splitlines() if "┤" in line}
            assert len(axis) == 1
            agenda = str(screen.query_one("#dashboard-agenda", Static).render())
            assert "今日待办" in agenda and "逾期回访：1" in agenda
            assert "2026-09-30 的仪表盘" in str(screen.query_one("#dashboard-status", Static).render())
            refresh = next(b.binding for b in screen.active_bindings.values() if b.binding.id == "dashboard.refresh")
            assert (refresh.description, refresh.tooltip) == ("刷新", "重新加载图表")
    finally:
        i18n.set_language("en")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_segment_agenda_count_and_complaint_type_has_a_label(lang: str) -> None:
    i18n.set_language(lang)
    try:
        for segment in SEGMENTS:
            assert i18n.has("dashboard.segment." + segment.lower().replace("'", "").replace(" ", "_")), segment
        assert segment_label("Can't Lose Them") == {"en": "CantLose", "zh": "不可失"}[lang]
        for count in ("follow_ups_overdue", "follow_ups_today", "complaints_due", "complaints_open",
                      "contacts_overdue", "contacts_due", "greetings"):
            assert i18n.has(f"dashboard.agenda.{count}"), count
        assert complaint_type_label("service_attitude") == {"en": "Service attitude", "zh": "服务态度"}[lang]
        assert complaint_type_label(UNKNOWN) == {"en": "(unknown)", "zh": "未分类"}[lang]
        assert complaint_type_label("made_up_type") == "made up type"
    finally:
        i18n.set_language("en")
