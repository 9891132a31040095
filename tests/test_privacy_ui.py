"""Erase from the customer screen, driven with Pilot: the question names what goes,
"no" keeps everything, "yes" erases on the real database."""

from __future__ import annotations

import datetime as dt

import pytest
from pilot_steps import settle
from textual.widgets import Static

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.modals import ConfirmScreen

pytestmark = pytest.mark.anyio


async def test_erase_from_the_customer_screen_asks_first(crm: Crm) -> None:
    c = crm.customers.create({"name": "欧阳锋", "mobile": "13912345678"})
    crm.agenda.log_visit({"customer_id": c["id"], "notes": "camel-notes", "channel": "phone", "purpose": "visit"})
    crm.orders.create({"customer_id": c["id"], "ordered_at": "2026-03-02", "product": "tea", "amount": 5})
    app = CrmApp(crm=crm, config={}, lang="en", now=lambda: dt.datetime(2026, 3, 2, 9, 0))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_customer(c["id"])
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("X")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#question", Static).render())
        assert "欧阳锋" in question and "1 visit," in question and "1 order stays" in question
        await pilot.press("n")
        await settle(pilot)
        assert crm.customers.get(c["id"])["name"] == "欧阳锋"
        await pilot.press("X")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
    assert crm.customers.get(c["id"])["name"] == "[erased]"
    assert crm.visits.find()[0]["notes"] is None
    assert crm.privacy.erased(c["id"]) is not None
