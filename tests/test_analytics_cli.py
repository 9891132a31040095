"""The analytics commands through typer's CliRunner, then a look at the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from analytics_fixture import add_deals, build
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

TODAY = ["--today", "2026-09-30"]


@pytest.fixture
def book(db_path: Path) -> dict[str, str]:
    with Crm(db_path, rep="wang") as crm:
        ids = build(crm)
        return ids | add_deals(crm, ids)


def run(db_path: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["--db", str(db_path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_classify_stores_the_classes(db_path: Path, book: dict[str, str]) -> None:
    with Crm(db_path) as crm:  # as if never classified (the columns are local: nothing is logged)
        crm.conn.execute("UPDATE customers SET status = NULL, lifecycle_stage = NULL, tier = NULL")
    out = run(db_path, "classify", "--dry-run", *TODAY)
    assert "6 customers would change" in out  # every customer on the laptop, whoever owns it
    with Crm(db_path) as crm:  # the column itself: a read through the API would bring it up to date
        stored = crm.conn.execute("SELECT status FROM customers WHERE id = ?", (book["B"],)).fetchone()[0]
        assert stored is None  # dry run: nothing stored
    out = run(db_path, "classify", *TODAY)
    assert "6 customers changed" in out
    with Crm(db_path) as crm:
        assert crm.customers.get(book["B"])["status"] == "churned"
    data = json.loads(run(db_path, "classify", "--json", *TODAY))
    assert {d["id"]: d["tier"] for d in data}[book["D"]] == "B"


def test_classify_override_and_clear(db_path: Path, book: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["--db", str(db_path), "classify", "override", book["B"], "--status", "loyal",
                                      "--reason", ""])
    assert result.exit_code == 1 and "reason" in result.output
    run(db_path, "classify", "override", book["B"], "--status", "loyal", "--reason", "contract signed")
    run(db_path, "classify", *TODAY)
    with Crm(db_path) as crm:
        assert crm.customers.get(book["B"])["status"] == "loyal"  # the override survived
    run(db_path, "classify", "clear", book["B"])
    run(db_path, "classify", *TODAY)
    with Crm(db_path) as crm:
        assert crm.customers.get(book["B"])["status"] == "churned"


def test_rfm_json_and_explain(db_path: Path, book: dict[str, str]) -> None:
    rows = json.loads(run(db_path, "rfm", "--json", *TODAY))
    assert len(rows) == 5  # every customer who has ordered
    a = next(r for r in rows if r["id"] == book["A"])
    assert (a["r"], a["f"], a["m"], a["segment"]) == (5, 4, 5, "Champions")
    assert set(a) >= {"id", "name", "r", "f", "m", "rfm", "score", "segment"}
    explained = json.loads(run(db_path, "rfm", "--explain", book["D"], "--json", *TODAY))
    assert explained["segment_rule"] == "R <= 2 and F + M >= 6"
    out = run(db_path, "rfm", "--explain", book["D"], *TODAY)
    assert "At Risk" in out and "1 + floor(5 x 1 / 5) = 2" in out
    only = json.loads(run(db_path, "rfm", "--json", "--segment", "Champions", *TODAY))
    assert {r["id"] for r in only} == {book["A"], book["F"]}
    bad = CliRunner().invoke(app, ["--db", str(db_path), "rfm", "--segment", "Whales"])
    assert bad.exit_code == 1 and "Champions" in bad.output


def test_kpi_json_and_table(db_path: Path, book: dict[str, str]) -> None:
    data = json.loads(run(db_path, "kpi", "--period", "2026-Q3", "--json", *TODAY))
    assert data["overall"]["sales"] == 7400.0 and data["previous"] == "2026-Q2"
    # attainment: 7,400 of orders + 2,600 won without an order, against the team's 20,000
    assert data["attainment"]["team"] == {"sales": 10000.0, "target": 20000.0, "attainment": 0.5}
    data = json.loads(run(db_path, "kpi", "--period", "2026-Q3", "--rep", "wang", "--json", *TODAY))
    assert [r["rep"] for r in data["reps"]] == ["wang"] and data["overall"]["sales"] == 6000.0
    table = run(db_path, "kpi", "-p", "2026-Q3", *TODAY)
    assert "retention rate" in table and "Attainment" in table and "50.0%" in table
    bad = CliRunner().invoke(app, ["--db", str(db_path), "kpi", "--period", "2026-Q7"])
    assert bad.exit_code == 1 and "period" in bad.output


def test_report_to_a_file_in_each_format(db_path: Path, book: dict[str, str], tmp_path: Path) -> None:
    for fmt in ("md", "html", "csv"):
        target = tmp_path / f"r.{fmt}"
        run(db_path, "report", "--period", "2026-Q3", "--format", fmt, "-o", str(target), *TODAY)
        assert target.stat().st_size > 500
    assert "<svg" in (tmp_path / "r.html").read_text(encoding="utf-8")
    golden = Path(__file__).parent / "golden" / "report_2026-Q3.md"
    assert (tmp_path / "r.md").read_text(encoding="utf-8") == golden.read_text(encoding="utf-8")
    assert run(db_path, "report", "-p", "2026-Q3", "--rep", "li", *TODAY).startswith(
        "# Sales and analysis report: 2026-Q3")
    bad = CliRunner().invoke(app, ["--db", str(db_path), "report", "-p", "2026-Q3", "--format", "pdf"])
    assert bad.exit_code == 1


def test_greetings_mark_sent_logs_visits(db_path: Path, book: dict[str, str]) -> None:
    run(db_path, "classify", *TODAY)
    data = json.loads(run(db_path, "greetings", "--json", *TODAY))
    assert len(data["greetings"]) == 5 and data["logged"] == 0
    data = json.loads(run(db_path, "greetings", "--holiday", "National Day", "--mark-sent", "--json", *TODAY))
    assert data["logged"] == 4
    with Crm(db_path) as crm:
        notes = [v["notes"] for v in crm.visits.find() if v["purpose"] == "holiday_greeting"]
    assert notes == ["greeting: National Day 2026-10-01"] * 4
    left = json.loads(run(db_path, "greetings", "--json", *TODAY))
    assert [g["occasion"] for g in left["greetings"]] == ["Birthday"]


def test_a_greeting_logged_in_chinese_reads_chinese_and_counts_as_sent_in_english(
        db_path: Path, book: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The note a sent greeting leaves in the visit is written in the user's language
    (问候：国庆节 …, not 'greeting: National Day …'), and a laptop reading another
    language still knows those greetings were sent (the team's reps may differ)."""
    run(db_path, "classify", *TODAY)
    monkeypatch.setenv("CRM_LANG", "zh")
    data = json.loads(run(db_path, "greetings", "--holiday", "国庆节", "--mark-sent", "--json", *TODAY))  # its Chinese name
    assert data["logged"] == 4
    with Crm(db_path) as crm:
        notes = [v["notes"] for v in crm.visits.find() if v["purpose"] == "holiday_greeting"]
    assert notes == ["问候：国庆节 2026-10-01"] * 4
    unknown = CliRunner().invoke(app, ["--db", str(db_path), "greetings", "--holiday", "圣诞节", *TODAY])
    assert unknown.exit_code == 1 and "春节，元宵节" in unknown.output, unknown.output  # the calendar in Chinese
    for lang in ("zh", "en"):
        monkeypatch.setenv("CRM_LANG", lang)
        left = json.loads(run(db_path, "greetings", "--json", *TODAY))
        assert [g["occasion"] for g in left["greetings"]] == ["Birthday"], lang


