"""Quotations in the terminal UI, driven with Pilot at 80x24 in English and Chinese:
from a card of the Pipeline screen, make a quote (its lines start from the deal's
products), see its lines and total, print it as HTML, accept it (the order is made,
the deal won and off the board); and the same list from the customer's
Opportunities tab. The database is checked after each step."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pilot_steps import settle
from textual.widgets import DataTable, OptionList, Static, TabbedContent, TextArea

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.form import FormScreen
from crm_tui.screens.modals import ConfirmScreen
from crm_tui.screens.pipeline import PipelineScreen
from crm_tui.screens.quotes import QuotesScreen

NOW = dt.datetime(2026, 9, 15, 9, 0)
SIZE = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_make_print_and_accept_a_quote_from_the_pipeline(crm: Crm, db_path: Path, lang: str) -> None:
    crm.now = lambda: NOW
    cid = crm.customers.create({"name": "王芳", "company": "北方机械"})["id"]
    crm.products.create({"sku": "SN-100", "name": "传感器", "list_price": 1200})
    deal = crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": 5000, "stage": "negotiation",
                                     "product_ids": "SN-100"})
    app = CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        board = app.screen
        assert isinstance(board, PipelineScreen)
        board.query_one("#cards-negotiation", OptionList).focus()
        await pilot.pause()
        await pilot.press("q")
        await settle(pilot)
        quotes = app.screen
        assert isinstance(quotes, QuotesScreen)
        assert quotes.query_one(DataTable).row_count == 0

        # n: the form starts from the deal's products; add a discount and a second line
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        lines = form.query_one("#field-lines", TextArea)
        assert lines.text == "SN-100:1"
        lines.text = "SN-100:2::10\n安装费:1:500"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is quotes
        made = crm.quote_book.find(opportunity_id=deal["id"])
        assert len(made) == 1 and made[0]["amount"] == 2660.0  # 2 × 1200 − 10 % + 500
        assert quotes.query_one(DataTable).row_count == 1
        shown = str(quotes.query_one("#quote-lines", Static).render())
        assert "2,660.00" in shown and "安装费" in shown

        # p: the printable HTML beside the database, in the UI's language
        await pilot.press("p")
        await settle(pilot)
        printed = db_path.parent / f"quote-{made[0]['id']}.html"
        assert ("报价单" if lang == "zh" else "Quotation") in printed.read_text(encoding="utf-8")

        # a, then Escape: nothing happens; a, y: accepted, the order made, the deal won
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert crm.orders.count() == 0 and crm.quote_book.get(made[0]["id"])["status"] == "draft"
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        quote = crm.quote_book.get(made[0]["id"])
        assert quote["status"] == "accepted"
        won = crm.opportunities.get(deal["id"])
        assert (won["stage"], won["order_id"]) == ("won", quote["order_id"])
        assert crm.orders.get(quote["order_id"])["amount"] == 2660.0

        # Escape closes the list; the won deal has left the board
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is board and board.board["negotiation"] == []

        # the customer's Opportunities tab opens the same list with q
        app.open_customer(cid)
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, CustomerScreen)
        detail.query_one(TabbedContent).active = "opportunities"
        await settle(pilot)
        detail.query_one("#opportunities-table", DataTable).focus()
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, QuotesScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1
        status = str(table.get_row_at(0)[3])
        assert status == ("已接受" if lang == "zh" else "Accepted")
