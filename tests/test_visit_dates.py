"""A visit's next action is dated on or after the visit: `crm visits add --visited-at
2026-12-01 --next-action-date 2020-01-01` was stored, and its follow-up sat in the
agenda overdue six years back. One rule (crm_tui.domain.agenda.check_visit, a record
rule of visits) refuses it on every path, naming the field: the CLI's add, edit and
reschedule, an import, the TUI's reschedule (F3, n), a change pushed by hand to a real
server, and a pulled insert a laptop sets aside."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from pilot_steps import settle
from sync_server import Server
from test_sync_poison import inject
from test_sync_trust import Hand, team
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app
from crm_tui.screens.agenda import AgendaScreen
from crm_tui.screens.form import FormScreen

runner = CliRunner()
VISITED, EARLY = "2026-12-01", "2020-01-01"
REASON = f"next_action_date: must be on or after the visit date ({VISITED})"


def cli(db: Path, *args: str, code: int = 0, lang: str = "en"):
    result = runner.invoke(app, [*args, "--db", str(db)], env={"CRM_LANG": lang})
    assert result.exit_code == code, result.output
    return result


def visits(db: Path) -> list[tuple[str, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT substr(visited_at, 1, 10), next_action_date FROM visits ORDER BY id").fetchall()


@pytest.fixture
def customer(crm: Crm) -> str:
    return crm.customers.create({"name": "王芳"})["id"]


def test_the_cli_refuses_a_next_action_before_the_visit(db_path: Path, customer: str) -> None:
    add = ("visits", "add", "--customer", customer, "--visited-at", VISITED, "--channel", "phone",
           "--purpose", "visit")
    refused = cli(db_path, *add, "--next-action-date", EARLY, code=1)
    assert REASON in refused.output
    zh = cli(db_path, *add, "--next-action-date", EARLY, code=1, lang="zh")
    assert f"下一步日期（next_action_date）：不能早于拜访日期（{VISITED}）" in zh.output
    assert visits(db_path) == []
    # The visit's own day is on or after it.
    vid = json.loads(cli(db_path, *add, "--next-action-date", VISITED, "--json").stdout)["id"]
    # An edit of either date is judged by the record it leaves.
    assert REASON in cli(db_path, "visits", "edit", vid, "--next-action-date", EARLY, code=1).output
    later = cli(db_path, "visits", "edit", vid, "--visited-at", "2026-12-05 10:00", code=1).output
    assert "next_action_date: must be on or after the visit date (2026-12-05)" in later
    assert REASON in cli(db_path, "visits", "reschedule", vid, "--date", EARLY, code=1).output
    assert visits(db_path) == [(VISITED, VISITED)]


def test_an_import_refuses_the_row_naming_its_line(db_path: Path, customer: str, tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text("customer_id,visited_at,channel,purpose,next_action_date\n"
                    f"{customer},2026-11-20 10:00,phone,visit,2026-11-25\n"
                    f"{customer},{VISITED} 10:00,phone,visit,{EARLY}\n", encoding="utf-8")
    refused = cli(db_path, "visits", "import", str(path), code=1)
    assert "line 3" in refused.output and REASON in refused.output, refused.output
    assert visits(db_path) == []  # all rows or none


def test_the_api_keeps_the_rule_on_a_write_and_on_a_reschedule(crm: Crm, customer: str) -> None:
    from crm_tui.api import ValidationError

    with pytest.raises(ValidationError) as err:
        crm.visits.create({"customer_id": customer, "visited_at": f"{VISITED}T15:00:00", "channel": "phone",
                           "purpose": "visit", "next_action_date": EARLY})
    assert [(e.field, e.reason) for e in err.value.errors] == [
        ("next_action_date", f"must be on or after the visit date ({VISITED})")]
    vid = crm.visits.create({"customer_id": customer, "visited_at": f"{VISITED}T15:00:00", "channel": "phone",
                             "purpose": "visit"})["id"]  # no next action: nothing to order
    with pytest.raises(ValidationError):
        crm.agenda.schedule_next(vid, "2026-11-30")
    assert crm.agenda.schedule_next(vid, VISITED)["next_action_date"] == VISITED



@pytest.mark.anyio
async def test_the_agendas_reschedule_refuses_a_day_before_the_visit(crm: Crm, customer: str) -> None:
    now = dt.datetime(2026, 12, 3, 9, 0)
    vid = crm.agenda.log_visit({"customer_id": customer, "visited_at": f"{VISITED}T10:00:00", "channel": "phone",
                                "purpose": "visit", "next_action": "回访", "next_action_date": "2026-12-02"})["id"]
    tui = CrmApp(crm=crm, config={}, lang="en", now=lambda: now)
    async with tui.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(tui.screen, AgendaScreen)
        await pilot.press("n")
        await settle(pilot)
        form = tui.screen
        assert isinstance(form, FormScreen)
        date = form.query_one("#field-next_action_date")
        date.focus()
        date.value = ""  # type: ignore[attr-defined]
        await pilot.press(*EARLY)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert tui.screen is form
        assert form.errors_shown() == {"next_action_date": f"⚠ must be on or after the visit date ({VISITED})"}
    assert crm.visits.get(vid)["next_action_date"] == "2026-12-02"


def test_the_server_refuses_a_pushed_visit_whose_next_action_comes_first(server: Server, tmp_path: Path) -> None:
    tokens, wang, _ = team(server, tmp_path)
    cid = wang.json("customers", "add", "--name", "王芳")["id"]
    vid = wang.json("visits", "add", "--customer", cid, "--visited-at", VISITED, "--channel", "phone",
                    "--purpose", "visit", "--next-action-date", "2026-12-02")["id"]
    wang.crm("sync")
    hand = Hand(server, tokens["wang"], "wang-hand")
    visit = {"customer_id": cid, "visited_at": f"{VISITED}T10:00:00", "channel": "phone", "purpose": "visit",
             "owner": "wang"}
    said = {
        "inserted before its visit": hand.push("visits", "V1", "insert", {**visit, "next_action_date": EARLY}),
        "moved before its visit": hand.push("visits", vid, "update", {"next_action_date": EARLY}),
        "visit moved after its next action": hand.push("visits", vid, "update", {"visited_at": "2026-12-05T10:00:00"}),
        "on the visit's day": hand.push("visits", "V2", "insert", {**visit, "next_action_date": VISITED}),
    }
    assert {what: r["code"] for what, r in said.items()} == {
        "inserted before its visit": "invalid", "moved before its visit": "invalid",
        "visit moved after its next action": "invalid", "on the visit's day": "ok"}
    assert said["inserted before its visit"]["reason"].startswith(REASON)
    assert said["moved before its visit"]["reason"].startswith(REASON)
    assert said["visit moved after its next action"]["reason"].startswith(
        "next_action_date: must be on or after the visit date (2026-12-05)")
    wang.crm("sync")
    assert wang.json("visits", "show", vid)["next_action_date"] == "2026-12-02"


def test_a_pulled_visit_breaking_the_rule_is_set_aside(server: Server, tmp_path: Path) -> None:
    """Written straight into the server's log, as a server from before the rule stored
    it: the laptop sets the visit aside with its reason and applies the good one."""
    _, wang, _ = team(server, tmp_path)
    cid = wang.json("customers", "add", "--name", "王芳")["id"]
    wang.crm("sync")
    now = "2026-12-01T10:00:00.000Z"

    def row(**values: str) -> str:
        return json.dumps({"customer_id": cid, "visited_at": f"{VISITED}T10:00:00", "channel": "phone",
                           "purpose": "visit", "owner": "wang", "created_at": now, "updated_at": now, **values})

    inject(server.url_db, [("visits", "V-bad", "insert", row(next_action_date=EARLY)),
                           ("visits", "V-good", "insert", row(next_action_date="2026-12-04"))])
    assert wang.json("sync")["set_aside"] == 1
    aside = {r["row_id"]: r["reason"] for r in wang.json("sync", "set-aside")}
    assert list(aside) == ["V-bad"] and aside["V-bad"].startswith(REASON)
    assert [v["id"] for v in wang.json("visits", "list")] == ["V-good"]


def test_seeded_visits_keep_the_rule(tmp_path: Path) -> None:
    """crm seed writes through the rules (a seeded visit's step drawn before its visit
    refused the whole seed); what it writes keeps them."""
    db = tmp_path / "seed.db"
    cli(db, "seed", "--customers", "300", "--seed", "7")
    with sqlite3.connect(db) as conn:
        planned, early = conn.execute(
            "SELECT count(next_action_date), count(*) FILTER (WHERE next_action_date < substr(visited_at, 1, 10)) "
            "FROM visits").fetchone()
    assert planned > 20 and early == 0