def test_winback_and_cadence(db_path: Path, book: dict[str, str]) -> None:
    assert [w["id"] for w in json.loads(run(db_path, "winback", "--json", *TODAY))] == [book["B"]]
    run(db_path, "classify", *TODAY)
    overdue = json.loads(run(db_path, "cadence", "--state", "overdue", "--json", *TODAY))
    assert {c["id"] for c in overdue} == {book["B"], book["F"]}
    assert "overdue" in run(db_path, "cadence", *TODAY)


def test_complaint_stats(db_path: Path, book: dict[str, str]) -> None:
    data = json.loads(run(db_path, "complaint-stats", "--period", "2026-Q3", "--json", *TODAY))
    assert data["by_type"][0] == {"key": "delivery", "count": 3, "share": 0.75, "cumulative": 0.75, "vital": True}
    data = json.loads(run(db_path, "complaint-stats", "-p", "2026-Q3", "--region", "华南", "--json", *TODAY))
    assert data["complaints"] == 1


def test_surveys_add_and_list(db_path: Path, book: dict[str, str]) -> None:
    survey = run(db_path, "surveys", "add", book["E"], "--expected", "8", "--perceived", "6", "--date", "2026-09-01")
    with Crm(db_path) as crm:
        rows = crm.analytics.list_surveys(book["E"])
    assert [(r["id"], r["expected"], r["perceived"], r["surveyed_at"]) for r in rows] == [
        (survey.strip(), 8.0, 6.0, "2026-09-01")]
    data = json.loads(run(db_path, "surveys", "list", "--json"))
    assert data["count"] == 4
    # the table names the customer, and writes every C with three decimals, as the report does
    with Crm(db_path) as crm:
        name = crm.customers.get(book["E"])["name"]
    table = run(db_path, "surveys", "list", "--customer", book["E"])
    assert name in table and "0.750" in table and "overall satisfaction C = 0.750" in table
    assert "dissatisfied" in table
    # said in Chinese: the verdict as the list names it
    run(db_path, "surveys", "add", book["E"], "-a", "8", "-b", "9")
    chinese = CliRunner().invoke(app, ["--db", str(db_path), "surveys", "list", "--customer", book["E"]],
                                 env={"CRM_LANG": "zh"})
    assert "1.125" in chinese.stdout and "超出期望" in chinese.stdout and "delighted" not in chinese.stdout
    bad = CliRunner().invoke(app, ["--db", str(db_path), "surveys", "add", book["E"], "-a", "0", "-b", "3"])
    assert bad.exit_code == 1 and "expected" in bad.output


