"""Classes that agree: what `crm classify` computes is what the customer list's
filters, the customer record, the reminders and the reports show, for every customer
on the laptop; keeping them right makes no change to sync."""

from __future__ import annotations

import csv
import datetime as dt
import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

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
    assert "0 customers changed" in cli(seeded, "classify")  # the seed stored them already
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


def test_a_customer_just_written_comes_back_with_its_classes(db_path: Path) -> None:
    """What `crm customers add` and `edit` print is what `show` prints: the record a
    write returns holds its classes, not blanks waiting for the next read."""
    added = json.loads(cli(db_path, "customers", "add", "--name", "张伟", "--json"))
    shown = json.loads(cli(db_path, "customers", "show", added["id"], "--json"))
    assert (added["status"], added["lifecycle_stage"], added["tier"]) == (
        shown["status"], shown["lifecycle_stage"], shown["tier"]) != (None, None, None)
    edited = json.loads(cli(db_path, "customers", "edit", added["id"], "--notes", "回访", "--json"))
    assert edited["tier"] == shown["tier"] and edited["status"] == shown["status"]
    assert "potential" in cli(db_path, "customers", "show", cli(db_path, "customers", "add", "--name", "李娜").strip())


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


class WholeBook:
    """Counts the classifications of the whole book that keeping classes current
    makes, and checks a laptop's shown classes against a classification of its whole
    book (`crm classify --dry-run`, which stores nothing)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import crm_tui.api.classes as classes_api

        self.count = 0
        full = classes_api.book_facts

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return full(*args, **kwargs)

        monkeypatch.setattr(classes_api, "book_facts", counted)

    def check(self, rep: Any, *, incremental: bool = True) -> dict[str, tuple[str, str, str]]:
        self.count = 0
        shown = {c["id"]: (c["status"], c["lifecycle_stage"], c["tier"]) for c in rep.json("customers", "list")}
        assert not (incremental and self.count), "a few writes classified the whole book again"
        whole = {c["id"]: (c["status"], c["lifecycle_stage"], c["tier"])
                 for c in rep.json("classify", "--dry-run")}
        assert shown == whole
        return shown


def test_classes_after_every_kind_of_write_are_the_whole_books(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real CLI on a laptop that syncs with a real server: after each kind
    of write (add, edit, bulk update, import, override, refund, moving or deleting an
    order, a merge and its undoing, a pulled change, a pulled delete, a conflict resolved, an erase, a delete)
    the classes the customer list shows are those a classification of the whole book
    gives; and the local writes got there without classifying the whole book. (The
    server's store plays no part in it: SQLite only.)"""
    from sync_server import Rep, Server

    book = WholeBook(monkeypatch)
    server = Server(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        li, wang = Rep(tmp_path, "li"), Rep(tmp_path, "wang")
        li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--role", "manager"))
        wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--role", "manager"))
        li.crm("seed", "--customers", "80")
        with sqlite3.connect(li.env["CRM_DB"]) as conn:  # made up on purpose: this test's server is its own
            conn.execute("UPDATE replica SET made_up = 0")
        li.crm("sync")
        wang.crm("sync")
        first = book.check(li, incremental=False)
        ranked = sorted(li.json("classify", "--dry-run"), key=lambda c: c["value"])
        low, mid, top = ranked[0]["id"], ranked[len(ranked) // 2]["id"], ranked[-1]["id"]
        big = 10 * max(ranked[-1]["value"], 1.0)
        orders = Counter(o["customer_id"] for o in li.json("orders", "list"))
        single = [cid for cid, n in orders.items() if n == 1 and cid not in (low, mid, top)]

        new = li.json("customers", "add", "--name", "新客户", "--region", "华东")["id"]
        book.check(li)
        li.crm("customers", "edit", mid, "--notes", "一次编辑")
        book.check(li)
        order = li.json("orders", "add", "--customer", low, "--product", "设备", "--amount", str(big))["id"]
        after = book.check(li)
        assert after[low][2] == "A" and after != first  # the lowest became the biggest: tiers moved
        li.crm("visits", "add", "--customer", top, "--channel", "phone", "--purpose", "visit")
        book.check(li)
        li.crm("classify", "override", mid, "--tier", "A", "--reason", "战略客户")
        assert book.check(li)[mid][2] == "A"
        li.crm("orders", "refund", order)
        assert book.check(li)[low][2] != "A"
        li.crm("customers", "update", "--where", "region=华东", "--set", "territory=浦东片区")
        book.check(li)
        rows = tmp_path / "orders.csv"
        rows.write_text(f"customer_id,ordered_at,product,amount\n{new},2026-01-05,设备,{big}\n"
                        f"{mid},2026-01-06,配件,10\n", encoding="utf-8")
        li.crm("orders", "import", str(rows))
        assert book.check(li)[new][2] == "A"
        people = tmp_path / "customers.csv"
        people.write_text("name,company,mobile\n赵六,六合商贸,13900001111\n", encoding="utf-8")
        li.crm("customers", "import", str(people))
        book.check(li)
        # A customer's only order moves to another customer, another's only order goes:
        # both lose their sales (what the order was is in the change's old values).
        moved = li.json("orders", "list", "--customer", single[0])[0]["id"]
        li.crm("orders", "edit", moved, "--customer", new)
        assert book.check(li)[single[0]][0] == "potential"
        gone = li.json("orders", "list", "--customer", single[1])[0]["id"]
        li.crm("orders", "delete", gone, "--yes")
        assert book.check(li)[single[1]][0] == "potential"
        # A merge moves a customer's orders to another and deletes it; an unmerge undoes it.
        li.crm("customers", "merge", single[3], single[4])
        merged = book.check(li)
        assert single[4] not in merged
        [merge] = li.json("customers", "merges", "--customer", single[3])
        li.crm("customers", "unmerge", merge["id"])
        assert single[4] in book.check(li)

        # Another laptop's writes arrive by a pull: a big order, an order cancelled, a
        # customer's only order deleted (a pulled delete carries no customer), a
        # customer deleted.
        li.crm("sync")
        wang.crm("sync")
        wang_orders = wang.json("orders", "list", "--customer", top)
        wang.json("orders", "add", "--customer", mid, "--product", "设备", "--amount", str(big))
        wang.crm("orders", "edit", wang_orders[0]["id"], "--status", "cancelled")
        only = wang.json("orders", "list", "--customer", single[2])[0]["id"]
        wang.crm("orders", "delete", only, "--yes")
        wang.crm("customers", "delete", ranked[-2]["id"], "--yes")
        wang.crm("sync")
        li.crm("sync")
        after = book.check(li, incremental=True)
        assert ranked[-2]["id"] not in after and after[single[2]][0] == "potential"

        # The same order's amount edited on both laptops: a conflict, resolved here. (An
        # order without lines: one with lines keeps the amount its lines come to.)
        disputed = li.json("orders", "add", "--customer", new, "--product", "设备", "--amount", "5")["id"]
        li.crm("sync")
        wang.crm("sync")
        li.crm("orders", "edit", disputed, "--amount", "1")
        wang.crm("orders", "edit", disputed, "--amount", str(2 * big))
        wang.crm("sync")
        li.crm("sync")
        book.check(li, incremental=False)
        conflicts = li.json("conflicts", "list")
        assert conflicts, "the two edits of one amount make a conflict"
        li.crm("conflicts", "resolve", str(conflicts[0]["id"]), "--keep", "mine")
        book.check(li, incremental=False)
        li.crm("customers", "erase", low, "--reason", "asked by letter", "--yes")
        book.check(li, incremental=False)
        li.crm("customers", "delete", top, "--yes")
        assert top not in book.check(li)
    finally:
        server.stop()


def test_classes_after_writes_the_change_log_does_not_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused change given up (its record goes back without capture) and customers
    that leave a rep's view (removed with their history): the classes shown are still
    the whole book's."""
    from sync_server import Rep, Server

    book = WholeBook(monkeypatch)
    server = Server(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        boss, wang = Rep(tmp_path, "boss"), Rep(tmp_path, "wang")
        boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
        boss.crm("seed", "--customers", "80")
        with sqlite3.connect(boss.env["CRM_DB"]) as conn:  # made up on purpose: this test's server is its own
            conn.execute("UPDATE replica SET made_up = 0")
        boss.crm("sync")
        territories = Counter(c["territory"] for c in boss.json("customers", "list"))
        (east, _), (west, _) = territories.most_common(2)
        wang.crm("login", "--server", server.url, "--token",
                 server.add_rep("wang", "--territory", east, "--territory", west))
        wang.crm("sync")
        book.check(wang, incremental=False)

        # Not his territory: the server refuses the customer and its order, and he
        # gives them up; the biggest customer goes, every tier moves back.
        stray = wang.json("customers", "add", "--name", "外区客户", "--territory", "nowhere")["id"]
        wang.crm("orders", "add", "--customer", stray, "--product", "设备", "--amount", "100000000")
        assert book.check(wang)[stray][2] == "A"
        assert wang.json("sync")["rejected"] == 2
        book.check(wang, incremental=False)
        kept = next(cid for cid in book.check(wang) if cid != stray)
        wang.crm("customers", "edit", kept, "--notes", "an edit logged after the refused ones")
        book.check(wang)
        for refused in reversed(wang.json("sync", "rejected")):
            wang.crm("sync", "rejected", "discard", str(refused["id"]))
        assert stray not in book.check(wang, incremental=False)

        # One territory taken away: its customers leave this laptop with their history.
        result = runner.invoke(app, ["server", "set-rep", "wang", "--territory", east, "--db", server.url_db])
        assert result.exit_code == 0, result.output
        stays = next(c["id"] for c in wang.json("customers", "list") if c["territory"] == east)
        wang.crm("customers", "edit", stays, "--notes", "an edit logged after the leaving customers' history")
        before = book.check(wang)
        wang.crm("sync")
        after = book.check(wang, incremental=False)
        assert 0 < len(after) < len(before)
    finally:
        server.stop()


def test_a_pulled_delete_that_names_no_customer(db_path: Path) -> None:
    """A change on the wire need not carry the values it replaced: a pulled delete of
    an order without them does not say whose order it was, and the classes of that
    customer are still brought up to date (the whole book is classified again)."""
    from crm_tui.api.sync_apply import apply_batch
    from crm_tui.sync import clock
    from crm_tui.sync.merge import Change

    cli(db_path, "seed", "--customers", "120")
    with Crm(db_path) as crm:
        crm.analytics.ensure_classes()
        orders = Counter(o["customer_id"] for o in crm.orders.find())
        single = next(cid for cid, n in orders.items() if n == 1)
        assert crm.customers.get(single)["status"] != "potential"
        [order] = [o for o in crm.orders.find() if o["customer_id"] == single]
        delete = Change(node="elsewhere", node_seq=1, hlc=clock.pack(clock.now_ms() + 1000, 0), tbl="orders",
                        row_id=order["id"], op="delete", data={}, old=None, rep="boss")
        assert apply_batch(crm.conn, [delete], cursor=1).set_aside == 0
        stored = {c["id"]: (c["status"], c["lifecycle_stage"], c["tier"]) for c in crm.customers.find()}
        assert stored[single][0] == "potential"
        assert stored == {c.customer_id: (c.status, c.lifecycle_stage, c.tier)
                          for c in crm.analytics.classify_customers(store=False)}


def test_crm_report_for_one_rep_ranks_tiers_on_the_whole_book(db_path: Path, tmp_path: Path) -> None:
    """`crm report --rep li` counts li's customers by the tier `crm classify` gives
    them among everyone's: ranked among li's customers alone, li's biggest would be A."""
    with Crm(db_path, rep="wang", now=lambda: NOW) as crm:
        whale = crm.customers.create({"name": "大客户"}, owner="wang")
        crm.orders.create({"customer_id": whale["id"], "ordered_at": "2026-11-02", "product": "茶", "amount": 90000})
        for i, amount in enumerate((3000, 200, 100)):
            mine = crm.customers.create({"name": f"李的客户{i}"}, owner="li")
            crm.orders.create({"customer_id": mine["id"], "ordered_at": "2026-11-03", "product": "茶",
                               "amount": amount})
    today = ("--today", NOW.date().isoformat())
    classes = json.loads(cli(db_path, "classify", "--json", *today))
    owners = {c["id"]: c["owner"] for c in json.loads(cli(db_path, "customers", "list", "--json"))}
    expected = Counter(c["tier"] for c in classes if owners[c["id"]] == "li")
    assert expected["A"] == 0  # the whale takes the A share of the whole book
    out = tmp_path / "li.csv"
    cli(db_path, "report", "--period", "2026-Q4", "--rep", "li", "--format", "csv", "-o", str(out), *today)
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    shown = {r[1]: int(r[3]) for r in rows if r and r[0] == "tier"}
    assert shown == {"A": 0, "B": expected["B"], "C": expected["C"]}
    assert sum(shown.values()) == 3
