"""No single pulled change can stop a laptop: changes written straight into a real
server's log (as an older server that checked nothing would have stored them) are
set aside, with the reason, by every laptop that pulls them, while the good changes
around them are applied, the sync completes, and later changes keep arriving."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from sync_server import Rep, Server

from crm_tui.api import Crm
from crm_tui.api.sync import Sync
from crm_tui.api.sync_apply import apply_batch, decode
from crm_tui.sync import clock

NOW = "2025-03-01T10:00:00.000Z"


def inject(server_db: str, changes: list[tuple[str, str, str, str]]) -> None:
    """(tbl, row_id, op, data JSON text) rows appended to the server's log by hand,
    from a node of an older server's era."""
    hlc = clock.pack(clock.now_ms(), 0)
    sql = ("INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep, pushed_by, received_at) "
           "VALUES ('oldnode', ?, ?, ?, ?, ?, ?, NULL, NULL, 'ghost', 'ghost', ?)")
    rows = [(i + 1, hlc + i, tbl, row, op, data, NOW) for i, (tbl, row, op, data) in enumerate(changes)]
    if server_db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(server_db) as pg:
            pg.cursor().executemany(sql.replace("?", "%s"), rows)
        return
    conn = sqlite3.connect(server_db.removeprefix("sqlite:///"))
    with conn:
        conn.executemany(sql, rows)
    conn.close()


def customer(name: str) -> str:
    return json.dumps({"name": name, "owner": "ghost", "created_at": NOW, "updated_at": NOW})


def test_poison_changes_are_set_aside_by_every_laptop(server: Server, tmp_path: Path) -> None:  # noqa: F811
    wang, li = Rep(tmp_path, "wang"), Rep(tmp_path, "li")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--role", "manager"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--role", "manager"))
    before = wang.json("customers", "add", "--name", "张伟")["id"]
    wang.crm("sync")
    li.crm("sync")

    poison = [
        ("visits", "V-orphan", "insert", json.dumps({"customer_id": "nobody", "visited_at": "2025-03-01T00:00:00",
                                                     "channel": "phone", "purpose": "visit"})),
        ("customers", "C-null", "insert", json.dumps({"name": None, "created_at": NOW, "updated_at": NOW})),
        ("customers", "C-good-1", "insert", customer("好客户一")),  # valid, between the bad ones
        ("customers", "C-list", "insert", json.dumps({"name": "列表", "tags": ["a", "b"]})),
        ("orders", "O-huge", "insert", json.dumps({"customer_id": before, "ordered_at": "2025-03-01",
                                                   "product": "tea", "quantity": 2**70, "amount": 1})),
        ("orders", "O-nan", "insert", json.dumps({"customer_id": before, "ordered_at": "2025-03-01",
                                                  "product": "tea", "amount": float("nan")})),  # NaN, as JSON
        ("customers", before, "update", json.dumps({'no"tes': "a key with a quote"})),
        ("customers", before, "update", json.dumps({"name": None})),
        ("customers", "C-surrogate", "insert", '{"name": "bad \\ud800 text"}'),
        ("zzz", "Z1", "insert", json.dumps({"anything": 1})),
        ("customers", "C-notdict", "insert", json.dumps(["not", "an", "object"])),
        ("customers", before, "update", json.dumps({"notes": "a good edit after the bad ones"})),
        ("customers", "C-good-2", "insert", customer("好客户二")),
    ]
    inject(server.url_db, poison)
    after = wang.json("customers", "add", "--name", "李娜")["id"]  # pushed after the poison
    bad = len(poison) - 3

    for rep in (wang, li):
        report = rep.json("sync")  # completes: exit code 0
        assert report["set_aside"] == bad
        assert rep.json("sync", "--status")["set_aside"] == bad
        rows = rep.json("sync", "set-aside")
        assert len(rows) == bad and all(r["reason"] for r in rows)
        reasons = {r["row_id"] or r["tbl"]: (r["code"], r["reason"]) for r in rows}
        assert reasons["V-orphan"][0] == "constraint" and "nobody" in reasons["V-orphan"][1]
        assert "name" in reasons["C-null"][1] and "required" in reasons["C-null"][1]
        assert "tags" in reasons["C-list"][1] and "list" in reasons["C-list"][1]
        assert "64 bits" in reasons["O-huge"][1] and "finite" in reasons["O-nan"][1]
        assert reasons["Z1"][0] == "unknown_table"
        assert "surrogates" in reasons["C-surrogate"][1]
        assert any('no"tes' in r["reason"] for r in rows)  # the key with a quote
        assert reasons["C-notdict"][0] == "malformed"
        with Crm(rep.env["CRM_DB"]) as crm:
            names = {c["name"] for c in crm.customers.find()}
            assert {"好客户一", "好客户二", "李娜"} <= names and "列表" not in names
            assert crm.customers.get(before)["name"] == "张伟"  # the null name did not land
            assert crm.customers.get(before)["notes"] == "a good edit after the bad ones"
            assert crm.orders.count() == 0 and crm.visits.count() == 0
            logged = {r[0] for r in crm.conn.execute("SELECT row_id FROM change_log")}
            assert not logged & {"V-orphan", "C-null", "C-list", "O-huge", "O-nan", "Z1"}

    # Settled: the next syncs set nothing aside again and still receive new changes.
    assert li.json("sync")["set_aside"] == 0
    wang.crm("customers", "edit", after, "--notes", "later edit")
    wang.crm("sync")
    report = li.json("sync")
    assert report["pulled"] == 1 and report["set_aside"] == 0
    assert li.json("customers", "show", after)["notes"] == "later edit"
    out = li.crm("sync", "--status")
    assert f"set aside: {bad} pulled changes" in out


