"""Defects found by using the terminal UI as a rep does (a field trial in tmux at
80x24 and large, in English and Chinese), each driven here with Pilot as the rep met
it, then checked on the screen and in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from pilot_steps import settle
from textual.widgets import Input, OptionList

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.domain.orders import parse_lines
from crm_tui.screens.form import FormScreen
from crm_tui.screens.orders import OrdersScreen
from crm_tui.screens.pipeline import PipelineScreen, PromptScreen

NOW = dt.datetime(2026, 3, 2, 9, 0)
SMALL = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(crm: Crm, lang: str = "en") -> CrmApp:
    return CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)


async def test_an_order_edit_refused_for_its_date_keeps_the_old_lines(crm: Crm) -> None:
    """Editing an order's lines and mistyping its date: the form says what is wrong
    with the date, and nothing is written (the lines were saved on their own before,
    so leaving the form kept half of the edit)."""
    customer = crm.customers.create({"name": "李娜", "company": "南方食品"})
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
    order = crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-03-01"}, parse_lines("GT-1:4"))
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen)
        app.screen.query_one("#orders-table").focus()
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-lines").text = "GT-1:9"
        form.query_one("#field-ordered_at").value = "2026-13-45"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form, "a refused edit keeps the form open"
        assert "2026-13-45" in form.errors_shown()["ordered_at"]
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y")  # discard the edit
        await settle(pilot)
    kept = crm.orders.get(order["id"])
    assert (kept["ordered_at"], kept["quantity"], kept["amount"]) == ("2026-03-01", 4, 1280.0)
    assert [line["quantity"] for line in crm.order_book.lines(order["id"])] == [4.0]


async def test_an_order_edit_names_a_bad_line_and_a_bad_date_together(crm: Crm) -> None:
    """Both mistakes of one save are shown at once, each under its field."""
    customer = crm.customers.create({"name": "李娜"})
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
    crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-03-01"}, parse_lines("GT-1:4"))
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        app.screen.query_one("#orders-table").focus()
        await pilot.press("e")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-lines").text = "NOSUCH:1"
        form.query_one("#field-ordered_at").value = "2026-13-45"
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = form.errors_shown()
        assert "2026-13-45" in shown["ordered_at"] and "NOSUCH" in shown["lines"]


async def test_the_pipeline_search_lets_the_rep_out_with_escape_and_down(crm: Crm) -> None:
    """After searching the board, Esc clears the box, Esc again (or ↓) goes back to
    the cards, so w / l / n / e act on a card again instead of typing into the box."""
    customer = crm.customers.create({"name": "王芳", "company": "北方机械"})
    deal = crm.opportunities.create({"customer_id": customer["id"], "title": "ERP 升级", "amount": 1000,
                                     "stage": "lead"})
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen)
        box = screen.query_one("#pipeline-search", Input)
        await pilot.press("slash", *"ERP")
        await settle(pilot)
        assert screen.focused is box and box.value == "ERP"
        await pilot.press("escape")
        await settle(pilot)
        assert box.value == "" and screen.focused is box
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(screen.focused, OptionList), screen.focused
        await pilot.press("slash", *"王")
        await pilot.press("down")
        await settle(pilot)
        assert isinstance(screen.focused, OptionList) and box.value == "王"
        assert screen.selected() is not None and screen.selected()["id"] == deal["id"]
        await pilot.press("l")  # lose: asks the reason, typed nowhere else
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen) and box.value == "王"
