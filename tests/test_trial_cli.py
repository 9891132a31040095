"""Defects a new user met in the command line in a trial from a fresh clone, each
driven through the real CLI and then checked in its output and the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

runner = CliRunner()


@pytest.mark.parametrize(("lang", "said"), [
    ("en", ["Acknowledged", "In progress", "In progress", "Resolved", "Closed", "In progress"]),
    ("zh", ["已受理", "处理中", "处理中", "已解决", "已关闭", "处理中"]),
])
def test_each_step_of_the_complaint_workflow_says_the_status_as_the_lists_name_it(
        crm: Crm, db_path: Path, lang: str, said: list[str]) -> None:
    """`crm complaints acknowledge …` printed the stored code: "complaint X is now
    in_progress", "投诉 X 现在是 resolved", where the list shows 处理中 / 已解决."""
    cid = crm.customers.create({"name": "张伟"})["id"]
    complaint = crm.complaints.create({"customer_id": cid, "type": "delivery", "description": "货物晚到一周",
                                       "received_at": "2026-12-01 09:00", "priority": "high", "status": "new"})["id"]
    steps = [["acknowledge"], ["assign", "王芳"], ["respond"],
             ["resolve", "--resolution", "已补发", "--root-cause", "物流外包延误"], ["close"], ["reopen"]]
    for step, status in zip(steps, said, strict=True):
        result = runner.invoke(app, ["complaints", step[0], complaint, *step[1:], "--db", str(db_path)],
                               env={"CRM_LANG": lang})
        assert result.exit_code == 0, result.output
        shown = " ".join(result.stdout.split())
        assert shown.endswith(status), shown
        assert "_" not in shown.split(complaint)[1], shown


REP_COMMANDS = [["kpi"], ["report", "--format", "csv", "-o", "{out}"], ["rfm"], ["complaint-stats"],
                ["product-stats"], ["greetings"], ["winback"], ["cadence"], ["pipeline"], ["forecast"], ["funnel"],
                ["opportunities", "stale"], ["targets", "list"]]


@pytest.mark.parametrize("command", REP_COMMANDS, ids=lambda c: c[0])
def test_a_rep_no_record_names_is_refused_by_every_command_with_rep(crm: Crm, db_path: Path, tmp_path: Path,
                                                                    command: list[str]) -> None:
    """`crm report --rep wnag` (a typo) printed a whole report of zeros with exit 0,
    as did kpi, the pipeline's and the other commands taking --rep: now an error naming the field,
    the name and the reps the book knows, exit 1, no file written."""
    crm.customers.create({"name": "张伟", "owner": "wang"})
    crm.customers.create({"name": "王芳", "owner": "li"})
    crm.pipeline.set_target("2026-Q4", "1000", rep="zhao")  # a rep with a target only is a rep
    out = tmp_path / "r.csv"
    args = [a.format(out=out) for a in command]
    for lang, said in (("en", "rep: 'wnag' owns no record of this book"), ("zh", "错误：销售代表：")):
        result = runner.invoke(app, [*args, "--rep", "wnag", "--db", str(db_path)], env={"CRM_LANG": lang})
        assert result.exit_code == 1, result.output
        assert said in result.output and "li, wang, zhao" in result.output, result.output
        assert "Traceback" not in result.output and not out.exists()
    for rep in ("li", "zhao"):
        result = runner.invoke(app, [*args, "--rep", rep, "--db", str(db_path)])
        assert result.exit_code == 0, result.output


def test_the_erase_question_counts_one_change_log_entry_in_the_singular(crm: Crm, db_path: Path) -> None:
    """'… and their values in 1 change-log entries and the search index'."""
    cid = crm.customers.create({"name": "陈静"})["id"]
    result = runner.invoke(app, ["customers", "erase", cid, "--db", str(db_path)], input="n\n")
    asked = " ".join(result.output.split())
    assert result.exit_code == 1 and "in 1 change-log entry and the search index" in asked, asked
    assert crm.customers.get(cid)["name"] == "陈静"  # answered no: nothing erased


@pytest.mark.parametrize("command", [
    ["customers", "import", "{csv}"],
    ["customers", "add", "--name", "赵敏", "--email", "not-an-email"],
    ["contacts", "import", "{csv}"],
], ids=["import", "add", "contacts-import"])
def test_a_command_refused_whole_leaves_no_new_database_behind(tmp_path: Path, command: list[str]) -> None:
    """`crm customers import bad.csv --db new.db` said "nothing imported" (exit 1) and
    left new.db behind, empty, which every later command then took for a book."""
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名,邮箱\n孙丽,not-an-email\n", encoding="utf-8")
    db = tmp_path / "new.db"
    result = runner.invoke(app, [*(a.format(csv=bad) for a in command), "--db", str(db)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("new.db")] == [], result.output
    listed = runner.invoke(app, ["customers", "list", "--db", str(db)])
    assert listed.exit_code == 1 and "no database" in listed.output, listed.output


def test_a_refused_write_keeps_a_database_that_was_there(db_path: Path, crm: Crm) -> None:
    crm.close()
    result = runner.invoke(app, ["customers", "add", "--name", "赵敏", "--email", "x", "--db", str(db_path)])
    assert result.exit_code == 1 and db_path.exists()
    empty = Crm(db_path, rep="wang")  # an empty book made before stays, refused write or not
    assert empty.customers.count() == 0
    empty.close()
