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


def test_after_a_few_writes_only_the_touched_customers_are_classified_again(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One edit does not classify the whole book again: the customers it touched are,
    and every tier is ranked anew from the values held for the others. What is
    stored after each kind of write is what classifying the whole book gives."""
    import crm_tui.api.classes as classes_api

    cli(db_path, "seed", "--customers", "300")
    with Crm(db_path, rep="wang", now=lambda: NOW) as crm:
        crm.analytics.ensure_classes()

        def whole_book() -> dict[str, tuple[str, str, str]]:
            return {c.customer_id: (c.status, c.lifecycle_stage, c.tier)
                    for c in crm.analytics.classify_customers(store=False)}

        def stored() -> dict[str, tuple[str, str, str]]:
            return {c["id"]: (c["status"], c["lifecycle_stage"], c["tier"]) for c in crm.customers.find()}

        full = classes_api.book_facts
        ranked = sorted(crm.analytics.classify_customers(store=False), key=lambda c: c.value)
        low, top = ranked[0].customer_id, ranked[-1].customer_id
        other = ranked[len(ranked) // 2].customer_id
        a_before = sum(1 for c in ranked if c.tier == "A")

        def refuse_whole_book(*args: object, **kwargs: object) -> object:
            raise AssertionError("the whole book was classified again after a few writes")

        monkeypatch.setattr(classes_api, "book_facts", refuse_whole_book)
        # the lowest customer becomes the biggest: their tier and others' move
        order = crm.orders.create({"customer_id": low, "ordered_at": "2026-11-10", "product": "设备",
                                   "amount": 10 * max(ranked[-1].value, 1.0)})
        after = stored()
        monkeypatch.setattr(classes_api, "book_facts", full)
        assert after == whole_book()
        assert after[low][2] == "A" and sum(1 for v in after.values() if v[2] == "A") <= a_before
        monkeypatch.setattr(classes_api, "book_facts", refuse_whole_book)
        writes = [
            lambda: crm.customers.update(other, {"notes": "一次编辑"}),
            lambda: crm.orders.delete(order["id"]),
            lambda: crm.visits.create({"customer_id": top, "visited_at": "2026-11-14T10:00:00",
                                       "channel": "phone", "purpose": "visit"}),
            lambda: crm.analytics.set_override(other, reason="大客户", tier="A"),
            lambda: crm.customers.create({"name": "新客户"}),
            lambda: crm.customers.delete(top),
        ]
        for write in writes:
            write()
            after = stored()
            monkeypatch.setattr(classes_api, "book_facts", full)
            assert after == whole_book()
            monkeypatch.setattr(classes_api, "book_facts", refuse_whole_book)
        assert after[other][2] == "A"
    monkeypatch.setattr(classes_api, "book_facts", full)
    # another day, or other settings: the whole book again, and the same answer
    with Crm(db_path, rep="wang", now=lambda: NOW + dt.timedelta(days=400)) as crm:
        assert crm.analytics.ensure_classes() > 0
        assert {c["id"]: c["status"] for c in crm.customers.find()} == {
            c.customer_id: c.status for c in crm.analytics.classify_customers(store=False)}
