"""Merging two customers into one and undoing it (issue 13 item 7): the API and CLI
on a real database, the refusal to undo after an edit, the server's authorisation,
and the merge syncing between two laptops and a real server with its scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pilot_steps import settle
from sync_server import Rep, Server
from typer.testing import CliRunner

from crm_tui.api import Crm, Filter, ValidationError
from crm_tui.api.history import field_history
from crm_tui.cli import app
from crm_tui.domain.changes import FORBIDDEN, Actor, ChangeRefused, Place, check_access
from crm_tui.domain.orders import LineSpec

runner = CliRunner()


@pytest.fixture
def pair(crm: Crm) -> tuple[dict, dict, dict]:
    """Two records of one person, the second with a visit, a contact, a complaint,
    an order with a line, an opportunity and a manual classification."""
    keep = crm.customers.create({"name": "张伟", "mobile": "13812345678", "company": "华信科技"})
    other = crm.customers.create({"name": "张 伟", "mobile": "13812345678", "email": "zw@huaxin.cn",
                                  "company": "华信", "region": "华东"})
    oid = other["id"]
    made = {
        "visits": crm.visits.create({"customer_id": oid, "visited_at": "2026-01-02 10:00", "channel": "phone",
                                     "purpose": "visit"})["id"],
        "contacts": crm.contacts.create({"customer_id": oid, "name": "李秘书", "role": "gatekeeper"})["id"],
        "complaints": crm.complaints.create({"customer_id": oid, "received_at": "2026-01-05 09:00",
                                             "type": "delivery", "description": "晚到", "priority": "low",
                                             "status": "new"})["id"],
        "orders": crm.order_book.add({"customer_id": oid, "ordered_at": "2026-01-03"},
                                     [LineSpec("传感器", "2", "100")])["id"],
        "opportunities": crm.opportunities.create({"customer_id": oid, "title": "二期", "amount": 5000,
                                                   "stage": "lead"})["id"],
    }
    crm.analytics.set_override(oid, reason="老客户，按合同", tier="A", status="loyal")
    return keep, other, made


def test_merge_moves_every_record_takes_fields_and_deletes_the_other(crm: Crm, pair) -> None:
    keep, other, made = pair
    merge = crm.merges.merge(keep["id"], other["id"], {"company": "other"})
    kept = crm.customers.get(keep["id"])
    assert kept["company"] == "华信"  # chosen: the other's
    assert kept["email"] == "zw@huaxin.cn" and kept["region"] == "华东"  # empty here: filled from the other
    assert kept["name"] == "张伟"  # default: the kept value
    for table, rid in made.items():
        assert crm.records(table).get(rid)["customer_id"] == keep["id"], table
    [line] = crm.order_lines.find([Filter("order_id", "=", made["orders"])])
    assert line["customer_id"] == keep["id"]
    with pytest.raises(LookupError):
        crm.customers.get(other["id"])
    with pytest.raises(LookupError):  # deleted with the other, kept in the merge record
        crm.analytics.overrides.get(other["id"])
    assert json.loads(merge["other_record"])["classification_overrides"][0]["tier"] == "A"
    assert json.loads(merge["taken"]) == {"company": ["华信科技", "华信"], "email": [None, "zw@huaxin.cn"],
                                          "region": [None, "华东"]}
    assert sorted(json.loads(merge["moved"])) == ["complaints", "contacts", "opportunities",
                                                  "order_lines", "orders", "visits"]
    # The kept customer's history shows the other's too, marked.
    history = field_history(crm, "customers", keep["id"])
    assert {(h["field"], h["new"]) for h in history if h.get("merged_from") == other["id"]} >= {
        ("email", "zw@huaxin.cn"), ("name", "张 伟")}
    # The merge is in the change log once, as one record.
    assert [c["op"] for c in crm.changes(table="merges")] == ["insert"]


def test_unmerge_restores_both_customers_and_every_record(crm: Crm, pair) -> None:
    keep, other, made = pair
    before_keep = crm.customers.get(keep["id"])
    merge = crm.merges.merge(keep["id"], other["id"], {"company": "other"})
    undone = crm.merges.unmerge(merge["id"])
    assert undone["status"] == "undone" and undone["undone_at"]
    back = crm.customers.get(other["id"])
    assert {k: back[k] for k in ("name", "email", "company", "region", "owner", "created_at")} == \
        {k: other[k] for k in ("name", "email", "company", "region", "owner", "created_at")}
    after_keep = crm.customers.get(keep["id"])
    assert {k: after_keep[k] for k in ("company", "email", "region")} == \
        {k: before_keep[k] for k in ("company", "email", "region")}
    for table, rid in made.items():
        assert crm.records(table).get(rid)["customer_id"] == other["id"], table
    # The merged customer's manual classification is back, and shows in its classes.
    override = crm.analytics.overrides.get(other["id"])
    assert (override["customer_id"], override["tier"], override["status"], override["reason"]) == \
        (other["id"], "A", "loyal", "老客户，按合同")
    assert (back["tier"], back["status"]) == ("A", "loyal")
    assert [c["op"] for c in crm.changes(table="classification_overrides")][-1] == "insert"
    with pytest.raises(ValidationError, match="already undone"):
        crm.merges.unmerge(merge["id"])


@pytest.mark.parametrize("edit", ["visit", "kept", "new contact"])
def test_unmerge_is_refused_once_a_merged_record_was_edited(crm: Crm, pair, edit: str) -> None:
    keep, other, made = pair
    merge = crm.merges.merge(keep["id"], other["id"])
    if edit == "visit":
        crm.visits.update(made["visits"], {"notes": "改了"})
    elif edit == "kept":
        crm.customers.update(keep["id"], {"title": "总经理"})
    else:  # a record moved by the merge moved again by hand
        crm.contacts.update(made["contacts"], {"title": "秘书"})
    with pytest.raises(ValidationError, match="edited after the merge") as exc:
        crm.merges.unmerge(merge["id"])
    assert exc.value.errors[0].field == "merge"
    assert crm.merges.get(merge["id"])["status"] == "merged"
    with pytest.raises(LookupError):
        crm.customers.get(other["id"])  # nothing half-undone


def test_a_customer_is_not_merged_with_itself_and_bad_fields_are_named(crm: Crm, pair) -> None:
    keep, other, _ = pair
    with pytest.raises(ValidationError, match="itself"):
        crm.merges.merge(keep["id"], keep["id"])
    with pytest.raises(ValidationError, match="'colour' is not a customer field"):
        crm.merges.merge(keep["id"], other["id"], {"colour": "other"})
    assert crm.changes(table="merges") == []


def test_a_merge_waits_for_the_persons_erase(crm: Crm, db_path: Path, pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pending erase request on either customer stops a merge (it would be left naming
    a deleted customer), until a manager decides it; an erased customer is never merged."""
    keep, other, _ = pair
    request = crm.privacy.requests.create({"customer_id": other["id"], "status": "pending", "requested_by": "wang",
                                           "reason": "本人要求"})
    for args in ((keep["id"], other["id"]), (other["id"], keep["id"])):
        with pytest.raises(ValidationError, match=f"erase request waiting for a manager \\({request['id']}\\)"):
            crm.merges.merge(*args)
        with pytest.raises(ValidationError, match="erase request"):
            crm.merges.compare(*args)  # the dry run and the UI's merge view say so first
    refused = cli(db_path, "customers", "merge", keep["id"], other["id"], ok=False)
    assert "approve or decline it first" in refused.output and "Traceback" not in refused.output
    assert crm.changes(table="merges") == [] and crm.customers.get(other["id"])

    crm.privacy.decline(request["id"], "合同期内须保留")
    crm.privacy.erase(keep["id"], reason="本人要求")
    with pytest.raises(ValidationError, match=f"customer {keep['id']} was erased"):
        crm.merges.merge(keep["id"], other["id"])
    third = crm.customers.create({"name": "张伟", "mobile": "13812345678"})
    assert crm.merges.merge(third["id"], other["id"])["status"] == "merged"  # the declined request no longer stops it
    monkeypatch.setenv("CRM_LANG", "zh")
    refused = cli(db_path, "customers", "merge", keep["id"], third["id"], ok=False)
    assert "已被删除个人数据" in refused.output and keep["id"] in refused.output


