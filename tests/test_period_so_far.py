"""The report for the period running today: on 2 December, December's figures are
those of 1-2 December, its sales are compared with 1-2 November (not the whole of
November), and retention and churn are not reported until December ends (they read
"churn 75%" on its second day, when last month's buyers simply had not ordered
again yet). One rule (domain.analytics.kpi.measured_period) serves crm kpi and the
report; checked with a fixed today through the CLI, in English and Chinese."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cli_steps import runner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.domain.analytics.kpi import measured_period
from crm_tui.domain.analytics.period import parse_period

pytestmark = pytest.mark.usefixtures("wide_terminal")


@pytest.fixture
def book(crm: Crm) -> Crm:
    """Four customers who bought in November; one bought again on 1 December, another
    has an order dated 15 December."""
    ids = [crm.customers.create({"name": name, "customer_since": "2026-01-01"})["id"]
           for name in ("张伟", "李娜", "王芳", "赵敏")]
    for cid, day in zip(ids, ("2026-11-01", "2026-11-02", "2026-11-10", "2026-11-20"), strict=True):
        crm.orders.create({"customer_id": cid, "ordered_at": day, "product": "茶", "amount": 100})
    crm.orders.create({"customer_id": ids[0], "ordered_at": "2026-12-01", "product": "茶", "amount": 50})
    crm.orders.create({"customer_id": ids[1], "ordered_at": "2026-12-15", "product": "茶", "amount": 70})
    return crm


def cli(db: Path, *args: str, lang: str = "en") -> str:
    result = runner.invoke(app, [*args, "--db", str(db)], env={"CRM_LANG": lang})
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_running_month_is_measured_so_far_without_churn(book: Crm, db_path: Path) -> None:
    kpi = json.loads(cli(db_path, "kpi", "--today", "2026-12-02", "--json"))
    o = kpi["overall"]
    assert (kpi["period"], kpi["so_far"], kpi["as_of"], kpi["previous"]) == (
        "2026-12", True, "2026-12-02", "2026-11-01..2026-11-02")
    assert o["retention_rate"] is None and o["churn_rate"] is None
    assert (o["active_previous"], o["retained"], o["active_customers"]) == (4, 1, 1)
    # 1-2 December against 1-2 November; the order dated 15 December is not in yet
    assert (o["sales"], o["sales_previous"], o["orders"]) == (50.0, 200.0, 1)
    assert o["sales_growth"] == pytest.approx(-0.75)


def test_the_same_month_once_over_has_its_churn(book: Crm, db_path: Path) -> None:
    kpi = json.loads(cli(db_path, "kpi", "--period", "2026-12", "--today", "2027-01-05", "--json"))
    o = kpi["overall"]
    assert (kpi["so_far"], kpi["as_of"], kpi["previous"]) == (False, "2026-12-31", "2026-11")
    assert (o["retained"], o["retention_rate"], o["churn_rate"]) == (2, 0.5, 0.5)
    assert (o["sales"], o["sales_previous"]) == (120.0, 400.0)


def test_the_kpi_table_and_the_report_say_so_far(book: Crm, db_path: Path) -> None:
    table = cli(db_path, "kpi", "--today", "2026-12-02")
    assert "2026-12 so far" in table and "known after 2026-12-31" in table
    churn = next(line for line in table.splitlines() if "churn" in line)
    assert "known after 2026-12-31" in churn and "%" not in churn
    assert "2026-12 is not over: figures up to 2026-12-02" in " ".join(table.split())
    report = cli(db_path, "report", "--today", "2026-12-02", "--format", "md")
    assert report.startswith("# Sales and analysis report: 2026-12 so far")
    assert "| Churn rate | known after 2026-12-31 |" in report
    zh = cli(db_path, "report", "--today", "2026-12-02", "--format", "md", lang="zh")
    assert "2026-12（至今）" in zh and "2026-12-31 之后才有" in zh and "同期（2026-11-01..2026-11-02）" in zh
    csv = cli(db_path, "report", "--today", "2026-12-02", "--format", "csv")
    assert "report,period,so_far,1" in csv and "kpi,overall,churn_rate,\n" in csv
    over = cli(db_path, "report", "--period", "2026-11", "--today", "2026-12-02", "--format", "md")
    assert "so far" not in over and "known after" not in over


@pytest.mark.parametrize(("period", "today", "measured", "compared"), [
    ("2026-03", "2026-03-30", "2026-03-01..2026-03-30", "2026-02-01..2026-02-28"),  # a longer month: capped
    ("2026-Q4", "2026-12-02", "2026-10-01..2026-12-02", "2026-07-01..2026-09-01"),
    ("2026", "2026-01-01", "2026-01-01..2026-01-01", "2025-01-01..2025-01-01"),
])
def test_an_unfinished_period_is_compared_with_as_many_days_of_the_previous(period: str, today: str, measured: str,
                                                                             compared: str) -> None:
    m = measured_period(parse_period(period), dt.date.fromisoformat(today))
    assert not m.over
    assert f"{m.measured.start}..{m.measured.end}" == measured
    assert f"{m.compared.start}..{m.compared.end}" == compared
    assert measured_period(parse_period(period), dt.date.fromisoformat(today) + dt.timedelta(days=400)).over
    assert measured_period(parse_period(period), parse_period(period).end).over  # its last day counts it whole