def test_value(db_path: Path, book: dict[str, str]) -> None:
    data = json.loads(run(db_path, "value", book["A"], "--json", *TODAY))
    assert (data["historical"], data["clv"]) == (10000.0, 34868.52)  # see test_customer_value_and_loyalty
    # the table names the customer and each figure, in the user's language, as money
    table = run(db_path, "value", book["A"], *TODAY)
    figures = {line.split("  ")[0].strip(): line.split()[-1] for line in table.splitlines() if line.strip()}
    assert (figures["lifetime value (CLV)"], figures["historical value (all orders)"]) == ("34,868.52", "10,000.00")
    with Crm(db_path) as crm:
        assert crm.customers.get(book["A"])["name"] in table
    chinese = CliRunner().invoke(app, ["--db", str(db_path), "value", book["A"], *TODAY], env={"CRM_LANG": "zh"})
    assert "客户终身价值（CLV）" in chinese.stdout and "34,868.52" in chinese.stdout and "clv" not in chinese.stdout


def test_kpi_and_report_counts_are_thousands_separated(db_path: Path, tmp_path: Path) -> None:
    """`crm kpi` and the report wrote counts bare (1205 customers) beside amounts
    written 7,400.00 and the lists' counts 14,674: every count now reads 1,205, in the
    table, the Markdown report and each rep's row."""
    rows = "".join(f"客户{i},139{i:08d}\n" for i in range(1205))
    (tmp_path / "book.csv").write_text("name,mobile\n" + rows, encoding="utf-8")
    run(db_path, "customers", "import", str(tmp_path / "book.csv"))
    import datetime as dt

    today = dt.date.today().isoformat()  # the current month: every report's default period
    with Crm(db_path, rep="wang") as crm:
        cid = crm.customers.find(limit=1)[0]["id"]
        for _ in range(1003):
            crm.visits.create({"customer_id": cid, "visited_at": f"{today}T00:00:00", "channel": "phone",
                               "purpose": "visit"})
    data = json.loads(run(db_path, "kpi", "--json"))
    assert data["overall"]["customers"] == 1205 and {r["rep"]: r["visits"] for r in data["reps"]}["wang"] == 1003
    table = run(db_path, "kpi")
    assert "1,205" in table and "1,003" in table and "1205" not in table and "1003" not in table, table
    run(db_path, "report", "--format", "md", "-o", str(tmp_path / "r.md"))
    report = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "| 1,205 |" in report and "| 1,003 |" in report and "1205" not in report, report[:2000]

