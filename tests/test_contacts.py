"""Contacts (联系人): several people per customer with their role in the buying
decision and attitude. Driven through the CLI and then checked in the database; the
power map through the real UI; sync through a real server on 127.0.0.1."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_steps import run, run_json
from old_books import book_before
from pilot_steps import pick_from_palette, settle
from rich.console import Console
from sync_server import Rep, Server
from textual.widgets import Static

from crm_tui import i18n
from crm_tui.api import Crm, Filter, ValidationError
from crm_tui.api.exporting import export_to_path
from crm_tui.api.importing import import_records
from crm_tui.app import CrmApp
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.form import FormScreen

pytestmark = pytest.mark.usefixtures("wide_terminal")


@pytest.fixture
def customer(crm: Crm) -> dict:
    return crm.customers.create({"name": "张伟", "company": "华信科技", "mobile": "13812345678"})


def test_contact_life_cycle_with_chinese_role_and_attitude(crm: Crm, db_path: Path, customer: dict) -> None:
    added = run_json(db_path, "contacts", "add", "--customer", customer["id"][:12], "--name", "王经理",
                     "--title", "采购总监", "--department", "采购部", "--mobile", "139 0000 1111",
                     "--email", "Wang@Example.COM", "--wechat", "wang_jl", "--role", "决策者", "--attitude", "支持")
    stored = crm.contacts.get(added["id"])
    assert stored["customer_id"] == customer["id"]
    assert (stored["role"], stored["attitude"]) == ("decision_maker", "supporter")
    assert (stored["mobile"], stored["email"]) == ("+8613900001111", "wang@example.com")

    run_json(db_path, "contacts", "add", "--customer", customer["id"], "--name", "李工", "--role", "user",
             "--attitude", "opponent")
    by_role = run_json(db_path, "contacts", "list", "--role", "决策者")
    assert [c["name"] for c in by_role] == ["王经理"]
    assert [c["name"] for c in run_json(db_path, "contacts", "list", "--customer", customer["id"])] == ["李工", "王经理"]

    edited = run_json(db_path, "contacts", "edit", added["id"], "--attitude", "中立", "--title", "")
    assert edited["attitude"] == "neutral" and edited["title"] is None
    assert crm.contacts.get(added["id"])["attitude"] == "neutral"
    # The field history of a contact is in the change log like any record's.
    ops = [c["op"] for c in crm.changes(table="contacts", row_id=added["id"])]
    assert ops == ["insert", "update"]
    assert json.loads(crm.changes(table="contacts", row_id=added["id"])[1]["data"])["attitude"] == "neutral"

    run(db_path, "contacts", "delete", added["id"], "--yes")
    assert [c["name"] for c in crm.contacts.find()] == ["李工"]


def test_bad_role_names_the_field_and_the_words_accepted(db_path: Path, customer: dict) -> None:
    result = run(db_path, "contacts", "add", "--customer", customer["id"], "--name", "赵", "--role", "boss",
                 ok=False)
    assert result.exit_code == 1
    assert "role: 'boss' is not one of decision_maker" in result.output and "决策者" in result.output
    result = run(db_path, "contacts", "add", "--customer", "NOSUCHCUSTOMER", "--name", "赵", ok=False)
    assert result.exit_code == 1 and "no customer" in result.output


def test_a_contact_needs_a_name_and_a_customer(crm: Crm) -> None:
    with pytest.raises(ValidationError) as err:
        crm.contacts.create({"role": "coach"})
    assert {e.field for e in err.value.errors} == {"customer_id", "name"}


def test_duplicate_warning_on_a_contacts_phone_or_email(crm: Crm, db_path: Path, customer: dict) -> None:
    first = crm.contacts.create({"customer_id": customer["id"], "name": "王经理", "mobile": "13900001111",
                                 "email": "wang@example.com"})
    result = run(db_path, "contacts", "add", "--customer", customer["id"], "--name", "王建国",
                 "--mobile", "+86 139-0000-1111")
    assert f"possible duplicate of {first['id']} 王经理 (same mobile)" in result.stderr
    result = run(db_path, "contacts", "add", "--customer", customer["id"], "--name", "W", "--email",
                 "WANG@example.com")
    assert "(same email)" in result.stderr
    result = run(db_path, "contacts", "add", "--customer", customer["id"], "--name", "陈", "--mobile", "13700000000")
    assert "duplicate" not in result.stderr


def test_a_visit_names_the_contacts_met(crm: Crm, db_path: Path, customer: dict) -> None:
    wang = crm.contacts.create({"customer_id": customer["id"], "name": "王经理"})
    li = crm.contacts.create({"customer_id": customer["id"], "name": "李工"})
    visit = run_json(db_path, "visits", "add", "--customer", customer["id"], "--channel", "face_to_face",
                     "--purpose", "visit", "--contacts", f"王经理, {li['id'][:10]}")
    assert crm.visits.get(visit["id"])["contact_ids"] == f"{wang['id']},{li['id']}"
    other = crm.customers.create({"name": "别家"})
    stranger = crm.contacts.create({"customer_id": other["id"], "name": "外人"})
    with pytest.raises(ValidationError) as err:
        crm.visits.update(visit["id"], {"contact_ids": stranger["id"]})
    assert err.value.errors[0].field == "contact_ids" and "no contact of this customer" in err.value.errors[0].reason
    assert crm.visits.get(visit["id"])["contact_ids"] == f"{wang['id']},{li['id']}"


def test_customer_search_finds_contacts_by_name_pinyin_and_phone(crm: Crm, customer: dict) -> None:
    crm.customers.create({"name": "李娜", "company": "南方食品"})
    contact = crm.contacts.create({"customer_id": customer["id"], "name": "欧阳修", "mobile": "13566667777"})
    for query in ("欧阳", "ouyangxiu", "oyx", "6666777", "欧"):
        assert [c["name"] for c in crm.customers.search(query)] == ["张伟"], query
    crm.contacts.update(contact["id"], {"name": "司马光"})
    assert crm.customers.search("ouyang") == []
    assert [c["name"] for c in crm.customers.search("simaguang")] == ["张伟"]
    crm.contacts.delete(contact["id"])
    assert crm.customers.search("司马") == []
    assert [c["name"] for c in crm.customers.search("张伟")] == ["张伟"]


def test_contacts_written_by_a_script_get_their_pinyin_on_open(db_path: Path, customer: dict, crm: Crm) -> None:
    with crm.lock, crm.conn:
        crm.conn.execute("INSERT INTO contacts (id, customer_id, name) VALUES ('01SCRIPTCONTACT00000000000', ?, '欧阳修')",
                         (customer["id"],))
    with Crm(db_path) as again:
        assert [c["name"] for c in again.customers.search("ouyangxiu")] == ["张伟"]


def test_import_gbk_with_chinese_headers_and_export_round_trip(crm: Crm, customer: dict, tmp_path: Path) -> None:
    gbk = tmp_path / "contacts.csv"
    gbk.write_bytes(("客户编号,姓名,职位,部门,手机,邮箱,决策角色,态度,备注\n"
                     f"{customer['id']},王经理,采购总监,采购部,13900001111,wang@example.com,决策者,支持,关键人\n"
                     f"{customer['id']},李工,工程师,技术部,,,使用者,反对,\"说 \"\"不\"\"\"\n").encode("gbk"))
    report = import_records(crm, "contacts", gbk)
    assert report.encoding == "gb18030" and report.created == 2 and not report.rejected
    wang = crm.contacts.find([Filter("name", "=", "王经理")])[0]
    assert (wang["role"], wang["attitude"], wang["department"]) == ("decision_maker", "supporter", "采购部")
    assert [c["name"] for c in crm.customers.search("wangjingli")] == ["张伟"]  # indexed by the bulk insert

    export_to_path(crm, "customers", tmp_path / "customers.json", fmt="json")
    for fmt in ("csv", "json"):
        out = tmp_path / f"out.{fmt}"
        assert export_to_path(crm, "contacts", out, fmt=fmt) == 2
        with Crm(tmp_path / f"copy-{fmt}.db", rep="li") as copy:
            import_records(copy, "customers", tmp_path / "customers.json")  # keeps the ids
            report = import_records(copy, "contacts", out)
            assert report.created == 2 and not report.rejected, report.rejected
            keys = ("id", "customer_id", "name", "title", "department", "mobile", "email", "role", "attitude", "notes")
            assert ([{k: c[k] for k in keys} for c in copy.contacts.find()]
                    == [{k: c[k] for k in keys} for c in crm.contacts.find()])
    with (tmp_path / "out.csv").open(encoding="utf-8-sig") as fh:
        assert next(csv.reader(fh))[:6] == ["id", "owner", "created_at", "updated_at", "customer_id", "name"]


def test_import_reports_bad_role_by_line(crm: Crm, customer: dict, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(f"customer_id,name,role\n{customer['id']},甲,coach\n{customer['id']},乙,大老板\n", encoding="utf-8")
    report = import_records(crm, "contacts", path)
    assert [str(r) for r in report.rejected] == [
        "line 3: role: '大老板' is not one of decision_maker, influencer, user, gatekeeper, coach "
        "(or 决策者, 影响者, 使用者, 把关者, 内线)"]
    assert crm.contacts.count() == 0


def test_migration_5_keeps_the_search_of_a_schema_4_database(tmp_path: Path) -> None:
    from crm_tui.db.connection import transaction
    from crm_tui.db.migrations import _contacts

    path = tmp_path / "old.db"
    conn = book_before(path, _contacts)
    with transaction(conn):
        conn.execute("INSERT INTO customers (id, name, pinyin) VALUES ('C1', '老客户', 'laokehu lkh')")
        conn.execute("INSERT INTO visits (id, customer_id, visited_at, channel, purpose) "
                     "VALUES ('V1', 'C1', '2026-01-02T10:00:00', 'phone', 'visit')")
    before = conn.execute("SELECT text FROM customer_search_text").fetchall()
    conn.close()
    with Crm(path) as crm:
        assert crm.conn.execute("SELECT text FROM customer_search_text").fetchall() == before
        assert [c["id"] for c in crm.customers.search("lkh")] == ["C1"]
        contact = crm.contacts.create({"customer_id": "C1", "name": "新人"})
        crm.visits.update("V1", {"contact_ids": "新人"})
        assert crm.visits.get("V1")["contact_ids"] == contact["id"]
        assert [c["id"] for c in crm.customers.search("xinren")] == ["C1"]
        assert json.loads(crm.changes(table="visits", row_id="V1")[-1]["data"]) == {
            "contact_ids": contact["id"], "updated_at": crm.visits.get("V1")["updated_at"]}


def test_deleting_a_customer_takes_its_contacts(crm: Crm, customer: dict) -> None:
    contact = crm.contacts.create({"customer_id": customer["id"], "name": "王经理"})
    crm.customers.delete(customer["id"])
    assert crm.contacts.count() == 0
    assert [c["op"] for c in crm.changes(table="contacts", row_id=contact["id"])] == ["insert", "delete"]


# -- the power map in the UI -----------------------------------------------------------

@pytest.fixture
def english_after() -> Iterator[None]:
    yield
    i18n.set_language("en")  # the app sets the language for the whole process


@pytest.mark.anyio
@pytest.mark.usefixtures("english_after")
async def test_add_contacts_and_see_the_power_map(crm: Crm, customer: dict) -> None:
    crm.contacts.create({"customer_id": customer["id"], "name": "王经理", "title": "总经理",
                         "role": "decision_maker", "attitude": "supporter"})
    crm.contacts.create({"customer_id": customer["id"], "name": "李工", "role": "user", "attitude": "opponent"})
    app_ = CrmApp(crm=crm, config={}, lang="zh", now=lambda: dt.datetime(2026, 3, 2, 9))
    async with app_.run_test(size=(120, 40)) as pilot:
        app_.open_customer(customer["id"])
        await settle(pilot)
        await pilot.press("right_square_bracket")  # profile -> contacts
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app_.screen, FormScreen)
        await pilot.press(*"赵秘书")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app_.screen, CustomerScreen)
        [added] = crm.contacts.find([Filter("name", "=", "赵秘书")])
        assert added["customer_id"] == customer["id"]
        crm.contacts.update(added["id"], {"role": "把关者", "attitude": "中立"})
        app_.screen.reload()
        await settle(pilot)
        console = Console(width=110, record=True, file=io.StringIO())
        console.print(app_.screen.query_one("#power-map", Static).content)
        text = console.export_text()
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        assert lines[0].startswith("决策者") and "+ 王经理 (总经理) 支持" in lines[0]
        assert lines[1].startswith("使用者") and "− 李工 反对" in lines[1]
        assert lines[2].startswith("把关者") and "○ 赵秘书 中立" in lines[2]
        assert app_.screen.query_one("#contacts-table").row_count == 3


# -- sync between two laptops and a real server, with scope ----------------------------



def test_contacts_sync_between_laptops_in_their_customers_scope(server: Server, tmp_path: Path) -> None:
    wang, li, zhao = Rep(tmp_path, "wang"), Rep(tmp_path, "li"), Rep(tmp_path, "zhao")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    zhao.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--territory", "west"))

    east = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    west = zhao.json("customers", "add", "--name", "西客", "--territory", "west")["id"]
    boss = wang.json("contacts", "add", "--customer", east, "--name", "欧阳总", "--role", "决策者",
                     "--attitude", "支持", "--mobile", "13900001111")["id"]
    zhao.json("contacts", "add", "--customer", west, "--name", "西联系人")
    visit = wang.json("visits", "add", "--customer", east, "--channel", "phone", "--purpose", "visit",
                      "--contacts", "欧阳总")["id"]
    wang.crm("sync")
    zhao.crm("sync")
    li.crm("sync")

    assert li.json("contacts", "show", boss) == wang.json("contacts", "show", boss)
    assert li.json("visits", "show", visit)["contact_ids"] == boss
    assert [c["name"] for c in li.json("customers", "list", "--search", "ouyang")] == ["张伟"]
    assert [c["name"] for c in li.json("contacts", "list")] == ["欧阳总"]  # not the west one
    assert [c["name"] for c in zhao.json("contacts", "list")] == ["西联系人"]

    # An edit on one laptop reaches the other; a delete too.
    li.crm("contacts", "edit", boss, "--attitude", "反对")
    li.crm("sync")
    wang.crm("sync")
    assert wang.json("contacts", "show", boss)["attitude"] == "opponent"
    wang.crm("contacts", "delete", boss, "--yes")
    wang.crm("sync")
    li.crm("sync")
    assert li.json("contacts", "list") == []
    assert li.json("customers", "list", "--search", "ouyang") == []


@pytest.mark.anyio
@pytest.mark.usefixtures("english_after")
async def test_the_palette_finds_a_contact_and_opens_their_customer(crm: Crm, customer: dict) -> None:
    crm.customers.create({"name": "李娜", "company": "南方食品"})
    crm.contacts.create({"customer_id": customer["id"], "name": "欧阳修", "mobile": "13566667777"})
    app_ = CrmApp(crm=crm, config={}, lang="en", now=lambda: dt.datetime(2026, 3, 2, 9))
    async with app_.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pick_from_palette(pilot, "ouyangxiu", "张伟")
        assert isinstance(app_.screen, CustomerScreen)
        assert app_.screen.file is not None and app_.screen.file.customer["id"] == customer["id"]


def test_erasing_a_customer_leaves_no_trace_of_their_contacts_in_search(crm: Crm, customer: dict) -> None:
    crm.contacts.create({"customer_id": customer["id"], "name": "欧阳修", "mobile": "13566667777"})
    assert [c["id"] for c in crm.customers.search("ouyangxiu")] == [customer["id"]]
    crm.privacy.erase(customer["id"], reason="PIPL request")
    for query in ("ouyangxiu", "oyx", "欧阳", "6666777"):
        assert crm.customers.search(query) == [], query
    texts = [r[0] for r in crm.conn.execute("SELECT text FROM customer_search_text")]
    assert not any("ouyang" in t or "6666777" in t for t in texts)