def test_one_bad_change_does_not_roll_back_its_batch(tmp_path: Path) -> None:
    """Per-change savepoints: in one batch, the changes around a failing one are all
    applied and the cursor moves; the failing one is set aside with its reason."""
    crm = Crm(tmp_path / "a.db")
    hlc = clock.pack(clock.now_ms(), 0)
    raw = [{"node": "x", "node_seq": i + 1, "hlc": hlc + i, "tbl": "customers", "row_id": f"c{i}", "op": "insert",
            "data": {"name": f"客户{i}"}, "rep": "x"} for i in range(50)]
    raw[20]["data"] = {"name": None}       # fails only when written (NOT NULL)
    raw[30] = {"node": "x", "node_seq": 31}  # not a change at all
    report = apply_batch(crm.conn, [decode(c) for c in raw], cursor=77)
    assert (report.received, report.set_aside) == (48, 2)
    assert crm.customers.count() == 48
    assert crm.conn.execute("SELECT cursor FROM sync_state").fetchone()[0] == 77
    assert crm.customers.search("客户49")[0]["name"] == "客户49"  # indexed for search
    # The same page again (a lost answer): all duplicates, nothing set aside twice.
    again = apply_batch(crm.conn, [decode(c) for c in raw], cursor=77)
    assert (again.received, again.duplicates, again.set_aside) == (0, 50, 0)
    crm.close()


