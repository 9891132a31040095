"""Counts on the screens are written by the one rule the CLI and the reports use,
i18n.count (1,205): the sync status line, the agenda's sections and the pipeline's
columns wrote them bare (1205 to sync, Overdue 1203), beside lists that wrote
1,205. Checked with Pilot at 80x24, where the longer counts must still read whole,
in English and Chinese."""

from __future__ import annotations

import datetime as dt

import pytest
from pilot_steps import settle
from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.db.connection import transaction
from crm_tui.screens.pipeline import StageColumn
from crm_tui.widgets.sync_status import SyncStatus

NOW = dt.datetime(2026, 3, 2, 9, 0)
SMALL = (80, 24)
CUSTOMERS, OVERDUE, DEALS = 1205, 1203, 1002
pytestmark = pytest.mark.anyio


@pytest.fixture
def big_book(crm: Crm) -> Crm:
    """More than a thousand of everything a screen counts, none synced yet."""
    crm.now = lambda: NOW
    with crm.lock, transaction(crm.conn):
        customers = [crm.customers.prepare({"name": f"客户{i}", "owner": "wang"}) for i in range(CUSTOMERS)]
        crm.customers.insert_prepared(customers, bulk=True)
        crm.visits.insert_prepared([crm.visits.prepare({
            "customer_id": c["id"], "visited_at": "2026-02-20 10:00", "channel": "phone", "purpose": "visit",
            "next_action": "回访", "next_action_date": "2026-02-25", "owner": "wang"}) for c in customers[:OVERDUE]],
            bulk=True)
    for c in customers[:DEALS]:
        crm.opportunities.create({"customer_id": c["id"], "title": "项目", "amount": 1000, "close_date": "2026-06-30"})
    return crm


def plain(widget: Static) -> str:
    content = widget.content
    return content.plain if isinstance(content, Text) else Text.from_markup(str(content)).plain


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_counts_on_the_screens_are_thousands_separated_and_whole_at_80x24(big_book: Crm, lang: str) -> None:
    pending = big_book.sync.status()["pending"]
    assert pending > 1000
    app = CrmApp(crm=big_book, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        status = plain(app.screen.query_one(SyncStatus))
        assert f"{pending:,}" in status, status
        assert cell_len(status) <= SMALL[0] - 2, status  # within its padding: whole

        await pilot.press("f3")
        await settle(pilot)
        counts = plain(app.screen.query_one("#agenda-counts", Static))
        assert f"{OVERDUE:,}" in counts, counts
        assert cell_len(counts) <= SMALL[0] - 2, counts

        await pilot.press("f8")
        await settle(pilot)
        first = app.screen.query(StageColumn).first()
        head = first.query_one(".stage-head", Static)
        text = plain(head)
        assert f"{DEALS:,}" in text.splitlines()[0], text
        # the count stays on the head's first line, within the column
        assert head.region.right <= SMALL[0] and cell_len(text.splitlines()[0]) <= head.region.width, text
