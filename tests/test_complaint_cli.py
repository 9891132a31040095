"""The complaint workflow from the command line, and the API refusing to move a
complaint around its workflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm, ValidationError
from crm_tui.cli import app

runner = CliRunner()


def crm_cli(db: Path, *args: str) -> dict:
    result = runner.invoke(app, [*args[:2], "--db", str(db), *args[2:], "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_complaint_from_new_to_closed_plans_a_satisfaction_follow_up(crm: Crm, db_path: Path) -> None:
    customer = crm.customers.create({"name": "刘洋"})
    opened = crm_cli(db_path, "complaints", "add", "--customer", customer["id"], "--type", "delivery",
                     "--description", "货物晚到一周", "--priority", "high")
    assert opened["status"] == "new" and opened["due_at"]
    cid = opened["id"]
    assert crm_cli(db_path, "complaints", "acknowledge", cid)["status"] == "acknowledged"
    assert crm_cli(db_path, "complaints", "assign", cid, "李强")["handler"] == "李强"
    assert crm_cli(db_path, "complaints", "respond", cid)["first_response_at"]

    refused = runner.invoke(app, ["complaints", "resolve", "--db", str(db_path), cid,
                                  "--resolution", "补发", "--root-cause", " "])
    assert refused.exit_code == 1 and "root_cause" in refused.output
    resolved = crm_cli(db_path, "complaints", "resolve", cid, "--resolution", "已补发", "--root-cause", "物流外包延误")
    assert resolved["status"] == "resolved"
    closed = crm_cli(db_path, "complaints", "close", cid)
    assert closed["status"] == "closed" and closed["closed_at"]

    # the satisfaction follow-up is on the agenda, not a visit (tests/test_complaint_follow_up.py)
    assert crm.visits.count() == 0
    agenda = crm_cli(db_path, "agenda")
    assert [(r["kind"], r["id"]) for r in agenda] == [("complaint", cid)]
    assert agenda[0]["next_action_date"] > closed["closed_at"][:10]

    assert crm_cli(db_path, "complaints", "reopen", cid)["status"] == "in_progress"
    again = runner.invoke(app, ["complaints", "close", "--db", str(db_path), cid])
    assert again.exit_code == 1 and "status" in again.output  # in progress cannot close


def test_editing_a_complaints_status_directly_is_refused(crm: Crm, db_path: Path) -> None:
    customer = crm.customers.create({"name": "Grace"})
    complaint = crm.complaint_workflow.open({"customer_id": customer["id"], "type": "price",
                                             "description": "invoice differs", "priority": "low"})
    with pytest.raises(ValidationError) as err:
        crm.complaints.update(complaint["id"], {"status": "closed", "cause": "price list"})
    assert [e.field for e in err.value.errors] == ["status"]
    with pytest.raises(ValidationError):
        crm.complaints.bulk_update([], {"closed_at": "2026-11-01 10:00"})
    # an edit that leaves the status as it is goes through
    assert crm.complaints.update(complaint["id"], {"status": "new", "cause": "price list"})["cause"] == "price list"
    edit = runner.invoke(app, ["complaints", "edit", "--db", str(db_path), complaint["id"], "--status", "resolved"])
    assert edit.exit_code == 1 and "workflow" in edit.output
    assert crm.complaints.get(complaint["id"])["status"] == "new"


def test_the_complaint_list_on_80_columns_shows_where_each_stands(crm: Crm, db_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow terminal keeps the list's first columns: a complaint's customer, status
    and priority come before when it was received (they were left out for width)."""
    from crm_tui.cli import common

    monkeypatch.setattr(common.console, "_width", 80)
    customer = crm.customers.create({"name": "刘洋"})
    crm.complaint_workflow.open({"customer_id": customer["id"], "type": "product_quality", "priority": "urgent",
                                 "description": "漏水"})
    listed = runner.invoke(app, ["complaints", "list", "--db", str(db_path)])
    header = listed.stdout.splitlines()[2]
    assert [word in header for word in ("customer name", "status", "priority")] == [True] * 3, listed.stdout
    assert "urgent" in listed.stdout and "new" in listed.stdout
