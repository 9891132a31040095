"""The conflicts screen and the sync status widget, driven with Textual's Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest
from laptops import store_server, sync, two_laptops
from pilot_steps import wait_for
from textual.app import App, ComposeResult

from crm_tui.api import Crm
from crm_tui.api.sync import Sync
from crm_tui.screens.conflicts import ConflictsScreen
from crm_tui.widgets.sync_status import SyncStatus, describe_status

# anyio's pytest plugin runs the async tests (anyio comes with httpx).
pytestmark = pytest.mark.anyio


class Harness(App):
    def __init__(self, crm: Crm):
        super().__init__()
        self.crm = crm

    def compose(self) -> ComposeResult:
        yield SyncStatus()


def two_reps_in_conflict(tmp: Path) -> tuple[Crm, Crm, str]:
    a, b, http = two_laptops(tmp)
    cid = a.customers.create({"name": "张伟", "territory": "east"})["id"]
    sync(a, http), sync(b, http)
    a.customers.update(cid, {"notes": "wang's"})
    b.customers.update(cid, {"notes": "li's"})
    sync(a, http), sync(b, http)
    return a, b, cid


async def test_conflicts_screen_keeps_mine(tmp_path: Path) -> None:
    _, b, cid = two_reps_in_conflict(tmp_path)
    app = Harness(b)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = ConflictsScreen()
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.rows, "the conflict is listed")
        assert len(screen.rows) == 1 and screen.rows[0]["mine"] == "li's"
        await pilot.press("m")
        await wait_for(pilot, lambda: not screen.rows, "the conflict is settled")
        assert screen.rows == []
    assert b.customers.get(cid)["notes"] == "li's"
    assert Sync(b).status()["open_conflicts"] == 0


async def test_status_widget_shows_pending_and_conflicts(tmp_path: Path) -> None:
    _, b, cid = two_reps_in_conflict(tmp_path)
    b.customers.update(cid, {"title": "经理"})
    app = Harness(b)
    async with app.run_test() as pilot:
        widget = app.query_one(SyncStatus)
        expected = describe_status(Sync(b).status())
        await wait_for(pilot, lambda: str(widget.render()) == expected.replace("[b $warning]", "").replace("[/]", ""),
                       "the status line shows the status")
        assert "1 to sync" in expected and "1 conflict" in expected and "1 conflicts" not in expected
        assert "1 to sync" in str(widget.render())


async def test_refused_changes_show_on_the_sync_line_and_are_discarded_on_the_conflicts_screen(
        tmp_path: Path) -> None:
    _, http = store_server(tmp_path / "server.db", ("wang", "rep", ["east"]))
    crm = Crm(tmp_path / "a.db", rep="wang")
    cid = crm.customers.create({"name": "西部客户", "territory": "west"})["id"]  # not his territory
    report = sync(crm, http)
    assert report.rejected == 1 and Sync(crm).status()["rejected"] == 1
    assert "1 refused" in describe_status(Sync(crm).status())
    app = Harness(crm)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "1 refused" in str(app.query_one(SyncStatus).render()), "1 refused shown")
        assert "1 refused" in str(app.query_one(SyncStatus).render())
        screen = ConflictsScreen()
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.rejected, "the refused change is listed")
        assert screen.rejected[0]["record"] == "西部客户" and "west" in screen.rejected[0]["reason"]
        await pilot.press("tab")  # from the conflicts to the refused changes
        await pilot.press("d")
        await wait_for(pilot, lambda: not screen.rejected, "the refused change is discarded")
        assert screen.rejected == []
    assert crm.customers.count() == 0  # the refused new customer is gone; nothing to sync
    assert Sync(crm).status()["pending"] == 0 and Sync(crm).status()["rejected"] == 0
    assert crm.conn.execute("SELECT count(*) FROM change_log WHERE row_id = ?", (cid,)).fetchone()[0] == 0


async def test_an_out_of_date_conflict_leaves_the_screen_with_its_reason(tmp_path: Path) -> None:
    """Keeping a side of a conflict whose field was written after it (here: li edits
    the notes again locally) is refused with the reason, and the conflict, closed as
    out of date, leaves the list instead of staying there to be tried again."""
    _, b, cid = two_reps_in_conflict(tmp_path)
    b.customers.update(cid, {"notes": "li's, later"})  # written after the conflict's winner
    app = Harness(b)
    async with app.run_test(size=(120, 30)) as pilot:
        screen = ConflictsScreen()
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.rows, "the conflict is listed")
        assert len(screen.rows) == 1
        await pilot.press("t")
        await wait_for(pilot, lambda: not screen.rows, "the conflict is settled")
        assert screen.rows == []
        assert any("out of date" in str(n.message) for n in app._notifications)
    assert b.customers.get(cid)["notes"] == "li's, later"


async def test_a_book_of_made_up_records_says_it_never_syncs_instead_of_counting_what_waits(tmp_path: Path) -> None:
    """`crm seed` made the records of this book, so `crm sync` refuses it: the sync line
    said "2,345 to sync · last sync never", as if a sync would send them. It says the
    book never syncs, in the UI and in `crm sync --status`, by the rule sync itself
    follows (Sync.never_syncs)."""
    from typer.testing import CliRunner

    from crm_tui.api.seed import seed
    from crm_tui.cli import app as cli

    crm = Crm(tmp_path / "play.db", rep="wang")
    crm.customers.create({"name": "张伟"})
    assert Sync(crm).never_syncs() is None and "1 to sync" in describe_status(Sync(crm).status())
    seed(crm, customers=5, seed=1)
    assert Sync(crm).never_syncs() == "made_up"
    app = Harness(crm)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "never syncs" in str(app.query_one(SyncStatus).render()),
                       "never syncs shown")
        line = str(app.query_one(SyncStatus).render())
        assert "made-up records of crm seed: this book never syncs" in line and "to sync" not in line, line
    crm.close()
    out = CliRunner().invoke(cli, ["sync", "--status", "--db", str(tmp_path / "play.db")], env={"CRM_LANG": "zh"})
    assert out.exit_code == 0 and "含 crm seed 生成的假数据：本数据库不同步" in out.stdout, out.output
