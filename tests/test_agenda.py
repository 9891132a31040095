"""The follow-up agenda through the API: buckets, log a visit, mark done, schedule the
next follow-up; each against a real database."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_tui.api import Crm, ValidationError
from crm_tui.api.agenda import Agenda
from crm_tui.api.history import field_history
from crm_tui.domain import agenda as rules

NOW = dt.datetime(2026, 3, 2, 9, 30)


@pytest.fixture
def agenda(crm: Crm) -> Agenda:
    return Agenda(crm, now=lambda: NOW)


def _visit(agenda: Agenda, cid: str, when: str | None, **more) -> dict:
    return agenda.log_visit({"customer_id": cid, "channel": "phone", "purpose": "visit",
                             "next_action": "回访", "next_action_date": when, **more})


def test_buckets_by_date() -> None:
    today = dt.date(2026, 3, 2)
    assert rules.bucket("2026-03-01", today) == "overdue"
    assert rules.bucket("2026-03-02", today) == "today"
    assert rules.bucket("2026-03-10", today) == "upcoming"
    assert rules.bucket("2026-04-30", today) is None
    assert rules.bucket(None, today) is None


def test_follow_ups_due_today_overdue_upcoming(agenda: Agenda, crm: Crm) -> None:
    cid = crm.customers.create({"name": "王芳"})["id"]
    overdue = _visit(agenda, cid, "2026-02-27", visited_at="2026-02-20T10:00:00")
    today = _visit(agenda, cid, "2026-03-02")
    upcoming = _visit(agenda, cid, "2026-03-05")
    _visit(agenda, cid, "2026-06-01")  # beyond the horizon
    _visit(agenda, cid, None)  # nothing to follow up
    rows = agenda.follow_ups()
    assert [(r["id"], r["bucket"]) for r in rows] == [
        (overdue["id"], "overdue"), (today["id"], "today"), (upcoming["id"], "upcoming")]
    assert rows[0]["customer_name"] == "王芳"
    assert agenda.counts() == {"overdue": 1, "today": 1, "upcoming": 1}


def test_log_visit_defaults_to_now_and_validates(agenda: Agenda, crm: Crm) -> None:
    cid = crm.customers.create({"name": "Li"})["id"]
    v = _visit(agenda, cid, "2026-03-03")
    assert v["visited_at"] == "2026-03-02T09:30:00"
    with pytest.raises(ValidationError) as err:
        agenda.log_visit({"customer_id": cid, "channel": "pigeon", "purpose": "visit"})
    assert err.value.errors[0].field == "channel"


def test_mark_done_removes_from_agenda(agenda: Agenda, crm: Crm) -> None:
    cid = crm.customers.create({"name": "Li"})["id"]
    v = _visit(agenda, cid, "2026-03-02")
    agenda.mark_done(v["id"])
    assert agenda.follow_ups() == []
    assert crm.visits.get(v["id"])["follow_up_done"] == 1
    no_follow_up = _visit(agenda, cid, None)
    with pytest.raises(ValidationError):
        agenda.mark_done(no_follow_up["id"])


def test_logging_the_follow_up_visit_closes_the_old_one_in_one_step(agenda: Agenda, crm: Crm) -> None:
    cid = crm.customers.create({"name": "Li"})["id"]
    first = _visit(agenda, cid, "2026-03-01", visited_at="2026-02-26T10:00:00")
    second = agenda.log_visit(
        {"customer_id": cid, "channel": "wechat", "purpose": "follow_up", "next_action_date": "2026-03-09"},
        follow_up_of=first["id"])
    assert [r["id"] for r in agenda.follow_ups()] == [second["id"]]
    # a failing log leaves the old follow-up pending: one transaction
    third = _visit(agenda, cid, "2026-03-02")
    with pytest.raises(ValidationError):
        agenda.log_visit({"customer_id": cid, "channel": "bad", "purpose": "visit"}, follow_up_of=third["id"])
    assert not crm.visits.get(third["id"])["follow_up_done"]


def test_schedule_next_moves_the_follow_up(agenda: Agenda, crm: Crm) -> None:
    cid = crm.customers.create({"name": "Li"})["id"]
    v = _visit(agenda, cid, "2026-02-20", visited_at="2026-02-16T10:00:00")
    moved = agenda.schedule_next(v["id"], "2026/03/04", "带样品")
    assert (moved["next_action_date"], moved["next_action"]) == ("2026-03-04", "带样品")
    assert agenda.follow_ups()[0]["bucket"] == "upcoming"
    with pytest.raises(ValidationError) as err:
        agenda.schedule_next(v["id"], "next week")
    assert err.value.errors[0].field == "next_action_date"
    history = field_history(crm, "visits", v["id"])
    moved_entry = next(e for e in history if e["field"] == "next_action_date" and e["op"] == "update")
    assert (moved_entry["old"], moved_entry["new"], moved_entry["rep"]) == ("2026-02-20", "2026-03-04", "wang")
    assert moved_entry["node"] == crm.replica["node"]
