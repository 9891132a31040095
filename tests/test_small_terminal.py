"""At 80x24 (many field laptops' terminals, a split tmux pane), in English and Chinese:
the customer list keeps Status, Tier and Owner in view, the top bar and the footer
show whole keys (F1 lists the ones left out), and the dashboard's charts read at a
glance: whole counts, thousands separators, every bar labelled."""

from __future__ import annotations

import datetime as dt

import pytest
from pilot_steps import settle, top_bar
from rich.cells import cell_len
from textual.widgets import Input, Static
from textual.widgets._footer import FooterKey

from crm_tui.api import Crm
from crm_tui.api.seed import seed
from crm_tui.app import CrmApp
from crm_tui.screens.dashboard import (
    CHART_ROWS,
    DashboardScreen,
    WidePlot,
    axis_ticks,
    chart_rows,
    complaint_type_label,
    named_bars,
    segment_label,
)
from crm_tui.widgets.record_table import RecordTable

NOW = dt.datetime(2026, 3, 2, 9, 0)
SMALL = (80, 24)
pytestmark = pytest.mark.anyio


@pytest.fixture
def book(crm: Crm) -> Crm:
    crm.now = lambda: NOW
    seed(crm, customers=80, seed=2, today=NOW.date())
    return crm


def footer_fits(app: CrmApp) -> None:
    keys = [k for k in app.screen.query(FooterKey) if k.display]
    assert any(k.action == "help" for k in keys), "F1 always in the footer"
    for key in keys:
        assert key.region.right <= SMALL[0] and key.region.width >= cell_len(key.key_display), key.description