def test_changes_set_aside_by_an_older_version_are_tried_after_an_upgrade(tmp_path: Path) -> None:
    """A change that an older crm_tui set aside (a table or column it did not know)
    is applied by the next sync once the database is at a newer schema; one set aside
    under this schema stays set aside."""
    from crm_tui.api.sync import Sync, SyncReport
    from crm_tui.db import sync_state as sql
    from crm_tui.db.migrations import SCHEMA_VERSION

    crm = Crm(tmp_path / "a.db")
    hlc = clock.pack(clock.now_ms(), 0)
    known = {"node": "x", "node_seq": 1, "hlc": hlc, "tbl": "customers", "row_id": "c1", "op": "insert",
             "data": {"name": "新表的客户"}, "rep": "x"}
    future = {**known, "node_seq": 2, "row_id": "c2", "data": {"name": "未来", "future_column": 1}}
    with crm.conn:
        crm.conn.execute("BEGIN")
        sql.set_aside(crm.conn, [sql.SetAside("x", 1, None, "customers", "c1", "insert", json.dumps(known),
                                              "unknown_table", "made up by an older version")], SCHEMA_VERSION - 1)
    assert apply_batch(crm.conn, [decode(future)], cursor=0).set_aside == 1  # this version sets it aside

    class Hello:
        max_offset_ms, server_time_ms = 60_000, clock.now_ms()

    report = SyncReport()
    Sync(crm)._retry_set_aside(Hello(), report)  # type: ignore[arg-type] - the step of Sync.run
    assert report.pulled == 1
    assert crm.customers.get("c1")["name"] == "新表的客户"
    assert [r["row_id"] for r in Sync(crm).set_aside()] == ["c2"]
    crm.close()


def test_a_record_set_aside_for_a_missing_customer_is_applied_once_the_customer_arrives(tmp_path: Path) -> None:
    from crm_tui.api.sync import Sync, SyncReport

    crm = Crm(tmp_path / "a.db")
    hlc = clock.pack(clock.now_ms(), 0)
    visit = {"node": "x", "node_seq": 2, "hlc": hlc + 1, "tbl": "visits", "row_id": "v1", "op": "insert",
             "data": {"customer_id": "c1", "visited_at": "2026-11-30T10:00:00", "channel": "phone",
                      "purpose": "visit"}, "rep": "x"}
    customer = {"node": "y", "node_seq": 1, "hlc": hlc, "tbl": "customers", "row_id": "c1", "op": "insert",
                "data": {"name": "晚到的客户"}, "rep": "y"}
    assert apply_batch(crm.conn, [decode(visit)], cursor=1).set_aside == 1
    assert apply_batch(crm.conn, [decode(customer)], cursor=2).received == 1

    class Hello:
        max_offset_ms, server_time_ms = 60_000, clock.now_ms()

    report = SyncReport()
    Sync(crm)._retry_set_aside(Hello(), report)  # type: ignore[arg-type] - the last step of Sync.run
    assert report.pulled == 1 and report.set_aside == 0 and Sync(crm).set_aside() == []
    assert [v["customer_id"] for v in crm.visits.find()] == ["c1"]
    crm.close()


def test_an_unreadable_change_is_set_aside_on_a_laptop_that_holds_an_erasure(
        server: Server, tmp_path: Path) -> None:  # noqa: F811
    """Erase enforcement reads every change of a pulled batch: one that cannot be
    decoded is set aside, never read as a change (it used to stop the sync with an
    AttributeError once the laptop held any erasure)."""
    wang = Rep(tmp_path, "wang")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--role", "manager"))
    gone = wang.json("customers", "add", "--name", "待删除")["id"]
    wang.crm("sync")  # the laptop learns its rep is a manager, who may erase
    assert wang.json("customers", "erase", gone, "--yes")["erased"]
    wang.crm("sync")
    inject(server.url_db, [("customers", "C-notdict", "insert", json.dumps(["not", "an", "object"])),
                           ("customers", "C-good", "insert", customer("好客户"))])
    report = wang.json("sync")
    assert report["set_aside"] == 1
    assert wang.json("customers", "show", "C-good")["name"] == "好客户"


