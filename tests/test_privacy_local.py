"""A person's data on one laptop: export it whole, mask it for sharing, erase it so
that no byte of it is left in the database file or its WAL, while sales figures
stay as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm, ValidationError
from crm_tui.cli import app
from crm_tui.domain.entities import CUSTOMER
from crm_tui.domain.privacy import mask_email, mask_phone, mask_record

runner = CliRunner()

NAME, MOBILE, OLD_MOBILE = "欧阳锋", "13912345678", "13987654321"
EMAIL, ADDRESS, PHRASE = "ouyang.feng@baituo.cn", "白驼山庄一号", "zebra-quartz-lantern"
NEEDLES = (NAME, MOBILE, OLD_MOBILE, EMAIL, ADDRESS, PHRASE, "complaint-about-camels", "survey-says-sand")


def leaks(*paths: Path) -> list[str]:
    """Which needles appear, as bytes, in which of these files (the file, -wal, -shm, -journal)."""
    found = []
    for base in paths:
        for path in (base, *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal"))):
            if path.exists():
                data = path.read_bytes()
                found += [f"{n} in {path.name}" for n in NEEDLES if n.encode() in data]
    return found


def person(crm: Crm) -> str:
    c = crm.customers.create({"name": NAME, "mobile": OLD_MOBILE, "email": EMAIL, "address": ADDRESS,
                              "company": "白驼山"})
    crm.customers.update(c["id"], {"mobile": MOBILE})  # the old number lives on in the change log
    crm.agenda.log_visit({"customer_id": c["id"], "notes": f"talked about the {PHRASE}", "channel": "phone",
                          "purpose": "visit"})
    complaint = crm.complaint_workflow.open({"customer_id": c["id"], "type": "delivery",
                                             "description": "complaint-about-camels", "priority": "high"})
    crm.analytics.add_survey({"customer_id": c["id"], "surveyed_at": "2026-03-01", "expected": 4,
                              "perceived": 5, "notes": "survey-says-sand", "complaint_id": complaint["id"]})
    crm.orders.create({"customer_id": c["id"], "ordered_at": "2026-03-02", "product": "tea", "amount": 120.5})
    crm.orders.create({"customer_id": c["id"], "ordered_at": "2026-03-05", "product": "silk", "amount": 79.5})
    return c["id"]


def test_export_person_holds_everything_about_them(crm: Crm, tmp_path: Path) -> None:
    cid = person(crm)
    other = crm.customers.create({"name": "郭靖"})
    crm.orders.create({"customer_id": other["id"], "ordered_at": "2026-03-02", "product": "x", "amount": 1})
    out = tmp_path / "person.json"
    result = runner.invoke(app, ["customers", "export-person", cid[:10], "--db", str(crm.path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o077 == 0  # a person's data: readable by its owner only
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["customer"]["name"] == NAME and doc["customer"]["mobile"] == "+86" + MOBILE
    records = doc["records"]
    assert [v["notes"] for v in records["visits"]] == [f"talked about the {PHRASE}"]
    assert [c["description"] for c in records["complaints"]] == ["complaint-about-camels"]
    assert sorted(o["amount"] for o in records["orders"]) == [79.5, 120.5]  # not the other customer's
    assert [s["notes"] for s in records["surveys"]] == ["survey-says-sand"]
    history = doc["field_history"][f"customers/{cid}"]
    assert {"field": "mobile", "old": "+86" + OLD_MOBILE, "new": "+86" + MOBILE} in [
        {k: e[k] for k in ("field", "old", "new")} for e in history]
    assert "郭靖" not in out.read_text(encoding="utf-8")
    assert "\\u" not in out.read_text(encoding="utf-8")  # readable Chinese, not escapes


def test_masking_one_function_for_every_field() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+8613812345678") == "+86138****5678"
    assert mask_email("zhang.wei@example.com") == "z***@example.com"
    masked = mask_record(CUSTOMER, {"name": "张伟", "mobile": "+8613812345678", "email": "a@b.cn",
                                    "address": "上海市浦东新区世纪大道100号", "region": "华东"})
    assert masked == {"name": "张*", "mobile": "+86138****5678", "email": "a***@b.cn",
                      "address": "上海市浦东新****", "region": "华东"}


def test_export_and_report_with_mask_leave_no_contact_details(crm: Crm) -> None:
    cid = person(crm)
    result = runner.invoke(app, ["customers", "export", "--db", str(crm.path), "--mask"])
    assert result.exit_code == 0, result.output
    assert MOBILE not in result.stdout and EMAIL not in result.stdout and ADDRESS not in result.stdout
    assert NAME not in result.stdout and "139****5678" in result.stdout and "o***@baituo.cn" in result.stdout
    plain = runner.invoke(app, ["customers", "export", "--db", str(crm.path)])
    assert MOBILE in plain.stdout  # without --mask the export is whole
    report = runner.invoke(app, ["report", "--period", "2026-03", "--db", str(crm.path), "--mask", "--today", "2026-03-31"])
    assert report.exit_code == 0, report.output
    assert NAME not in report.stdout and "欧**" in report.stdout
    unmasked = runner.invoke(app, ["report", "--period", "2026-03", "--db", str(crm.path), "--today", "2026-03-31"])
    assert NAME in unmasked.stdout
    assert cid


def test_erase_leaves_no_byte_and_keeps_sales(crm: Crm) -> None:
    cid = person(crm)
    other = crm.customers.create({"name": "郭靖", "mobile": "13700000000"})
    crm.orders.create({"customer_id": other["id"], "ordered_at": "2026-03-03", "product": "x", "amount": 10})
    before = crm.analytics.kpis("2026-03")["overall"]
    assert leaks(crm.path)  # the test can fail: the data is there before
    result = runner.invoke(app, ["customers", "erase", cid, "--db", str(crm.path), "--yes",
                                 "--reason", "asked by letter"])
    assert result.exit_code == 0, result.output
    assert leaks(crm.path) == []
    after = crm.analytics.kpis("2026-03")["overall"]
    assert (after["sales"], after["orders"], after["customers"]) == (before["sales"], before["orders"],
                                                                     before["customers"])
    assert crm.customers.get(other["id"])["mobile"] == "+8613700000000"  # others untouched
    erased = crm.customers.get(cid)
    assert erased["name"] == "[erased]" and erased["mobile"] is None and erased["email"] is None
    assert crm.customers.search("欧阳") == [] and crm.customers.search("139123") == []
    [erasure] = crm.privacy.erasures.find()
    assert erasure["id"] == cid and erasure["reason"] == "asked by letter" and erasure["erased_by"] == "wang"
    assert set(erasure) - {"id", "owner", "created_at", "updated_at", "erased_at", "erased_by", "reason",
                           "request_id"} == set()
    # Erase beats everything: no edit of them, nothing new about them.
    with pytest.raises(ValidationError):
        crm.customers.update(cid, {"name": NAME})
    with pytest.raises(ValidationError):
        crm.agenda.log_visit({"customer_id": cid, "channel": "phone", "purpose": "visit", "notes": "again"})
    again = runner.invoke(app, ["customers", "erase", cid, "--db", str(crm.path), "--yes"])
    assert again.exit_code == 1 and "already erased" in again.output


def test_erase_asks_first_naming_what_goes(crm: Crm) -> None:
    cid = person(crm)
    result = runner.invoke(app, ["customers", "erase", cid, "--db", str(crm.path)], input="n\n")
    assert result.exit_code == 1
    assert NAME in result.output and "1 visits" in result.output and "2 orders stay" in result.output
    assert crm.customers.get(cid)["name"] == NAME  # declined: nothing happened
