"""From the demo to real work, as a new user goes: `crm demo` makes the demo the
database of every command (each says so on stderr), `crm sync` never sends it, and
`crm demo --exit` (or `crm init`) goes back to the user's own book; nobody is left at
"0 of 0" without a hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app
from crm_tui.config import demo_active, demo_db_path, own_db_path

runner = CliRunner()


@pytest.fixture(autouse=True)
def new_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CRM_DB: the database comes from the user data directory, as for a new user."""
    monkeypatch.delenv("CRM_DB")


def crm(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args))
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_after_the_demo_the_next_commands_use_it_and_say_so_until_exit() -> None:
    made = crm("demo", "--no-ui", "--customers", "40")
    assert "crm demo --exit" in made.stdout and demo_active()
    listed = crm("customers", "list", "--json")
    assert len(json.loads(listed.stdout)) == 40  # the demo's customers, not an empty new crm.db
    assert str(demo_db_path()) in listed.stderr and "crm demo --exit" in listed.stderr
    assert not own_db_path().exists()  # nothing made behind the user's back

    added = crm("customers", "add", "--name", "试用客户")
    assert "demo database" in added.stderr  # work typed into the demo is never silent
    refused = crm("sync", ok=False)
    assert "never synced" in refused.stderr and "crm demo --exit" in refused.stderr

    left = crm("demo", "--exit")
    assert str(own_db_path()) in left.stdout and not demo_active()
    missing = crm("customers", "list", ok=False)
    assert "crm init" in missing.stderr and "crm demo" in missing.stderr
    crm("init")
    empty = crm("customers", "list")
    assert "not your own book" not in empty.stderr  # no demo notice on the user's own book
    assert "no customers in" in empty.stderr and "crm customers import" in empty.stderr  # not a bare 0 of 0
    assert empty.stdout == ""  # nor an empty table beneath the sentence
    with Crm(own_db_path()) as own:
        assert own.customers.count() == 0
    with Crm(demo_db_path()) as demo:
        assert demo.customers.count() == 41  # kept for the next `crm demo`


def test_init_is_the_start_of_real_work_and_leaves_the_demo() -> None:
    crm("demo", "--no-ui", "--customers", "5")
    result = crm("init")
    assert not demo_active() and "Left the demo" in result.stderr
    assert str(own_db_path()) in result.stdout


def test_crm_db_still_names_the_users_database_during_the_demo(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.db"
    monkeypatch.setenv("CRM_DB", str(mine))
    made = crm("demo", "--no-ui", "--customers", "5")
    assert "CRM_DB" in made.stdout and "--db" in made.stdout
    crm("customers", "add", "--name", "自己的客户")
    with Crm(mine) as own:
        assert [c["name"] for c in own.customers.find()] == ["自己的客户"]


def test_a_search_that_matches_nothing_says_so() -> None:
    crm("demo", "--no-ui", "--customers", "5")
    result = crm("customers", "list", "--search", "no-such-customer-anywhere")
    assert "none of the 5 customers" in result.stderr


@pytest.mark.anyio
async def test_the_ui_on_the_demo_wears_a_badge_and_says_how_to_leave() -> None:
    crm("demo", "--no-ui", "--customers", "5")
    demo = CrmApp(config={}, lang="en")
    async with demo.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert str(demo.screen.query_one("#demo-badge").render()) == "DEMO"
        assert any("crm demo --exit" in n.message for n in demo._notifications)
        # every screen the user can reach wears it, the dashboard and the conflicts too
        for key in ("f3", "f4", "f5", "f6", "f7", "f8", "f2"):
            await pilot.press(key)
            await pilot.pause()
            assert [str(b.render()) for b in demo.screen.query("#demo-badge")] == ["DEMO"], (key, demo.screen)
        await pilot.press("down", "enter")  # a customer's own screen
        await pilot.pause()
        assert demo.screen.query("#demo-badge"), demo.screen
    crm("demo", "--exit")
    crm("init")
    own = CrmApp(config={}, lang="zh")
    async with own.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert not own.screen.query("#demo-badge")


def test_leaving_the_demo_when_it_is_not_on_says_so() -> None:
    # `crm demo --exit` said "Left the demo" to a user who had never opened it.
    assert not demo_active()
    left = crm("demo", "--exit")
    assert "Left the demo" not in left.stdout and "The demo was not active" in left.stdout
    assert str(own_db_path()) in left.stdout and not demo_active()
    crm("demo", "--no-ui", "--customers", "5")
    assert "Left the demo" in crm("demo", "--exit").stdout


def test_an_empty_list_on_a_laptop_logged_in_but_never_synced_says_crm_sync(db_path: Path) -> None:
    """A rep who has just logged in and lists customers is told that `crm sync` brings
    the team's, not to add or import some or open the demo; once synced (or for a
    laptop of no server) the usual sentence."""
    import os

    runner = CliRunner()
    Path(os.environ["CRM_CONFIG"]).write_text('[sync]\nserver = "http://127.0.0.1:9"\ntoken = "crm_x"\n',
                                              encoding="utf-8")
    runner.invoke(app, ["init", "--db", str(db_path)])
    empty = runner.invoke(app, ["customers", "list", "--db", str(db_path)])
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "`crm sync` brings your team's from http://127.0.0.1:9" in empty.stderr and "crm demo" not in empty.stderr
    with Crm(db_path) as crm:
        crm.conn.execute("UPDATE sync_state SET last_sync_at = '2026-12-01T08:00:00Z'")
    synced = runner.invoke(app, ["customers", "list", "--db", str(db_path)])
    assert "crm sync" not in synced.stderr and "crm customers import" in synced.stderr
