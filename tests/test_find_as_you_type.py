"""Finding things on every list screen, as a rep does: on the complaints and orders
screens, `/` and a few letters of the customer's name (or its pinyin initials, or a
product) narrow the list as they are typed, instead of 77 presses of ↓."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pilot_steps import settle

from crm_tui.api import Crm
from crm_tui.api.seed import seed
from crm_tui.app import CrmApp
from crm_tui.screens.complaints import ComplaintsScreen
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.orders import OrdersScreen
from crm_tui.widgets.record_table import RecordTable

NOW = dt.datetime(2026, 3, 2, 9, 0)
pytestmark = pytest.mark.anyio


@pytest.fixture
def busy(crm: Crm) -> tuple[Crm, dict, dict]:
    """A rep's book with many complaints and orders, and one customer whose resolved
    complaint is to be closed and whose order is to be found."""
    crm.now = lambda: NOW
    seed(crm, customers=150, seed=5, today=NOW.date())
    ouyang = crm.customers.create({"name": "欧阳娜娜", "company": "长江航运", "mobile": "13812345678"})
    complaint = crm.complaint_workflow.open({"customer_id": ouyang["id"], "type": "delivery", "priority": "low",
                                             "description": "货到晚了三天"})
    crm.complaint_workflow.resolve(complaint["id"], resolution="已补发", root_cause="物流外包延误")
    order = crm.orders.create({"customer_id": ouyang["id"], "ordered_at": "2025-05-06", "product": "压力变送器",
                               "amount": 5600})
    return crm, complaint, order


def make_app(crm: Crm) -> CrmApp:
    return CrmApp(crm=crm, config={}, lang="en", now=lambda: NOW)


def rows(app: CrmApp) -> list[dict]:
    return app.screen.query_one(RecordTable).rows_loaded()


async def test_close_a_given_complaint_by_typing_part_of_its_customer_name(busy) -> None:
    crm, complaint, _ = busy
    resolved = len(crm.complaint_workflow.queue("resolved"))
    assert resolved > 15  # without a filter, a long way down the list
    app = make_app(crm)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, ComplaintsScreen)
        for _ in range(4):  # open -> new -> acknowledged -> in progress -> resolved
            await pilot.press("tab")
        await settle(pilot)
        assert app.screen.view == "resolved" and len(rows(app)) == resolved
        await pilot.press("slash", *"oyn")  # 欧阳娜娜 by the initials of its pinyin
        await settle(pilot)
        assert [r["id"] for r in rows(app)] == [complaint["id"]]
        await pilot.press("enter", "x")  # down to the list, close the one found
        await settle(pilot)
        assert crm.complaints.get(complaint["id"])["status"] == "closed"
        assert rows(app) == []  # the resolved view no longer holds it
        assert "Esc" in str(app.screen.query_one("#complaint-info").render())  # and says how to see all
        await pilot.press("slash", "escape")  # Esc in the box clears it: the whole view again
        await settle(pilot)
        assert len(rows(app)) == resolved - 1


async def test_the_complaints_filter_reads_names_products_and_descriptions(busy) -> None:
    crm, complaint, _ = busy
    app = make_app(crm)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        await pilot.press("tab", "tab", "tab", "tab", "slash", *"欧阳")
        await settle(pilot)
        assert [r["customer_name"] for r in rows(app)] == ["欧阳娜娜"]
        await pilot.press("escape", *"三天")  # Esc empties the box; then words of the description
        await settle(pilot)
        assert [r["id"] for r in rows(app)] == [complaint["id"]]


async def test_find_an_order_by_customer_or_product_and_open_its_customer(busy) -> None:
    crm, _, order = busy
    total = crm.orders.count()
    app = make_app(crm)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen) and app.screen.query_one(RecordTable).total == total
        await pilot.press("slash", *"变送器")
        await settle(pilot)
        found = rows(app)
        assert order["id"] in [r["id"] for r in found] and all("变送器" in r["product"] for r in found)
        assert app.screen.query_one(RecordTable).total == len(found) < total
        await pilot.press("escape")  # clear, then the customer's initials
        await pilot.press(*"oynn")
        await settle(pilot)
        assert [r["id"] for r in rows(app)] == [order["id"]]
        await pilot.press("down", "c")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("slash", *"nothing-like-this")
        await settle(pilot)
        assert "Esc clears" in str(app.screen.query_one("#orders-count").render())


def test_cli_lists_complaints_and_orders_by_customer_search(busy) -> None:
    from typer.testing import CliRunner

    from crm_tui.cli import app

    crm, complaint, order = busy
    out = CliRunner().invoke(app, ["--db", str(crm.path), "complaints", "list", "--search", "oynn", "--json"])
    assert out.exit_code == 0, out.output
    assert [r["id"] for r in json.loads(out.stdout)] == [complaint["id"]]
    out = CliRunner().invoke(app, ["--db", str(crm.path), "orders", "list", "-s", "变送器", "--json"])
    assert order["id"] in [r["id"] for r in json.loads(out.stdout)]
