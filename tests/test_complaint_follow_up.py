"""A closed complaint's satisfaction follow-up is planned, not a visit made. Closing
wrote a phone "visit" dated at the closing, so `crm kpi` counted a visit (拜访 1) that
nobody made, and the customer's last contact moved to the closing. It is now on the
agenda, in the dashboard's counts and in the KPIs' follow-ups due, from one definition
(crm_tui.db.analytics.SATISFACTION_FOLLOW_UPS), and done by a contact or a survey."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cli_steps import run

from crm_tui.api import Crm

# The day the complaints are made: the database stamps a record's creation with the
# real time, and only a complaint closed while it was in the book is followed up.
DAY = dt.date.today()


PERIOD = f"{DAY.year}"  # the year of the follow-up (a test run in late December: the year after)
if (DAY + dt.timedelta(days=4)).year != DAY.year:
    PERIOD = f"{DAY.year + 1}"


def day(n: int) -> str:
    return (DAY + dt.timedelta(days=n)).isoformat()


class Clock:
    def __init__(self, at: str) -> None:
        self.at = dt.datetime.fromisoformat(at)

    def __call__(self) -> dt.datetime:
        return self.at

    def set(self, at: str) -> None:
        self.at = dt.datetime.fromisoformat(at)


@pytest.fixture
def clock() -> Clock:
    return Clock(f"{day(0)}T09:00:00")


@pytest.fixture
def book(db_path: Path, clock: Clock):
    crm = Crm(db_path, rep="li", now=clock)
    yield crm
    crm.close()


def closed_complaint(crm: Crm, clock: Clock, customer_id: str) -> dict:
    flow = crm.complaint_workflow
    complaint = flow.open({"customer_id": customer_id, "type": "delivery", "description": "货物晚到一周",
                           "priority": "high"})
    flow.resolve(complaint["id"], "已补发", "物流外包延误")
    clock.set(f"{day(1)}T10:00:00")
    return flow.close(complaint["id"])


def li(kpis: dict) -> dict:
    return next((r for r in kpis["reps"] if r["rep"] == "li"), {"visits": 0, "follow_ups_due": 0,
                                                                "follow_ups_done": 0})


def test_closing_a_complaint_plans_its_follow_up_and_logs_no_visit(book: Crm, clock: Clock) -> None:
    customer = book.customers.create({"name": "刘洋"})
    complaint = closed_complaint(book, clock, customer["id"])
    assert book.visits.count() == 0  # nobody met or called the customer
    facts = {f.id: f for f in book.analytics.facts(DAY + dt.timedelta(days=1))}
    assert facts[customer["id"]].days_since_contact is None

    clock.set(f"{day(4)}T08:00:00")  # closed on day 1, + 3 days (satisfaction_follow_up_days)
    [row] = book.agenda.items()
    assert (row["kind"], row["id"], row["customer_name"], row["next_action_date"], row["bucket"]) == (
        "complaint", complaint["id"], "刘洋", day(4), "today")
    assert book.agenda.counts()["today"] == 1
    assert book.analytics.dashboard_data()["agenda"]["follow_ups_today"] == 1
    kpis = li(book.analytics.kpis(PERIOD))
    assert (kpis["visits"], kpis["follow_ups_due"], kpis["follow_ups_done"]) == (0, 1, 0)

    # the call the rep makes answers it: now a visit is made, and the follow-up done
    clock.set(f"{day(4)}T15:00:00")
    book.agenda.log_visit({"customer_id": customer["id"], "channel": "phone", "purpose": "follow_up"})
    assert book.agenda.items() == []
    assert book.analytics.dashboard_data()["agenda"]["follow_ups_today"] == 0
    kpis = li(book.analytics.kpis(PERIOD))
    assert (kpis["visits"], kpis["follow_ups_due"], kpis["follow_ups_done"]) == (1, 1, 1)
    # the report's per-rep figures are the KPIs' own
    [rep] = [r for r in book.analytics.report_data(PERIOD)["kpis"]["reps"] if r["rep"] == "li"]
    assert (rep["visits"], rep["follow_ups_due"], rep["follow_ups_done"]) == (1, 1, 1)


def test_a_survey_of_the_complaint_answers_its_follow_up(book: Crm, clock: Clock) -> None:
    customer = book.customers.create({"name": "王芳"})
    complaint = closed_complaint(book, clock, customer["id"])
    clock.set(f"{day(6)}T09:00:00")
    assert [(r["id"], r["bucket"]) for r in book.agenda.items()] == [(complaint["id"], "overdue")]
    assert book.analytics.dashboard_data()["agenda"]["follow_ups_overdue"] == 1
    book.analytics.add_survey({"customer_id": customer["id"], "expected": 8, "perceived": 9,
                               "complaint_id": complaint["id"], "surveyed_at": day(3)})
    assert book.agenda.items() == []
    assert book.visits.count() == 0


def test_a_reopened_complaint_has_no_follow_up(book: Crm, clock: Clock) -> None:
    customer = book.customers.create({"name": "赵敏"})
    complaint = closed_complaint(book, clock, customer["id"])
    book.complaint_workflow.reopen(complaint["id"])
    clock.set(f"{day(4)}T08:00:00")
    assert book.agenda.items() == []


def test_a_complaint_imported_already_closed_is_history_not_a_plan(book: Crm, clock: Clock, db_path: Path,
                                                                  tmp_path: Path) -> None:
    customer = book.customers.create({"name": "李娜"})
    rows = tmp_path / "complaints.csv"
    rows.write_text("customer_id,type,description,priority,status,received_at,resolution,root_cause,"
                    "resolved_at,closed_at\n"
                    f"{customer['id']},delivery,晚到,high,closed,2026-10-01 09:00,已补发,物流,"
                    "2026-10-02 09:00,2026-10-03 09:00\n", encoding="utf-8")
    run(db_path, "complaints", "import", str(rows))
    assert [c["status"] for c in book.complaints.find()] == ["closed"]
    assert book.agenda.items() == []
    assert book.analytics.dashboard_data()["agenda"]["follow_ups_overdue"] == 0



@pytest.mark.anyio
async def test_the_agenda_screen_shows_it_and_leaves_it_to_a_contact(book: Crm, clock: Clock) -> None:
    """F3 lists the follow-up; d and n, which act on a visit's next action, say how a
    complaint's is done and change nothing; l logs the call, which answers it."""
    from pilot_steps import settle

    from crm_tui.app import CrmApp
    from crm_tui.screens.agenda import AgendaScreen
    from crm_tui.screens.form import FormScreen

    customer = book.customers.create({"name": "刘洋"})
    closed_complaint(book, clock, customer["id"])
    clock.set(f"{day(4)}T08:00:00")
    app = CrmApp(crm=book, config={}, lang="en", now=clock)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
        rows = app.screen.table.rows_loaded()
        assert [(r["customer_name"], r["bucket"], r["next_action"]) for r in rows] == [
            ("刘洋", "today", "satisfaction survey after the complaint")]
        for key in ("d", "n"):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, AgendaScreen)
            assert any("log the call" in str(n.message) for n in app._notifications)
            app.clear_notifications()
        assert book.visits.count() == 0
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
        assert app.screen.table.total == 0
    [visit] = book.visits.find()
    assert visit["customer_id"] == customer["id"]