def titles_and_hints_whole(app: CrmApp) -> None:
    """No column title cut to "…", no search box whose hint runs past its edge."""
    for table in app.screen.query(RecordTable):
        header = "".join(seg.text for seg in table.render_line(0))
        assert "…" not in header, header
    for box in app.screen.query(Input):
        if box.display and box.placeholder:
            assert cell_len(box.placeholder) <= box.content_region.width, box.placeholder


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_every_screen_at_80x24_keeps_its_keys_whole(book: Crm, lang: str) -> None:
    app = CrmApp(crm=book, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SMALL) as pilot:
        for key in ("f2", "f3", "f4", "f5", "f6", "f7", "f8", "f10"):  # f10: the products
            await pilot.press(key)
            await settle(pilot)
            top_bar(app)
            footer_fits(app)
            titles_and_hints_whole(app)


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_customer_list_at_80x24_shows_status_tier_and_owner(book: Crm, lang: str) -> None:
    app = CrmApp(crm=book, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        table = app.screen.query_one(RecordTable)
        shown = [c.key for c, _ in table.column_layout()]
        assert {"name", "status", "tier", "owner"} <= set(shown)
        assert sum(w for _, w in table.column_layout()) + len(shown) + 1 <= table.scrollable_content_region.width
        row = next(r for r in table.rows_loaded() if r["owner"])
        line = "".join(seg.text for seg in table.render_line(1 + table.rows_loaded().index(row)))
        assert row["owner"] in line and row["tier"] in line
    wide = CrmApp(crm=book, config={}, lang=lang, now=lambda: NOW)
    async with wide.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        assert [c.key for c, _ in wide.screen.query_one(RecordTable).column_layout()][-1] == "tags"  # room: all of them


def test_axis_ticks_are_round_whole_and_separated() -> None:
    assert axis_ticks(2_305_451) == ([0, 1_000_000, 2_000_000], ["0", "1,000,000", "2,000,000"])
    assert axis_ticks(54, whole=True)[1] == ["0", "20", "40"]
    assert axis_ticks(3, whole=True)[1] == ["0", "1", "2", "3"]  # counts: never 0.5 or 1.5
    assert axis_ticks(0) == ([0], ["0"])


def test_bar_names_never_touch_and_the_latest_is_kept() -> None:
    months = [f"{m:02d}/26" for m in range(1, 13)]
    assert named_bars(months, 84) == list(range(12))  # 7 cells a bar: every month
    shown = named_bars(months, 30)  # 2.5 cells a bar: every third, the last that fits kept
    assert shown == [1, 4, 7, 10] and all(b - a >= 3 for a, b in zip(shown, shown[1:], strict=False))
    assert named_bars(["a"] * 11, 10, horizontal=True) == [0, 2, 4, 6, 8, 10]  # one row a name
    assert named_bars(["a"] * 11, 11, horizontal=True) == list(range(11))
    assert chart_rows(11) == 15 and chart_rows(3) == CHART_ROWS


@pytest.fixture
def big_book(crm: Crm) -> Crm:
    crm.now = lambda: NOW
    seed(crm, customers=300, seed=2, today=NOW.date())  # every one of the 11 RFM segments has customers
    return crm


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_dashboard_charts_at_80x24_read_whole_counts_and_every_label(big_book: Crm, lang: str) -> None:
    app = CrmApp(crm=big_book, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f6")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and screen.data is not None

        def drawn(chart: str) -> str:
            return screen.query_one(chart).render().plain

        sales = drawn("#chart-sales")
        top = max(v for _, v in screen.data["monthly_sales"])
        assert axis_ticks(top)[1][-1] in sales and "," in axis_ticks(top)[1][-1]  # 100,000 not 100000.0
        # the months named under the bars: the same on every run (plotext's own choice
        # changed with the hash seed), spaced, the latest that fits among them
        months = [m[5:] + "/" + m[2:4] for m, _ in screen.data["monthly_sales"]]
        axis = sales.splitlines()[-1]
        plot = screen.query_one("#chart-sales", WidePlot)
        assert axis.split() == [months[i] for i in named_bars(months, plot.bar_room())], axis
        assert len(axis.split()) >= 3 and (months[-2] in axis or months[-1] in axis), axis

        segments = drawn("#chart-segments")
        assert sum(1 for count in screen.data["segments"].values() if count) == 11
        for name, count in screen.data["segments"].items():
            if count:
                assert segment_label(name) in segments, name  # no bar without its label
        complaints = drawn("#chart-complaints")
        for code, _ in screen.data["complaint_types"]:
            assert complaint_type_label(code) in complaints, code
        for chart in (segments, complaints):
            axis = chart.splitlines()[-1]
            assert "." not in axis and axis.split(), axis  # whole counts on the axis


async def test_a_refused_save_at_80x24_shows_the_error_it_refused_for(book: Crm) -> None:
    """On a small terminal the order form's lines fill the screen: a refused Ctrl+S
    scrolls the reason under the field into view (it was below the screen's edge, so
    the save seemed to do nothing)."""
    from crm_tui.screens.form import FormScreen

    app = CrmApp(crm=book, config={}, lang="en", now=lambda: NOW)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("enter")  # the first customer of the picker
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-lines").focus()
        for key in "NO-SUCH:2":
            await pilot.press(key)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "lines" in form.errors_shown()
        error = form.query_one("#error-lines", Static)
        fields = form.query_one("#form-fields")  # the form's scrolling part
        assert error.region.height and fields.region.intersection(error.region) == error.region, (
            error.region, fields.region)


async def test_a_stale_deal_on_the_agenda_at_80x24_shows_which_deal(book: Crm) -> None:
    """The agenda's next-action column is narrow at 80x24: a stale deal's text names the
    deal first, so the cut keeps it ('Deal past its …' named none)."""
    customer = book.customers.find(limit=1)[0]
    book.opportunities.create({"customer_id": customer["id"], "title": "泵站改造", "amount": 100, "stage": "lead",
                               "close_date": (NOW.date() - dt.timedelta(days=300)).isoformat()})
    app = CrmApp(crm=book, config={}, lang="en", now=lambda: NOW)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        table = app.screen.query_one(RecordTable)
        rows = ["".join(segment.text for segment in table.render_line(y)) for y in range(1, 1 + table.total)]
        assert any("泵站改造" in row for row in rows), rows