def cli(db: Path, *args: str, ok: bool = True):
    result = runner.invoke(app, [*args, "--db", str(db)])
    assert (result.exit_code == 0) == ok, result.output
    return result


def test_cli_merge_dry_run_take_unmerge_and_errors(crm: Crm, db_path: Path, pair) -> None:
    keep, other, made = pair
    rows = json.loads(cli(db_path, "customers", "merge", keep["id"], other["id"], "--take", "email=keep",
                          "--dry-run", "--json").stdout)
    assert {r["field"]: r["side"] for r in rows}["email"] == "keep"
    assert crm.customers.get(other["id"])  # a dry run changes nothing
    bad = cli(db_path, "customers", "merge", keep["id"], other["id"], "--take", "email=theirs", ok=False)
    assert "email: 'theirs'" in bad.output and "Traceback" not in bad.output
    # a prefix of the id will do; 16 characters, as the first 10 are the millisecond both were made in
    merge = json.loads(cli(db_path, "customers", "merge", keep["id"][:16], other["id"], "--take", "email=keep",
                           "--json").stdout)
    assert crm.customers.get(keep["id"])["email"] is None
    listed = json.loads(cli(db_path, "customers", "merges", "--customer", keep["id"], "--json").stdout)
    assert [m["id"] for m in listed] == [merge["id"]]
    cli(db_path, "visits", "edit", made["visits"], "--notes", "after")
    refused = cli(db_path, "customers", "unmerge", merge["id"], ok=False)
    assert "was edited after the merge" in refused.output
    missing = cli(db_path, "customers", "unmerge", "NOSUCHMERGE", ok=False)
    assert "no merge" in missing.output


