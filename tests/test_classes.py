"""Classes that agree: what `crm classify` computes is what the customer list's
filters, the customer record, the reminders and the reports show, for every customer
on the laptop; keeping them right makes no change to sync."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm, parse_filter
from crm_tui.cli import app

runner = CliRunner()
NOW = dt.datetime(2026, 11, 15, 12, 0)


def cli(db: Path, *args: str) -> str:
    result = runner.invoke(app, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def seeded(db_path: Path) -> Path:
    cli(db_path, "seed", "--customers", "400")
    return db_path


def test_classify_the_list_filters_and_the_records_agree_after_a_seed(seeded: Path) -> None:
    classes = json.loads(cli(seeded, "classify", "--json"))
    assert "0 customer(s) changed" in cli(seeded, "classify")  # the seed stored them already
    tiers = Counter(c["tier"] for c in classes)
    assert set(tiers) == {"A", "B", "C"}
    for tier, count in tiers.items():
        assert len(json.loads(cli(seeded, "customers", "list", "--tier", tier, "--json"))) == count
    statuses = Counter(c["status"] for c in classes)
    for status, count in statuses.items():
        assert len(json.loads(cli(seeded, "customers", "list", "--status", status, "--json"))) == count
    listed = json.loads(cli(seeded, "customers", "list", "--json"))
    stored = {c["id"]: (c["status"], c["lifecycle_stage"], c["tier"]) for c in listed}
    assert stored == {c["id"]: (c["status"], c["lifecycle_stage"], c["tier"]) for c in classes}
    # every customer on the laptop, not only those of its rep
    with Crm(seeded) as crm:
        rep = crm.replica["rep"]
        assert {c["owner"] for c in listed} - {rep}


def test_classes_make_no_sync_traffic(seeded: Path) -> None:
    with Crm(seeded) as crm:
        before = crm.changes()
        assert not any({"status", "lifecycle_stage", "tier"} & json.loads(c["data"]).keys()
                       for c in before if c["tbl"] == "customers")
    cli(seeded, "classify")
    cli(seeded, "classify", "--today", "2027-06-01")  # other day, other classes: still nothing to sync
    with Crm(seeded) as crm:
        assert len(crm.changes()) == len(before)
        # a customer's classes are refused as typed input: a manual classification syncs instead
        cid = crm.customers.find(limit=1)[0]["id"]
    refused = runner.invoke(app, ["customers", "edit", "--db", str(seeded), cid, "--notes", "x", "--tier", "A"])
    assert refused.exit_code != 0
    cli(seeded, "classify", "override", cid, "--tier", "A", "--reason", "strategic")
    with Crm(seeded) as crm:
        assert crm.customers.get(cid)["tier"] == "A"
        assert [c["tbl"] for c in crm.changes()[len(before):]] == ["classification_overrides"]


def test_classes_follow_the_data_without_running_classify(db_path: Path) -> None:
    with Crm(db_path, rep="wang", now=lambda: NOW) as crm:
        small = crm.customers.create({"name": "小客户"})
        big = crm.customers.create({"name": "大客户"}, owner="li")
        assert {c["tier"] for c in crm.customers.find()} == {"C"}
        crm.orders.create({"customer_id": small["id"], "ordered_at": "2026-11-01", "product": "茶", "amount": 100})
        crm.orders.create({"customer_id": big["id"], "ordered_at": "2026-11-02", "product": "茶", "amount": 9000})
        # the list, the record and the reminders see the new classes at once
        assert [c["name"] for c in crm.customers.find([parse_filter(crm.customers.entity, "tier=A")])] == ["大客户"]
        assert crm.customers.get(big["id"])["status"] == "new"
        cadence = {i.customer_id: i.tier for i in crm.analytics.contact_cadence()}
        assert cadence[big["id"]] == "A"
        # a report of one rep ranks tiers on the whole book, as classify does
        report = crm.analytics.report_data("2026-Q4", rep="wang")
        whole = {c.customer_id: c.tier for c in crm.analytics.classify_customers(store=False)}
        assert report["tiers"] == {"A": 0, "B": 0, "C": 1} and whole[small["id"]] == "C"