def _page_with_bad_changes(n: int) -> tuple[list[dict], list[dict]]:
    """(first page, second page): the first gives records a history; the second mixes
    new customers with their visits and orders, edits of both (two reps at once on
    one field: conflicts), and changes that fail only when written: visits of a
    customer never received (each edited later), an order of that customer, and
    text that is not Unicode."""
    hlc = clock.pack(clock.now_ms(), 0)
    seq = {"x": 0, "y": 0}

    def change(node: str, tbl: str, row_id: str, op: str, data: dict, base: dict | None = None) -> dict:
        seq[node] += 1
        return {"node": node, "node_seq": seq[node], "hlc": hlc + seq["x"] + seq["y"], "tbl": tbl,
                "row_id": row_id, "op": op, "data": data, "base": base, "rep": node}

    def visit(cid: str) -> dict:
        return {"customer_id": cid, "visited_at": "2026-11-30T10:00:00", "channel": "phone", "purpose": "visit",
                "created_at": NOW, "updated_at": NOW}

    first = [change("x", "customers", f"old{i}", "insert", {"name": f"老客户{i}", "notes": "before",
                                                               "created_at": NOW, "updated_at": NOW})
             for i in range(10)]
    base = {"notes": [first[0]["hlc"], "x"]}
    second = []
    for i in range(n):
        cid = f"new{i}"
        second.append(change("x", "customers", cid, "insert", {"name": f"客户{i}", "company": f"公司{i % 7}",
                                                                   "created_at": NOW, "updated_at": NOW}))
        second.append(change("y", "visits", f"v{i}", "insert", visit(cid)))
        second.append(change("x", "orders", f"o{i}", "insert", {"customer_id": cid, "ordered_at": "2026-11-30",
                                                                "product": "茶", "amount": i, "created_at": NOW,
                                                                "updated_at": NOW}))
        if i % 5 == 0:
            old = f"old{i % 10}"
            second.append(change("x", "customers", old, "update", {"notes": f"x {i}"}, base))
            second.append(change("y", "customers", old, "update", {"notes": f"y {i}"}, base))  # concurrent
            second.append(change("y", "customers", cid, "update", {"name": f"改名{i}"}))
        if i in (n // 3, 2 * n // 3):
            second.append(change("y", "visits", f"orphan{i}", "insert", visit("never-received")))
            second.append(change("y", "visits", f"orphan{i}", "update", {"notes": "edited"}))
        if i == n // 4:  # alone: known to fail before anything is written
            second.append(change("y", "orders", "lone-orphan", "insert", {
                "customer_id": "never-received", "ordered_at": "2026-11-30", "product": "茶", "amount": 1,
                "created_at": NOW, "updated_at": NOW}))
        if i == n // 2:
            second.append(change("x", "customers", "surrogate", "insert", {"name": "bad \ud800 text"}))
    return first, second


def _replica_state(crm: Crm) -> dict[str, list]:
    """Everything a pulled page leaves behind, but for local numbering and times."""
    q = crm.conn.execute
    return {
        "customers": [tuple(r) for r in q("SELECT * FROM customers ORDER BY id")],
        "visits": [tuple(r) for r in q("SELECT * FROM visits ORDER BY id")],
        "orders": [tuple(r) for r in q("SELECT * FROM orders ORDER BY id")],
        "search": [tuple(r) for r in q("SELECT c.id, s.text FROM customers c JOIN customer_search_text s "
                                       "ON s.local_id = c.local_id ORDER BY c.id")],
        "log": sorted(tuple(r) for r in q("SELECT node, node_seq, hlc, tbl, row_id, op, data, old, base, rep "
                                          "FROM change_log")),
        "set_aside": sorted(tuple(r) for r in q("SELECT node, node_seq, tbl, row_id, op, code, reason "
                                                "FROM set_aside")),
        "conflicts": sorted(tuple(r) for r in q(
            "SELECT tbl, row_id, field, winner_value, winner_hlc, winner_node, loser_value, loser_hlc, "
            "loser_node, resolution FROM conflicts")),
        "cursor": [q("SELECT cursor FROM sync_state").fetchone()[0]],
    }


def test_a_bad_change_in_a_page_leaves_the_rest_of_the_page_to_the_bulk_path(tmp_path: Path) -> None:
    """A page holding changes that fail only when written applies every good change
    exactly as applying the page change by change does (tables, search index, log,
    conflicts), sets the bad ones aside with the same reasons, and does not write
    the rest of the page change by change (one savepoint each): it used to, at a
    hundred times the cost of the bulk path."""
    from crm_tui.api.sync import DERIVE
    first, second = _page_with_bad_changes(120)
    bulk, each = Crm(tmp_path / "bulk.db"), Crm(tmp_path / "each.db")
    for crm in (bulk, each):
        apply_batch(crm.conn, [decode(c) for c in first], cursor=1, derive=DERIVE)
    savepoints: list[str] = []
    bulk.conn.set_trace_callback(lambda s: savepoints.append(s) if s.startswith("SAVEPOINT sp_") else None)
    report = apply_batch(bulk.conn, [decode(c) for c in second], cursor=2, derive=DERIVE)
    bulk.conn.set_trace_callback(None)
    for c in second:  # the reference: every change in its own transaction
        apply_batch(each.conn, [decode(c)], cursor=2, derive=DERIVE)

    assert report.set_aside == 4 and report.received == len(second) - 4
    assert report.conflicts > 0
    assert _replica_state(bulk) == _replica_state(each)
    reasons = {r["row_id"]: (r["code"], r["reason"]) for r in Sync(bulk).set_aside()}
    assert reasons["orphan40"][0] == "constraint" and "never-received" in reasons["orphan40"][1]
    assert reasons["orphan80"][0] == "constraint"
    assert reasons["lone-orphan"] == ("constraint", "orders.customer_id: customers 'never-received' does not exist here")
    assert "surrogate" in reasons["surrogate"][1]
    assert bulk.customers.search("改名60")[0]["id"] == "new60"
    # The edit of a visit never written is kept in the log, as an edit of a deleted record is.
    assert bulk.visits.count() == 120 and bulk.conn.execute(
        "SELECT count(*) FROM change_log WHERE row_id LIKE 'orphan%'").fetchone()[0] == 2
    # Cut around the bad changes, not change by change: a few dozen savepoints, not ~500.
    assert len(savepoints) < 60, len(savepoints)
    bulk.close()
    each.close()


def _page_editing_held_records(failing: bool) -> tuple[list[dict], list[dict]]:
    """(first page, second page): the first gives ten customers, each with a visit
    and an order, a history here; the second edits them (several sets of columns
    per table, as a team's edits do), moves a visit to a customer inserted earlier
    in the same page, deletes a customer (its cascade removes a visit and an order
    edited in the page) and points an order at it; with `failing`, also points a
    visit at a customer never received (that edit fails when written and is set
    aside)."""
    hlc = clock.pack(clock.now_ms(), 0)
    seq = {"x": 0, "y": 0}

    def change(node: str, tbl: str, row_id: str, op: str, data: dict) -> dict:
        seq[node] += 1
        return {"node": node, "node_seq": seq[node], "hlc": hlc + seq["x"] + seq["y"], "tbl": tbl,
                "row_id": row_id, "op": op, "data": data, "base": None, "rep": node}

    first = []
    for i in range(10):
        first += [
            change("x", "customers", f"c{i}", "insert", {"name": f"老客户{i}", "created_at": NOW, "updated_at": NOW}),
            change("x", "visits", f"v{i}", "insert", {"customer_id": f"c{i}", "visited_at": "2026-11-30T10:00:00",
                                                      "channel": "phone", "purpose": "visit", "created_at": NOW,
                                                      "updated_at": NOW}),
            change("x", "orders", f"o{i}", "insert", {"customer_id": f"c{i}", "ordered_at": "2026-11-30",
                                                      "product": "茶", "amount": i, "created_at": NOW,
                                                      "updated_at": NOW})]
    second = [change("y", "customers", "new", "insert", {"name": "新客户", "created_at": NOW, "updated_at": NOW})]
    for i in range(10):
        second += [change("y", "customers", f"c{i}", "update", {"notes": f"备注{i}", "updated_at": NOW}),
                   change("y", "visits", f"v{i}", "update", {"notes": f"拜访{i}"}),
                   change("y", "orders", f"o{i}", "update", {"amount": 100 + i})]
        if i % 3 == 0:
            second.append(change("y", "customers", f"c{i}", "update", {"name": f"改名{i}"}))  # the search index
    second += [
        change("y", "visits", "v1", "update", {"customer_id": "new", "notes": "转到新客户"}),
        change("y", "customers", "c3", "delete", {}),  # after the edits of v3 and o3 (above), before these
        change("y", "visits", "v3", "update", {"outcome": "删除之后"}),
        change("y", "orders", "o5", "update", {"customer_id": "c3", "amount": 5555}),  # to the deleted customer
        change("y", "visits", "v9", "update", {"outcome": "最后"}),
    ]
    if failing:
        second.insert(-1, change("y", "visits", "v8", "update", {"customer_id": "never-received"}))
    return first, second


def _apply_bulk_and_each(tmp_path: Path, failing: bool) -> tuple[Crm, Crm, Any, list[Any]]:
    """The second page of _page_editing_held_records applied at once on one laptop
    and change by change on another, after the first page on both."""
    from crm_tui.api.sync import DERIVE
    first, second = _page_editing_held_records(failing)
    bulk, each = Crm(tmp_path / "bulk.db"), Crm(tmp_path / "each.db")
    for crm in (bulk, each):
        apply_batch(crm.conn, [decode(c) for c in first], cursor=1, derive=DERIVE)
    report = apply_batch(bulk.conn, [decode(c) for c in second], cursor=2, derive=DERIVE)
    # the reference: every change in its own transaction
    reports = [apply_batch(each.conn, [decode(c)], cursor=2, derive=DERIVE) for c in second]
    return bulk, each, report, reports


def test_edits_of_held_records_are_written_as_one_by_one(tmp_path: Path) -> None:
    """The edits of records this laptop holds (the usual merged change of a first
    sync: a record inserted by an earlier page, edited in this one) leave the
    tables, search index, log and conflicts exactly as applying the page change by
    change does, with a delete's cascade and an edit pointing at the deleted
    customer among them."""
    bulk, each, report, reports = _apply_bulk_and_each(tmp_path, failing=False)
    assert report.set_aside == 0
    assert _replica_state(bulk) == _replica_state(each)
    assert (report.conflicts, report.rows_deleted) == (sum(r.conflicts for r in reports), 1)  # c3
    assert report.orphans == 3  # v3 and o3 (gone with c3 before their edits are written), o5 (pointed at c3)
    # A conflict found in the page on a record the page deletes is settled with it, not left to review.
    assert report.conflicts > 0 and "c3" not in [c["row_id"] for c in Sync(bulk).conflicts()]
    state = _replica_state(bulk)
    assert [r[0] for r in state["visits"]] == [f"v{i}" for i in range(10) if i != 3]
    assert {"o3", "o5"}.isdisjoint(r[0] for r in state["orders"])
    assert bulk.visits.get("v1")["customer_id"] == "new" and bulk.visits.get("v9")["outcome"] == "最后"
    assert bulk.orders.get("o7")["amount"] == 107
    assert bulk.customers.search("改名6")[0]["id"] == "c6"
    bulk.close()
    each.close()


def test_an_edit_of_a_held_record_that_fails_when_written_is_set_aside_alone(tmp_path: Path) -> None:
    """Among the edits written in bulk, one naming a customer never received fails
    when written: it alone is set aside, with the reason, and the rest leave the
    laptop as applying the page change by change does."""
    bulk, each, report, _ = _apply_bulk_and_each(tmp_path, failing=True)
    assert report.set_aside == 1
    assert _replica_state(bulk) == _replica_state(each)
    (aside,) = Sync(bulk).set_aside()
    assert (aside["row_id"], aside["code"]) == ("v8", "constraint") and "never-received" in aside["reason"]
    assert bulk.visits.get("v8")["customer_id"] == "c8" and bulk.visits.get("v9")["outcome"] == "最后"
    bulk.close()
    each.close()
