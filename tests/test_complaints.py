"""The complaint workflow: allowed and forbidden transitions, required resolution, SLA
due times, through the API against a real database."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_tui.api import Crm, ValidationError
from crm_tui.api.complaints import ComplaintWorkflow
from crm_tui.api.history import field_history
from crm_tui.domain import complaints as rules

NOW = dt.datetime(2026, 3, 2, 9, 0, 0)


@pytest.fixture
def flow(crm: Crm) -> ComplaintWorkflow:
    return ComplaintWorkflow(crm, now=lambda: NOW)


@pytest.fixture
def customer(crm: Crm) -> dict:
    return crm.customers.create({"name": "张伟", "company": "华东贸易"})


def _open(flow: ComplaintWorkflow, customer: dict, priority: str = "high") -> dict:
    return flow.open({"customer_id": customer["id"], "type": "delivery", "priority": priority,
                      "description": "货物迟到三天"})


def test_new_complaint_gets_status_and_sla_due(flow: ComplaintWorkflow, customer: dict) -> None:
    c = _open(flow, customer, "urgent")
    assert c["status"] == "new"
    assert c["received_at"] == "2026-03-02T09:00:00"
    assert c["due_at"] == "2026-03-02T13:00:00"  # urgent: 4 hours
    assert flow.first_response_due(c) == "2026-03-02T10:00:00"
    low = _open(flow, customer, "low")
    assert low["due_at"] == "2026-03-09T09:00:00"  # low: 7 days


def test_full_workflow_new_to_closed_stamps_each_step(flow: ComplaintWorkflow, crm: Crm, customer: dict) -> None:
    c = _open(flow, customer)
    c = flow.acknowledge(c["id"])
    assert (c["status"], c["acknowledged_at"]) == ("acknowledged", "2026-03-02T09:00:00")
    c = flow.record_first_response(c["id"])
    assert c["first_response_at"] == "2026-03-02T09:00:00"
    c = flow.assign(c["id"], "李娜")
    assert (c["status"], c["handler"]) == ("in_progress", "李娜")
    c = flow.resolve(c["id"], "补发货物", "仓库排班不足")
    assert (c["status"], c["resolved_at"]) == ("resolved", "2026-03-02T09:00:00")
    c = flow.close(c["id"])
    assert (c["status"], c["closed_at"]) == ("closed", "2026-03-02T09:00:00")
    stored = crm.complaints.get(c["id"])
    assert stored["status"] == "closed" and stored["resolution"] == "补发货物"
    statuses = [e["new"] for e in field_history(crm, "complaints", c["id"]) if e["field"] == "status"]
    assert statuses == ["closed", "resolved", "in_progress", "acknowledged", "new"]


@pytest.mark.parametrize("path,forbidden", [
    ([], "closed"),                       # new -> closed
    (["acknowledge"], "acknowledged"),    # acknowledged -> acknowledged
    (["start"], "acknowledged"),          # in_progress back to acknowledged
    (["start"], "closed"),                # in_progress -> closed without resolving
])
def test_forbidden_transitions_are_refused_and_change_nothing(flow, crm, customer, path, forbidden) -> None:
    c = _open(flow, customer)
    for step in path:
        c = getattr(flow, step)(c["id"])
    before = crm.complaints.get(c["id"])
    action = {"closed": flow.close, "acknowledged": flow.acknowledge}[forbidden]
    with pytest.raises(ValidationError) as err:
        action(c["id"])
    assert err.value.errors[0].field == "status"
    assert crm.complaints.get(c["id"]) == before


def test_resolve_needs_resolution_and_root_cause(flow: ComplaintWorkflow, crm: Crm, customer: dict) -> None:
    c = flow.start(_open(flow, customer)["id"])
    with pytest.raises(ValidationError) as err:
        flow.resolve(c["id"], "  ", None)
    assert {e.field for e in err.value.errors} == {"resolution", "root_cause"}
    assert crm.complaints.get(c["id"])["status"] == "in_progress"


def test_reopen_only_from_resolved_or_closed(flow: ComplaintWorkflow, customer: dict) -> None:
    c = _open(flow, customer)
    with pytest.raises(ValidationError):
        flow.reopen(c["id"])
    c = flow.resolve(c["id"], "退款", "价格错误")
    assert c["first_response_at"] == "2026-03-02T09:00:00"  # resolving answered the customer
    c = flow.close(c["id"])
    c = flow.reopen(c["id"])
    assert c["status"] == "in_progress" and c["closed_at"] is None and c["resolved_at"] is None
    with pytest.raises(ValidationError):
        flow.reopen(c["id"])


def test_closed_complaint_cannot_be_assigned_or_answered(flow: ComplaintWorkflow, customer: dict) -> None:
    c = flow.close(flow.resolve(_open(flow, customer)["id"], "ok", "cause")["id"])
    with pytest.raises(ValidationError):
        flow.assign(c["id"], "王")
    with pytest.raises(ValidationError):
        flow.record_first_response(c["id"])


def test_open_refuses_workflow_fields(flow: ComplaintWorkflow, customer: dict) -> None:
    with pytest.raises(ValidationError) as err:
        flow.open({"customer_id": customer["id"], "type": "price", "priority": "low",
                   "description": "x", "status": "closed"})
    assert err.value.errors[0].field == "status"


def test_queue_orders_by_priority_then_due_and_names_customers(flow: ComplaintWorkflow, customer: dict) -> None:
    low = _open(flow, customer, "low")
    urgent = _open(flow, customer, "urgent")
    medium = _open(flow, customer, "medium")
    flow.close(flow.resolve(medium["id"], "done", "cause")["id"])
    queue = flow.queue("open")
    assert [c["id"] for c in queue] == [urgent["id"], low["id"]]
    assert queue[0]["customer_name"] == "张伟"
    assert [c["id"] for c in flow.queue("closed")] == [medium["id"]]
    assert len(flow.queue(None)) == 3


def test_overdue_and_due_soon_rules() -> None:
    now = dt.datetime(2026, 3, 2, 12, 0)
    late = {"status": "new", "due_at": "2026-03-02T11:00:00", "received_at": "2026-03-02T07:00:00", "priority": "urgent"}
    assert rules.is_overdue(late, now)
    assert rules.first_response_overdue(late, now, rules.SlaPolicy())
    assert not rules.is_overdue({**late, "status": "resolved"}, now)
    assert rules.due_soon({**late, "due_at": "2026-03-02T20:00:00"}, now)


def test_sla_policy_from_config_overrides_and_validates() -> None:
    policy = rules.SlaPolicy.from_config({"resolution": {"urgent": 2}, "first_response": {"low": 10}})
    assert policy.resolution_due("2026-01-01T00:00:00", "urgent") == "2026-01-01T02:00:00"
    assert policy.first_response_due("2026-01-01T00:00:00", "low") == "2026-01-01T10:00:00"
    assert policy.resolution_due("2026-01-01T00:00:00", "high") == "2026-01-02T00:00:00"
    with pytest.raises(ValidationError):
        rules.SlaPolicy.from_config({"resolution": {"critical": 1}})
    with pytest.raises(ValidationError):
        rules.SlaPolicy.from_config({"resolution": {"high": -1}})
