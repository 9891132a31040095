"""Periods that count right: customer counts use when the customer became one
(imported customer_since, else first order or visit, else creation), period bounds
are the user's local dates, and the report's headline figures agree on seeded data."""

from __future__ import annotations

import datetime as dt
import json
import os
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.api.seed import seed
from crm_tui.cli import app
from crm_tui.db.connection import transaction

runner = CliRunner()


@pytest.fixture
def beijing(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_customer_made_at_0730_beijing_time_on_1_october_counts_in_q4(crm: Crm, beijing: None) -> None:
    record = crm.customers.prepare({"name": "早起的客户"})
    record["created_at"] = record["updated_at"] = "2026-09-30T23:30:00.000Z"  # 07:30 on 1 Oct in Beijing
    with transaction(crm.conn):
        crm.customers.insert_prepared([record])
    q3 = crm.analytics.kpis("2026-Q3")["overall"]
    q4 = crm.analytics.kpis("2026-Q4")["overall"]
    assert (q3["customers"], q3["new_customers"]) == (0, 0)
    assert (q4["customers_at_start"], q4["customers"], q4["new_customers"]) == (0, 1, 1)


def test_an_imported_history_gives_correct_past_periods(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    csv = tmp_path / "history.csv"
    csv.write_text(textwrap.dedent("""\
        姓名,手机,成为客户日期
        老客户甲,13800000001,2019-03-01
        老客户乙,13800000002,2021-06-15
        新客户丙,13800000003,
        """), encoding="utf-8")
    result = runner.invoke(app, ["customers", "import", "--db", str(db_path), str(csv)])
    assert result.exit_code == 0, result.output
    since = {c["name"]: c["customer_since"] for c in crm.customers.find()}
    assert since == {"老客户甲": "2019-03-01", "老客户乙": "2021-06-15", "新客户丙": None}
    # 丙 has no date but ordered in 2022: a customer from that order on
    cid = next(c["id"] for c in crm.customers.find() if c["name"] == "新客户丙")
    crm.orders.create({"customer_id": cid, "ordered_at": "2022-05-01", "product": "茶", "amount": 100})
    kpi = {year: crm.analytics.kpis(str(year))["overall"] for year in (2019, 2021, 2022)}
    assert [(k["customers_at_start"], k["customers"], k["new_customers"]) for k in kpi.values()] == [
        (0, 1, 1), (1, 2, 1), (2, 3, 1)]


def test_the_reports_headline_figures_agree_on_seeded_data(crm: Crm) -> None:
    seed(crm, customers=300, seed=5, today=dt.date(2026, 11, 15))
    for period in ("2026-Q3", "2026-Q2", "2025"):
        overall = crm.analytics.kpis(period)["overall"]
        assert overall["active_customers"] <= overall["customers"], period
        assert overall["customers_at_start"] <= overall["customers"], period
        assert overall["new_customers"] == overall["customers"] - overall["customers_at_start"] >= 0
        assert overall["retained"] <= min(overall["active_customers"], overall["active_previous"])
    assert crm.analytics.kpis("2026-Q3")["overall"]["customers"] > 0
    assert os.environ.get("TZ") != "Asia/Shanghai"  # the fixture above put the zone back


def test_every_report_without_a_period_covers_the_current_month(crm: Crm, db_path: Path) -> None:
    # crm report (and kpi, complaint-stats, product-stats, forecast) required --period;
    # none given, each covers the month of today (--today here), as its --help says.
    for command in (["kpi"], ["complaint-stats"], ["product-stats"], ["forecast"]):
        result = runner.invoke(app, [*command, "--today", "2026-03-15", "--json", "--db", str(db_path)])
        assert result.exit_code == 0, (command, result.output)
        assert json.loads(result.stdout)["period"] == "2026-03", command
    report = runner.invoke(app, ["report", "--today", "2026-03-15", "--db", str(db_path)])
    assert report.exit_code == 0 and "2026-03-01 to 2026-03-31" in report.stdout, report.output
    before = dt.date.today()
    funnel = runner.invoke(app, ["funnel", "--json", "--db", str(db_path)])  # the clock's month
    months = {f"{day.year}-{day.month:02d}" for day in (before, dt.date.today())}
    assert funnel.exit_code == 0 and json.loads(funnel.stdout)["period"] in months, funnel.output
    help_text = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "200"}).stdout
    assert "default: the current month" in help_text
    refused = runner.invoke(app, ["targets", "set", "--team", "--amount", "1000", "--db", str(db_path)])
    assert refused.exit_code == 2 and "--period" in refused.output  # a target names its period
