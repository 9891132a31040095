"""`crm agenda` and `crm visits done|reschedule`: the Agenda screen's list and keys from
the command line, on a real database, against the same API call the screen makes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

runner = CliRunner()


def crm_cli(db: Path, *args: str, ok: bool = True):
    result = runner.invoke(app, [*args, "--db", str(db)])
    assert (result.exit_code == 0) == ok, result.output
    return result


def day(offset: int) -> str:
    return (dt.date.today() + dt.timedelta(days=offset)).isoformat()


@pytest.fixture
def book(crm: Crm) -> dict[str, str]:
    wang = crm.customers.create({"name": "王芳"})["id"]
    li = crm.customers.create({"name": "李强"})["id"]

    def visit(cid: str, when: str | None, action: str) -> str:
        # visited a week ago, so that a follow-up can be overdue (never before its visit)
        return crm.agenda.log_visit({"customer_id": cid, "channel": "phone", "purpose": "visit",
                                     "visited_at": f"{day(-7)}T10:00:00",
                                     "next_action": action, "next_action_date": when})["id"]

    ids = {"overdue": visit(wang, day(-2), "寄送样品"), "today": visit(li, day(0), "电话回访"),
           "upcoming": visit(wang, day(3), "发送报价单"), "later": visit(li, day(30), "年度回顾"),
           "none": visit(li, None, "")}
    ids["deal"] = crm.opportunities.create({"customer_id": li, "title": "泵站改造", "amount": 50000,
                                            "stage": "qualified", "close_date": day(-5)})["id"]
    return ids | {"wang": wang, "li": li}


def test_the_agenda_lists_what_the_screen_lists(crm: Crm, db_path: Path, book: dict[str, str]) -> None:
    rows = json.loads(crm_cli(db_path, "agenda", "--json").stdout)
    assert [(r["id"], r["bucket"]) for r in rows] == [
        (book["overdue"], "overdue"), (book["today"], "today"), (book["upcoming"], "upcoming"),
        (book["deal"], "stale")]
    assert rows == json.loads(json.dumps(crm.agenda.items()))  # the screen's own call
    assert rows[3]["next_action"] == "泵站改造: deal past its close date"  # the deal first: a narrow column keeps it
    # further ahead, and one customer's
    ahead = json.loads(crm_cli(db_path, "agenda", "--days", "40", "--json").stdout)
    assert book["later"] in [r["id"] for r in ahead]
    wang = json.loads(crm_cli(db_path, "agenda", "--customer", "王芳", "--json").stdout)
    assert [r["id"] for r in wang] == [book["overdue"], book["upcoming"]]
    table = crm_cli(db_path, "agenda").stdout
    assert "agenda: 1 overdue, 1 today, 1 upcoming, 1 stale deal" in table
    assert book["overdue"] in table and "寄送样品" in table
    refused = crm_cli(db_path, "agenda", "--days", "-1", ok=False)
    assert "--days" in refused.output


def test_done_and_reschedule_as_the_screen_s_keys(crm: Crm, db_path: Path, book: dict[str, str]) -> None:
    said = crm_cli(db_path, "visits", "done", book["today"]).stdout
    assert f"follow-up of visit {book['today']} done" in said
    assert crm.visits.get(book["today"])["follow_up_done"] == 1
    moved = json.loads(crm_cli(db_path, "visits", "reschedule", book["overdue"], "--date", day(5),
                               "--action", "再次寄送样品", "--json").stdout)
    assert (moved["next_action_date"], moved["next_action"]) == (day(5), "再次寄送样品")
    rows = json.loads(crm_cli(db_path, "agenda", "--json").stdout)
    assert [(r["id"], r["bucket"]) for r in rows if r["bucket"] != "stale"] == [
        (book["upcoming"], "upcoming"), (book["overdue"], "upcoming")]
    # bad input: a date that is none, a visit without a follow-up, a deal's id; nothing written
    before = len(crm.changes())
    bad = crm_cli(db_path, "visits", "reschedule", book["upcoming"], "--date", "2026-13-01", ok=False)
    assert "next_action_date" in bad.stderr and "not a date" in bad.stderr
    assert "follow_up_done" in crm_cli(db_path, "visits", "done", book["none"], ok=False).stderr
    assert "no visit" in crm_cli(db_path, "visits", "done", book["deal"], ok=False).stderr
    assert len(crm.changes()) == before