def test_cli_merge_speaks_chinese(crm: Crm, db_path: Path, pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under CRM_LANG=zh the merge's messages and refusals are the catalog's Chinese."""
    from test_zh_everywhere import english_fragments_in, without

    keep, other, made = pair
    monkeypatch.setenv("CRM_LANG", "zh")
    itself = cli(db_path, "customers", "merge", keep["id"], keep["id"], ok=False)
    assert "客户不能与自身合并" in itself.output
    side = cli(db_path, "customers", "merge", keep["id"], other["id"], "--take", "email=theirs", ok=False)
    assert "请选 keep" in side.output
    merged = cli(db_path, "customers", "merge", keep["id"], other["id"])
    [merge] = crm.merges.find(keep["id"])
    merge_id = merge["id"]
    assert "已将" in merged.stdout and "unmerge" in merged.stdout and merge["status"] == "merged"
    crm.visits.update(made["visits"], {"notes": "改了"})
    refused = cli(db_path, "customers", "unmerge", merge_id, ok=False)
    assert f"拜访 {made['visits']} 在合并之后被修改过" in refused.output
    listed = cli(db_path, "customers", "merges")
    # one merge, as a person reads it: labels and status in Chinese, what moved counted,
    # the fields taken with both values, the merged customer by name (not the stored JSON)
    one = cli(db_path, "customers", "merges", "--id", merge_id)
    for result in (itself, side, merged, refused, listed, one):
        assert english_fragments_in(without(result.output, ["theirs"])) == [], result.output  # the typed value
    assert "已合并" in one.stdout and "拜访 1" in one.stdout and "邮箱：— → zw@huaxin.cn" in one.stdout
    assert "张 伟 · 华信" in one.stdout and "{" not in one.stdout


def test_the_server_lets_a_rep_merge_only_customers_both_theirs() -> None:
    wang = Actor("wang", "rep", frozenset({"east"}))
    places = {"A": Place("wang", "east"), "B": Place("li", "east"), "W": Place("zhao", "west")}
    data = {"customer_id": "A", "other_id": "W", "merged_at": "2026-01-01T00:00:00", "status": "merged"}
    with pytest.raises(ChangeRefused) as exc:
        check_access(wang, "merges", "insert", "M1", data, place=places.get, customer_of=lambda t, r: None)
    assert exc.value.code == FORBIDDEN and "W" in exc.value.reason
    check_access(wang, "merges", "insert", "M2", {**data, "other_id": "B"}, place=places.get,
                 customer_of=lambda t, r: None)  # both in his territory: allowed


def test_the_server_lets_a_rep_bring_back_a_manual_classification_only_as_its_customers() -> None:
    """An unmerge inserts the merged customer's override again, whole (owner included),
    over the one the server holds: allowed when the owner is still the customer's; any
    other owner on an existing record is still a change of owner, for managers only."""
    wang = Actor("wang", "rep", frozenset({"east"}))
    places = {"C": Place("li", "east")}
    override = {"customer_id": "C", "tier": "A", "reason": "战略客户"}
    held = lambda t, r: "C"  # noqa: E731 - the server holds the override, of customer C
    check_access(wang, "classification_overrides", "insert", "C", {**override, "owner": "li"},
                 place=places.get, customer_of=held)
    for owner in ("wang", ""):
        with pytest.raises(ChangeRefused, match="only a manager changes the owner"):
            check_access(wang, "classification_overrides", "insert", "C", {**override, "owner": owner},
                         place=places.get, customer_of=held)
    new = lambda t, r: None  # noqa: E731 - the server holds no override of C yet
    check_access(wang, "classification_overrides", "insert", "C", {**override, "owner": "li"},
                 place=places.get, customer_of=new)  # a colleague's customer, in wang's territory
    with pytest.raises(ChangeRefused, match="owned by its author"):
        check_access(wang, "classification_overrides", "insert", "C", {**override, "owner": "zhao"},
                     place=places.get, customer_of=new)
    with pytest.raises(ChangeRefused, match="not yours"):
        check_access(wang, "classification_overrides", "insert", "W", {**override, "customer_id": "W", "owner": "li"},
                     place={"W": Place("li", "west")}.get, customer_of=new)
    with pytest.raises(ChangeRefused, match="only a manager changes the owner"):  # not for a visit
        check_access(wang, "visits", "insert", "V1", {"customer_id": "C", "owner": "li"}, place=places.get,
                     customer_of=held)


# -- two laptops and a real server -------------------------------------------------------



def test_a_merge_syncs_to_the_other_laptop_and_stays_in_scope(server: Server, tmp_path: Path) -> None:
    wang, li, zhao = Rep(tmp_path, "wang"), Rep(tmp_path, "li"), Rep(tmp_path, "zhao")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    zhao.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--territory", "west"))

    keep = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    other = li.json("customers", "add", "--name", "张 伟", "--email", "zw@huaxin.cn", "--territory", "east")["id"]
    visit = li.json("visits", "add", "--customer", other, "--channel", "phone", "--purpose", "visit")["id"]
    contact = li.json("contacts", "add", "--customer", other, "--name", "李秘书")["id"]
    li.crm("classify", "override", other, "--tier", "A", "--reason", "战略客户")
    zhao.json("customers", "add", "--name", "西客", "--territory", "west")
    for rep in (li, wang, zhao):
        rep.crm("sync")

    merge = wang.json("customers", "merge", keep, other)
    assert "refused" not in wang.crm("sync").lower()
    li.crm("sync")
    # The other laptop sees the merge: one customer, the records under it, the merge record.
    assert [c["name"] for c in li.json("customers", "list")] == ["张伟"]
    assert li.json("customers", "show", keep)["email"] == "zw@huaxin.cn"
    assert li.json("visits", "show", visit)["customer_id"] == keep
    assert li.json("contacts", "show", contact)["customer_id"] == keep
    assert [m["id"] for m in li.json("customers", "merges")] == [merge["id"]]
    # The west rep gets none of it.
    zhao.crm("sync")
    assert zhao.json("customers", "merges") == []
    assert [c["name"] for c in zhao.json("customers", "list")] == ["西客"]

    # Undone on the other laptop, undone on the first.
    li.crm("customers", "unmerge", merge["id"])
    assert "refused" not in li.crm("sync").lower()
    wang.crm("sync")
    assert sorted(c["name"] for c in wang.json("customers", "list")) == ["张 伟", "张伟"]
    assert wang.json("visits", "show", visit)["customer_id"] == other
    assert wang.json("customers", "show", keep)["email"] is None
    assert wang.json("customers", "merges", "--id", merge["id"])["status"] == "undone"
    # The merged customer's manual classification came back with it, on both laptops.
    assert wang.json("customers", "show", other)["tier"] == "A"
    assert li.json("customers", "show", other)["tier"] == "A"


def test_erase_requests_stay_with_their_customer_through_a_merge_and_its_unmerge(server: Server,
                                                                                 tmp_path: Path) -> None:
    """Erase requests are about a person: a merge does not move them, so an unmerge
    finds every one of the merged customer's requests still theirs, on every laptop,
    one that joined between the merge and the unmerge and one that joined after."""
    wang, li, boss = Rep(tmp_path, "wang"), Rep(tmp_path, "li"), Rep(tmp_path, "boss")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    keep = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    other = li.json("customers", "add", "--name", "张 伟", "--territory", "east")["id"]
    for rep in (wang, li):
        rep.crm("sync")
    requests = {cid: rep.json("customers", "erase", cid, "--yes", "--reason", "本人要求")["request"]["id"]
                for cid, rep in ((keep, wang), (other, li))}
    for rep in (wang, li, boss):
        rep.crm("sync")
    for request in requests.values():  # a pending request stops a merge: decided first
        boss.crm("erase-requests", "decline", request, "--reason", "合同期内须保留")
    boss.crm("sync")

    def held(rep: Rep) -> dict[str, str]:
        return {r["id"]: r["customer_id"] for r in rep.json("erase-requests", "list")}

    before = {requests[keep]: keep, requests[other]: other}
    wang.crm("sync")
    merge = wang.json("customers", "merge", keep, other)
    wang.crm("sync")
    between = Rep(tmp_path, "zhou")
    between.crm("login", "--server", server.url, "--token", server.add_rep("zhou", "--territory", "east"))
    for rep in (li, boss, between):
        rep.crm("sync")
    assert [c["id"] for c in li.json("customers", "list")] == [keep]
    li.crm("customers", "unmerge", merge["id"])
    li.crm("sync")
    after = Rep(tmp_path, "qian")
    after.crm("login", "--server", server.url, "--token", server.add_rep("qian", "--territory", "east"))
    for rep in (wang, li, boss, between, after):
        rep.crm("sync")
        assert held(rep) == before, rep.env
        assert sorted(c["id"] for c in rep.json("customers", "list")) == sorted((keep, other)), rep.env
        assert {r["status"] for r in rep.json("erase-requests", "list")} == {"declined"}


# -- the merge view in the UI ------------------------------------------------------------


@pytest.mark.anyio
async def test_merge_view_field_by_field_then_undo(crm: Crm, pair) -> None:
    import datetime as dt

    from textual.widgets import DataTable

    from crm_tui.app import CrmApp
    from crm_tui.screens.merge import MergeScreen

    keep, other, made = pair
    app_ = CrmApp(crm=crm, config={}, lang="en", now=lambda: dt.datetime(2026, 3, 2, 9))
    async with app_.run_test(size=(80, 24)) as pilot:  # the smallest terminal
        app_.open_customer(keep["id"])
        await settle(pilot)
        await pilot.press("M")
        await settle(pilot)
        assert isinstance(app_.screen, MergeScreen)
        candidates = app_.screen.query_one("#merge-candidates", DataTable)
        assert candidates.row_count == 1  # the same mobile: the other record
        await pilot.press("enter")
        await settle(pilot)
        fields = app_.screen.query_one("#merge-fields", DataTable)
        names = [str(fields.get_row_at(i)[0]) for i in range(fields.row_count)]
        # company differs: take the other's; email (empty here) would be taken by default: keep ours.
        for label in ("Company", "Email"):
            fields.move_cursor(row=names.index(label))
            await pilot.press("space")
            await pilot.pause()
        assert str(fields.get_row_at(names.index("Company"))[3]) == "华信"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        kept = crm.customers.get(keep["id"])
        assert kept["company"] == "华信" and kept["email"] is None and kept["region"] == "华东"
        assert crm.visits.get(made["visits"])["customer_id"] == keep["id"]
        with pytest.raises(LookupError):
            crm.customers.get(other["id"])
        await pilot.press("u")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert crm.customers.get(other["id"])["email"] == "zw@huaxin.cn"
        assert crm.visits.get(made["visits"])["customer_id"] == other["id"]
        assert crm.customers.get(keep["id"])["company"] == "华信科技"
