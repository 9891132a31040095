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
