"""Conflicts and sync, right (issue 14, item 5), as a rep meets them in the UI driven
with Textual's Pilot: each F-key opens the screen it names whatever is stacked; F9
syncs from any screen, the conflicts screen too, right after resolving; the "by"
column names who wrote mine, then who wrote theirs. The sync runs against a real
`crm server serve` process on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_steps import settle, wait_for
from sync_server import Server
from textual.widgets import DataTable

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.config import Config
from crm_tui.screens.conflicts import ConflictsScreen
from crm_tui.screens.customers import CustomersScreen
from crm_tui.screens.dashboard import DashboardScreen
from crm_tui.screens.detail import CustomerScreen

pytestmark = pytest.mark.anyio
SIZE = (120, 40)


def now() -> dt.datetime:
    return dt.datetime(2026, 12, 1, 10, 0)


async def test_each_f_key_opens_its_own_screen_whatever_is_stacked(crm: Crm) -> None:
    crm.customers.create({"name": "王芳", "company": "北方机械"})
    app = CrmApp(crm=crm, config={}, lang="en", now=now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f7")  # conflicts, stacked on the customer list
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen)
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("f2")  # was: the conflicts screen left on the customers' stack
        await settle(pilot)
        assert type(app.screen) is CustomersScreen
        await pilot.press("down", "enter")  # from the search box to the list; open the customer
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("f6", "f2")
        await settle(pilot)
        assert type(app.screen) is CustomersScreen
        assert len(app.screen_stack) == 1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path / 'server.db'}")
    yield srv
    srv.stop()


def laptop(tmp: Path, server: Server, rep: str) -> Crm:
    token = server.add_rep(rep, "--territory", "east")
    config = Config.from_mapping({"sync": {"server": server.url, "token": token}}, source="test")
    return Crm(tmp / f"{rep}.db", rep=rep, config=config)


async def test_f9_syncs_from_the_conflicts_screen_right_after_resolving(tmp_path: Path, server: Server) -> None:
    wang, li = laptop(tmp_path, server, "wang"), laptop(tmp_path, server, "li")
    cid = wang.customers.create({"name": "张伟", "territory": "east"})["id"]
    wang.sync.run()
    li.sync.run()
    wang.customers.update(cid, {"notes": "wang's"})
    li.customers.update(cid, {"notes": "li's"})  # later: li's value wins the field
    li.sync.run()
    wang.sync.run()  # wang's laptop pulls li's winning value; wang's own is the loser
    [conflict] = wang.sync.conflicts()
    assert (conflict["mine"], conflict["theirs"]) == ("wang's", "li's")
    app = CrmApp(crm=wang, config={}, lang="en", now=now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        await wait_for(pilot, lambda: screen.rows, "the conflict is listed")
        row = [str(cell) for cell in screen.query_one("#conflicts-table", DataTable).get_row_at(0)]
        assert row[3:6] == ["wang's", "li's", "wang / li"]  # was "li / wang": winner / loser
        await pilot.press("m")  # keep mine
        await wait_for(pilot, lambda: not screen.rows, "the conflict is settled")
        assert wang.sync.status()["pending"] >= 1
        await pilot.press("f9")  # was: refused outside F2-F5
        await wait_for(pilot, lambda: wang.sync.status()["pending"] == 0, "the sync ran")
        await wait_for(pilot, lambda: any("pushed" in str(n.message) for n in app._notifications),
                       "the rep is told")
    li.sync.run()
    assert li.customers.get(cid)["notes"] == wang.customers.get(cid)["notes"] == "wang's"
    wang.close()
    li.close()
