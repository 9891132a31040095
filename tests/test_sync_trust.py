"""The server trusts no pushed change the client's own rules would refuse: changes
written by hand, as an attacker with a rep's token would write them, against a real
`crm server serve` on 127.0.0.1 (SQLite and PostgreSQL). Forged erase-request
decisions, malformed merges and records in a state no workflow reaches are refused
with the field and the reason; a laptop that pulls such a change anyway (a server from
before the rule stored it) sets it aside and applies the rest of the page."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from sync_server import Rep, Server, free_port, runner
from test_sync_poison import inject

from crm_tui.api import Crm
from crm_tui.api.order_import import import_lines
from crm_tui.api.sync import Sync
from crm_tui.cli import app
from crm_tui.domain.orders import LineSpec
from crm_tui.sync import clock
from crm_tui.sync.client import SyncClient
from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION

DECIDED = {"decided_by": "boss", "decided_at": "2026-11-30T10:00:00"}
VISIT = {"visited_at": "2025-01-02T09:00:00", "channel": "phone", "purpose": "visit"}



class Hand:
    """Pushes written by hand with one token, from one node of its own."""

    def __init__(self, server: Server, token: str, node: str):
        self.server, self.token, self.node, self.seq = server, token, node, 0

    def push(self, tbl: str, row_id: str, op: str, data: dict[str, Any]) -> dict[str, Any]:
        """One change; what the server said of it: {'code': 'ok'} or its refusal."""
        self.seq += 1
        change = {"node": self.node, "node_seq": self.seq, "hlc": clock.pack(clock.now_ms(), self.seq),
                  "tbl": tbl, "row_id": row_id, "op": op, "data": data}
        r = httpx.post(self.server.url + "/v1/push", json={"node": self.node, "changes": [change]},
                       headers={"Authorization": f"Bearer {self.token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)})
        assert r.status_code in (200, 403), r.text
        return {"code": "ok"} if r.status_code == 200 else r.json()["refused"][0]


def team(server: Server, tmp_path: Path) -> tuple[dict[str, str], Rep, Rep]:
    """wang (a rep of the east) and boss (a manager), each on a laptop."""
    tokens = {"wang": server.add_rep("wang", "--territory", "east"),
              "boss": server.add_rep("boss", "--role", "manager")}
    wang, boss = Rep(tmp_path, "wang"), Rep(tmp_path, "boss")
    wang.crm("login", "--server", server.url, "--token", tokens["wang"])
    boss.crm("login", "--server", server.url, "--token", tokens["boss"])
    return tokens, wang, boss


def test_a_rep_cannot_forge_or_change_a_managers_erase_decision(server: Server, tmp_path: Path) -> None:
    tokens, wang, boss = team(server, tmp_path)
    cid = wang.json("customers", "add", "--name", "慕容复")["id"]
    wang.crm("sync")
    # The product's way: wang's erase is a request, pending, which the server takes.
    asked = wang.json("customers", "erase", cid, "--yes", "--reason", "asked by phone")
    request = asked["request"]["id"]
    assert asked["erased"] is False and wang.json("sync")["rejected"] == 0

    hand = Hand(server, tokens["wang"], "wang-hand")
    filed = {"customer_id": cid, "requested_by": "wang", "reason": "x"}
    said = {
        "forged approval": hand.push("erase_requests", "R1", "insert", {**filed, "status": "done", **DECIDED}),
        "forged decline": hand.push("erase_requests", "R2", "insert", {**filed, "status": "declined", **DECIDED,
                                                                       "decision_reason": "no"}),
        "pending but decided": hand.push("erase_requests", "R3", "insert", {**filed, "status": "pending",
                                                                            "decided_by": "boss"}),
        "approve the request": hand.push("erase_requests", request, "update", {"status": "done", **DECIDED}),
        "decided fields alone": hand.push("erase_requests", request, "update", {"decision_reason": "ok"}),
        "rewrite its reason": hand.push("erase_requests", request, "update", {"reason": "changed"}),
        "withdraw it": hand.push("erase_requests", request, "delete", {}),
        "erase outright": hand.push("erasures", cid, "insert", {"erased_at": "2026-11-30T10:00:00",
                                                                "erased_by": "boss"}),
        "filed in another's name": hand.push("erase_requests", "R6", "insert", {**filed, "status": "pending",
                                                                                "requested_by": "li"}),
        "a request, as filed": hand.push("erase_requests", "R4", "insert", {**filed, "status": "pending"}),
    }
    codes = {what: r["code"] for what, r in said.items()}
    assert codes == {"forged approval": "forbidden", "forged decline": "forbidden", "pending but decided": "invalid",
                     "approve the request": "forbidden", "decided fields alone": "invalid",
                     "rewrite its reason": "forbidden", "withdraw it": "forbidden", "erase outright": "forbidden",
                     "filed in another's name": "forbidden", "a request, as filed": "ok"}
    # Each reason names the field and why.
    assert said["forged approval"]["reason"].startswith("status: only a manager decides an erase request")
    assert said["pending but decided"]["reason"].startswith("decided_by: a pending erase request has no decision")
    assert "only a manager changes or deletes an erase request" in said["withdraw it"]["reason"]
    assert said["filed in another's name"]["reason"].startswith("requested_by: must name the rep who files it, wang")
    # (A decision reason on a pending request is no request a manager left: invalid from anyone.)
    assert said["decided fields alone"]["reason"].startswith("decision_reason: a pending erase request")

    # Even a manager's decision must say who decided and when: the rule of a record is everyone's.
    manager = Hand(server, tokens["boss"], "boss-hand")
    bare = manager.push("erase_requests", "R5", "insert", {**filed, "status": "done"})
    assert bare["code"] == "invalid" and bare["reason"].startswith("decided_by: is required for an erase request")

    # The manager's laptop holds the two pending requests and no decision; nobody was erased.
    boss.crm("sync")
    requests = {r["id"]: r["status"] for r in boss.json("erase-requests", "list")}
    assert requests == {request: "pending", "R4": "pending"}
    assert boss.json("customers", "show", cid)["name"] == "慕容复"
    # The manager decides through the product: the server takes it.
    boss.crm("erase-requests", "approve", request, "--yes")
    assert boss.json("sync")["rejected"] == 0
    wang.crm("sync")
    assert {r["id"]: r["status"] for r in wang.json("erase-requests", "list")}[request] == "done"


def test_an_erase_request_filed_before_the_first_sync_is_the_logged_in_reps(server: Server,
                                                                           tmp_path: Path) -> None:
    """A laptop that logged in while its server could not be reached knows its rep
    only by the machine's login name until it reaches the server: the erase request
    it filed meanwhile is then filed in the name the token proves, as the rest of
    what the laptop made is re-owned, and the server takes it."""
    laptop = Rep(tmp_path, "zhao")
    laptop.env["USER"] = laptop.env["LOGNAME"] = "laptop-user"
    token = server.add_rep("zhao")
    unreachable = f"http://127.0.0.1:{free_port()}"
    laptop.crm("login", "--server", unreachable, "--token", token)  # saved, with a warning
    cid = laptop.json("customers", "add", "--name", "慕容复")["id"]
    request = laptop.json("customers", "erase", cid, "--yes")["request"]
    assert request["requested_by"] == "laptop-user"
    laptop.crm("login", "--server", server.url, "--token", token)
    report = laptop.json("sync")
    assert report["rejected"] == 0, laptop.json("sync", "rejected")
    assert {r["id"]: r["requested_by"] for r in laptop.json("erase-requests", "list")} == {request["id"]: "zhao"}
    boss = Rep(tmp_path, "boss")
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    boss.crm("sync")
    assert [(r["requested_by"], r["status"]) for r in boss.json("erase-requests", "list")] == [("zhao", "pending")]


def test_a_merge_record_is_refused_unless_an_unmerge_could_undo_it(server: Server, tmp_path: Path) -> None:
    tokens, wang, boss = team(server, tmp_path)
    keep = wang.json("customers", "add", "--name", "张伟")["id"]
    other = wang.json("customers", "add", "--name", "张 伟")["id"]
    moving = wang.json("visits", "add", "--customer", other, "--visited-at", "2025-01-02 09:00",
                       "--channel", "phone", "--purpose", "visit")["id"]
    third = wang.json("customers", "add", "--name", "李娜")["id"]
    stays = wang.json("visits", "add", "--customer", third, "--visited-at", "2025-01-03 09:00",
                      "--channel", "phone", "--purpose", "visit")["id"]
    wang.crm("sync")

    hand = Hand(server, tokens["wang"], "wang-hand")
    other_record = json.dumps({"name": "张 伟", "owner": "wang"})
    merge = {"customer_id": keep, "other_id": other, "merged_at": "2026-11-30T10:00:00", "status": "merged",
             "moved": json.dumps({"visits": [moving]}), "taken": json.dumps({}), "other_record": other_record}
    bad = {
        "itself": {**merge, "other_id": keep},
        "moved not JSON": {**merge, "moved": "garbage"},
        "moved a list": {**merge, "moved": json.dumps([moving])},
        "moved a customer": {**merge, "moved": json.dumps({"customers": [third]})},
        "moved ids not text": {**merge, "moved": json.dumps({"visits": [1, 2]})},
        "moved another's visit": {**merge, "moved": json.dumps({"visits": [stays]})},
        "moved before it moved": merge,  # the visit is still the other customer's
        "record without a name": {**merge, "other_record": json.dumps({"phone": "13611112222"})},
        "record not an object": {**merge, "other_record": json.dumps("张 伟")},
        "taken not a pair": {**merge, "taken": json.dumps({"email": "a@b.cn"})},
        "taken not a field": {**merge, "taken": json.dumps({"owner": ["wang", "li"]})},
        "taken a bad value": {**merge, "taken": json.dumps({"email": [None, "not an email"]})},
    }
    said = {what: hand.push("merges", f"M-{i}", "insert", data) for i, (what, data) in enumerate(bad.items())}
    assert {what: r["code"] for what, r in said.items()} == dict.fromkeys(bad, "invalid")
    reasons = {what: r["reason"] for what, r in said.items()}
    assert reasons["itself"].startswith("other_id: names the kept customer")
    assert reasons["moved a customer"].startswith("moved: 'customers' is not a kind of record a merge moves")
    assert reasons["moved another's visit"].startswith(f"moved: names visit '{stays}', which is not the kept")
    assert reasons["record without a name"].startswith("other_record: not the merged customer") \
        and "name" in reasons["record without a name"]
    assert reasons["taken a bad value"].startswith("taken: email: not a valid value")

    # The merge as a laptop writes it, by hand: the visit moves, then the record, then the delete.
    assert hand.push("visits", moving, "update", {"customer_id": keep})["code"] == "ok"
    assert hand.push("merges", "M-ok", "insert", merge)["code"] == "ok"
    assert hand.push("customers", other, "delete", {})["code"] == "ok"
    # What a merge wrote once stays: an edit may undo it, never rewrite what it moved.
    rewrite = hand.push("merges", "M-ok", "update", {"moved": json.dumps({"visits": [stays]})})
    assert rewrite["code"] == "invalid" and rewrite["reason"].startswith("moved: is written once")
    assert hand.push("merges", "M-ok", "update", {"status": "undone", "undone_at": "2026-11-30T11:00:00"},
                     )["code"] == "ok"

    # The product's own merge and unmerge pass the same rules, on both laptops.
    boss.crm("sync")
    again = wang.json("customers", "add", "--name", "李 娜")["id"]
    merged = wang.json("customers", "merge", third, again)
    assert wang.json("sync")["rejected"] == 0
    boss.crm("sync")
    assert boss.json("customers", "unmerge", merged["id"])["status"] == "undone"
    assert boss.json("sync")["rejected"] == 0


def test_a_record_pushed_in_a_state_no_workflow_reaches_is_refused(server: Server, tmp_path: Path) -> None:
    tokens, wang, _ = team(server, tmp_path)
    cid = wang.json("customers", "add", "--name", "王芳")["id"]
    opened = wang.json("complaints", "add", "--customer", cid, "--type", "delivery", "--description", "晚到",
                       "--priority", "high")["id"]
    wang.crm("sync")
    hand = Hand(server, tokens["wang"], "wang-hand")
    complaint = {"customer_id": cid, "received_at": "2026-11-01T09:00:00", "type": "delivery",
                 "description": "晚到", "priority": "high", "owner": "wang"}
    closed = {"resolution": "补发", "root_cause": "物流", "resolved_at": "2026-11-02T09:00:00",
              "closed_at": "2026-11-03T09:00:00"}
    said = {
        "inserted closed, nothing recorded": hand.push("complaints", "K1", "insert", {**complaint, "status": "closed"}),
        "inserted resolved, no root cause": hand.push("complaints", "K2", "insert", {
            **complaint, "status": "resolved", "resolution": "补发", "resolved_at": "2026-11-02T09:00:00"}),
        "closed in one edit, nothing recorded": hand.push("complaints", opened, "update", {"status": "closed"}),
        "resolution taken from a resolved one": None,
        "quote accepted with no order": hand.push("quotes", "Q1", "insert", {
            "customer_id": cid, "quoted_on": "2026-11-01", "valid_until": "2026-12-01", "status": "accepted",
            "amount": 100.0, "owner": "wang"}),
        "quote valid before it was made": hand.push("quotes", "Q2", "insert", {
            "customer_id": cid, "quoted_on": "2026-11-01", "valid_until": "2026-10-01", "status": "draft",
            "amount": 100.0, "owner": "wang"}),
        "forged search key": hand.push("customers", cid, "update", {"pinyin": "aaa"}),
        "forged tier": hand.push("customers", cid, "update", {"tier": "A"}),
    }
    # A complaint resolved the product's way, then its resolution emptied by hand.
    wang.crm("complaints", "resolve", opened, "--resolution", "补发", "--root-cause", "物流外包")
    wang.crm("sync")
    said["resolution taken from a resolved one"] = hand.push("complaints", opened, "update", {"resolution": None})
    assert {what: r["code"] for what, r in said.items() if r} == dict.fromkeys(said, "invalid")
    assert said["inserted closed, nothing recorded"]["reason"].startswith("resolution: is required for a complaint")
    assert said["closed in one edit, nothing recorded"]["reason"].startswith("resolution: is required")
    assert said["resolution taken from a resolved one"]["reason"].startswith("resolution: is required")
    assert said["quote accepted with no order"]["reason"].startswith("status:")
    # With everything its state needs, a complaint is taken whole, as an import of past complaints is.
    assert hand.push("complaints", "K3", "insert", {**complaint, "status": "closed", **closed})["code"] == "ok"


def test_a_refund_beyond_its_sale_and_a_deal_in_no_stage_a_laptop_reaches_are_refused(server: Server,
                                                                                        tmp_path: Path) -> None:
    tokens, wang, _ = team(server, tmp_path)
    cid = wang.json("customers", "add", "--name", "王芳")["id"]
    sale = wang.json("orders", "add", "--customer", cid, "--product", "茶叶", "--quantity", "1", "--amount", "100")["id"]
    deal = wang.json("opportunities", "add", "--customer", cid, "--title", "ERP", "--amount", "1000",
                     "--stage", "proposal")["id"]
    wang.crm("sync")
    hand = Hand(server, tokens["wang"], "wang-hand")
    order = {"customer_id": cid, "ordered_at": "2026-11-02", "product": "茶叶", "owner": "wang"}
    opportunity = {"customer_id": cid, "title": "ERP", "amount": 1000.0, "owner": "wang"}
    assert hand.push("orders", "R1", "insert", {**order, "amount": 30.0, "refund_of": sale})["code"] == "ok"
    assert hand.push("orders", "S2", "insert", {**order, "amount": 50.0, "status": "cancelled"})["code"] == "ok"
    said = {
        "refund beyond the sale": hand.push("orders", "R2", "insert", {**order, "amount": 150.0, "refund_of": sale}),
        "refund grown beyond it": hand.push("orders", "R1", "update", {"amount": 500.0}),
        "refund of a refund": hand.push("orders", "R3", "insert", {**order, "amount": 10.0, "refund_of": "R1"}),
        "refund of a cancelled sale": hand.push("orders", "R4", "insert", {**order, "amount": 10.0, "refund_of": "S2"}),
        "lost with no reason": hand.push("opportunities", "D1", "insert", {**opportunity, "stage": "lost"}),
        "probability 250": hand.push("opportunities", "D2", "insert", {**opportunity, "stage": "lead",
                                                                      "probability": 250}),
        "closed date while open": hand.push("opportunities", "D3", "insert", {**opportunity, "stage": "lead",
                                                                             "closed_on": "2026-11-01"}),
        "lost in one edit, no reason": hand.push("opportunities", deal, "update", {"stage": "lost"}),
    }
    assert {what: r["code"] for what, r in said.items()} == dict.fromkeys(said, "invalid")
    reasons = {what: r["reason"] for what, r in said.items()}
    assert reasons["refund beyond the sale"].startswith(f"amount: refunds of order {sale} would come to")
    assert reasons["refund of a refund"].startswith("refund_of: order R1 is a refund")
    assert reasons["refund of a cancelled sale"].startswith("refund_of: order S2 is cancelled")
    assert reasons["lost with no reason"].startswith("lost_reason: is required when an opportunity is lost")
    assert reasons["probability 250"].startswith("probability: 250 is not a percent")
    assert reasons["closed date while open"].startswith("closed_on: is set only when")
    # What a laptop writes passes: the whole of the sale refunded in two, a deal lost with its reason.
    assert hand.push("orders", "R5", "insert", {**order, "amount": 70.0, "refund_of": sale})["code"] == "ok"
    assert hand.push("opportunities", deal, "update", {"stage": "lost", "lost_reason": "价格",
                                                       "closed_on": "2026-11-30"})["code"] == "ok"
    wang.crm("sync")
    assert wang.json("sync", "--status")["set_aside"] == 0


def push_all(server: Server, token: str, node: str, changes: list[tuple[str, str, str, dict[str, Any]]]
             ) -> dict[str, Any]:
    """Several changes written by hand in one push; the server's answer."""
    wire = [{"node": node, "node_seq": seq, "hlc": clock.pack(clock.now_ms(), seq), "tbl": tbl, "row_id": row_id,
             "op": op, "data": data} for seq, (tbl, row_id, op, data) in enumerate(changes, 1)]
    r = httpx.post(server.url + "/v1/push", json={"node": node, "changes": wire},
                   headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)})
    assert r.status_code in (200, 403), r.text
    return r.json()


def test_refunds_across_a_sales_records_are_judged_with_the_laptops_rules(server: Server, tmp_path: Path) -> None:
    """The server checked each refund alone against its sale: two refunds each within
    it came to more than it, a refund's lines took back products the sale never had or
    more than it had left, a sale was lowered under its refunds or deleted from under
    them. Written by hand, in one push, as an attacker with a rep's token would: each
    is refused with the field and the reason, the rest of the push is stored, and the
    laptops pull what was stored."""
    tokens, wang, boss = team(server, tmp_path)
    cid = wang.json("customers", "add", "--name", "王芳", "--territory", "east")["id"]
    other = wang.json("customers", "add", "--name", "李娜", "--territory", "east")["id"]
    sale = wang.json("orders", "add", "--customer", cid, "--line", "传感器:2:100", "--line", "电缆:10:10")["id"]
    assert wang.json("orders", "show", sale)["amount"] == 300.0
    wang.crm("sync")
    order = {"customer_id": cid, "ordered_at": "2026-11-02", "owner": "wang", "status": "confirmed",
             "refund_of": sale}

    def line(order_id: str, product: str, quantity: float, price: float) -> dict[str, Any]:
        return {"order_id": order_id, "customer_id": cid, "product": product, "quantity": quantity,
                "unit_price": price, "amount": quantity * price, "owner": "wang"}

    said = push_all(server, tokens["wang"], "wang-hand", [
        ("orders", "R1", "insert", {**order, "product": "传感器", "quantity": 1, "amount": 100.0}),  # 1
        ("order_lines", "R1-1", "insert", line("R1", "传感器", 1, 100)),
        ("orders", "R2", "insert", {**order, "product": "电缆", "quantity": 10, "amount": 150.0}),  # 3
        ("order_lines", "R2-1", "insert", line("R2", "旧型号", 1, 50)),  # 4: not on the sale
        ("order_lines", "R2-2", "insert", line("R2", "传感器", 2, 50)),  # 5: 2 back, 1 left
        ("order_lines", "R2-3", "insert", line("R2", "电缆", 10, 15)),  # 6
        ("orders", "R3", "insert", {**order, "product": "电缆", "quantity": 1, "amount": 100.0}),  # 7: 350 > 300
        ("orders", sale, "update", {"amount": 200.0}),  # 8: lowered under its 250 of refunds
        ("orders", sale, "delete", {}),  # 9: its refunds left behind
        ("orders", "R4", "insert", {**order, "customer_id": other, "product": "电缆", "quantity": 1,
                                    "amount": 1.0}),  # 10: another customer's sale
        ("orders", "R2", "update", {"amount": 200.0}),  # 11: 100 + 200 of 300: fine,
        ("order_lines", "R2-4", "insert", line("R2", "传感器", 1, 50)),  # 12: with the line it takes back
    ])
    refused = {r["node_seq"]: (r["code"], r["reason"]) for r in said["refused"]}
    assert sorted(refused) == [4, 5, 7, 8, 9, 10] and said["accepted"] == 6, said
    assert {code for code, _ in refused.values()} == {"invalid"}
    assert refused[4][1].startswith(f"product: 旧型号 is not on order {sale}")
    assert refused[5][1].startswith("quantity: 传感器: 2 to refund, but only 1 of the 2 sold are not refunded yet")
    assert refused[7][1].startswith(f"amount: refunds of order {sale} would come to 350.00, more than its 300.00")
    assert refused[8][1].startswith(f"amount: refunds of order {sale} would come to 250.00, more than its 200.00")
    assert refused[9][1].startswith("order: it has refunds (refund order R1)")
    assert refused[10][1].startswith(f"refund_of: order {sale} is a sale to customer {cid}")
    # Once stored, the rest counts for the next push: one more crosses the line.
    more = push_all(server, tokens["wang"], "wang-hand-2", [
        ("orders", "R5", "insert", {**order, "product": "电缆", "quantity": 1, "amount": 0.01})])
    assert [r["reason"][:60] for r in more["refused"]] == [
        f"amount: refunds of order {sale} would come to 300.01, more "[:60]]
    # The laptops pull what was stored, and nothing is set aside.
    for laptop in (wang, boss):
        laptop.crm("sync")
        assert laptop.json("sync", "--status")["set_aside"] == 0
    refunds = {o["id"]: o["amount"] for o in boss.json("orders", "list") if o.get("refund_of") == sale}
    assert refunds == {"R1": 100.0, "R2": 200.0}
    assert wang.json("orders", "show", sale)["amount"] == 300.0


# -- what a laptop does with such a change pulled anyway --------------------------------------

def test_changes_the_rules_refuse_are_set_aside_on_pull_and_the_rest_applies(server: Server,
                                                                            tmp_path: Path) -> None:
    """Written straight into the server's log, as a server from before these rules
    stored them: every laptop sets each one aside with its reason, applies the good
    changes around them, and a well-formed forged decision erases nobody."""
    _, wang, boss = team(server, tmp_path)
    cid = boss.json("customers", "add", "--name", "慕容复", "--owner", "wang")["id"]
    twin = boss.json("customers", "add", "--name", "慕容 复", "--owner", "wang")["id"]
    boss.crm("sync")
    wang.crm("sync")
    now = "2026-11-30T10:00:00.000Z"

    def row(**values: Any) -> str:
        return json.dumps({"owner": "wang", "created_at": now, "updated_at": now, **values})

    request = {"customer_id": cid, "requested_by": "wang"}
    merge = {"customer_id": cid, "other_id": cid, "merged_at": "2026-11-30T10:00:00", "status": "merged"}
    complaint = {"customer_id": cid, "received_at": "2026-11-01T09:00:00", "type": "delivery", "description": "晚到",
                 "priority": "high"}
    bad = [
        ("erase_requests", "R-bad1", "insert", row(**request, status="pending", decided_by="boss")),
        ("erase_requests", "R-bad2", "insert", row(**request, status="done", decided_by="boss")),
        ("merges", "M-bad1", "insert", row(**merge)),
        ("merges", "M-bad2", "insert", row(**{**merge, "other_id": twin, "moved": "garbage"})),
        ("merges", "M-bad3", "insert", row(**{**merge, "other_id": twin, "other_record": json.dumps({"phone": "1"})})),
        ("complaints", "K-bad", "insert", row(**complaint, status="closed")),
        ("quotes", "Q-bad", "insert", row(customer_id=cid, quoted_on="2026-11-01", valid_until="2026-12-01",
                                          status="accepted", amount=1.0)),
        ("opportunities", "D-bad", "insert", row(customer_id=cid, title="ERP", amount=1.0, stage="lost")),
    ]
    good = [
        ("erase_requests", "R-forged", "insert", row(**request, status="done", **DECIDED)),
        ("customers", cid, "update", json.dumps({"notes": "after the bad ones"})),
    ]
    inject(server.url_db, [bad[0], good[0], *bad[1:], good[1]])
    for laptop in (boss, wang):
        report = laptop.json("sync")
        assert report["set_aside"] == len(bad)
        aside = {r["row_id"]: r["reason"] for r in laptop.json("sync", "set-aside")}
        assert set(aside) == {b[1] for b in bad}
        assert aside["R-bad1"].startswith("decided_by: a pending erase request has no decision")
        assert aside["M-bad1"].startswith("other_id: names the kept customer")
        assert aside["M-bad2"].startswith("moved: is not a JSON object")
        assert aside["K-bad"].startswith("resolution: is required")
        assert aside["D-bad"].startswith("lost_reason: is required when an opportunity is lost")
        # The rest of the page is applied: the edit after the bad ones, and the forged
        # "done" request, which is only a record: nobody is erased by it.
        shown = laptop.json("customers", "show", cid)
        assert shown["notes"] == "after the bad ones" and shown["name"] == "慕容复"
        with sqlite3.connect(laptop.env["CRM_DB"]) as conn:
            assert conn.execute("SELECT count(*) FROM erasures").fetchone()[0] == 0
            assert conn.execute("SELECT status FROM erase_requests WHERE id = 'R-forged'").fetchone()[0] == "done"


def test_an_unmerge_refuses_a_merge_record_it_could_not_undo(tmp_path: Path) -> None:
    """A merge record a laptop received before these rules (written here straight
    into its table) is checked before an unmerge moves anything: the rep is told
    the field and the reason, and nothing moves."""
    from crm_tui.api import Crm

    laptop = Rep(tmp_path, "wang")
    with Crm(Path(laptop.env["CRM_DB"]), rep="wang") as crm:
        keep, other = crm.customers.create({"name": "张伟"})["id"], crm.customers.create({"name": "张 伟"})["id"]
        third = crm.customers.create({"name": "李娜"})["id"]
        visit = crm.visits.create({"customer_id": third, **VISIT})["id"]
        merge = crm.merges.merge(keep, other)["id"]
    broken = [
        ("moved", json.dumps({"visits": [visit]}), f"moved: names visit '{visit}', which is not the kept"),
        ("moved", "garbage", "moved: is not a JSON object"),
        ("other_record", json.dumps({"phone": "13611112222"}), "other_record: not the merged customer"),
        ("other_record", None, f"merge: merge {merge} no longer holds the merged customer's record"),
        ("other_id", keep, "other_id: names the kept customer"),
    ]
    for name, value, says in broken:
        with sqlite3.connect(laptop.env["CRM_DB"]) as conn:
            good = conn.execute(f"SELECT {name} FROM merges WHERE id = ?", (merge,)).fetchone()[0]
            conn.execute(f"UPDATE merges SET {name} = ? WHERE id = ?", (value, merge))
        result = runner.invoke(app, ["customers", "unmerge", merge], env=laptop.env)
        out = result.output
        assert result.exit_code == 1 and says in " ".join(out.split()) and "Traceback" not in out, (name, out)
        with sqlite3.connect(laptop.env["CRM_DB"]) as conn:
            conn.execute(f"UPDATE merges SET {name} = ? WHERE id = ?", (good, merge))
            # Nothing moved: the other customer is still merged, the third's visit the third's.
            assert conn.execute("SELECT count(*) FROM customers WHERE id = ?", (other,)).fetchone()[0] == 0
            assert conn.execute("SELECT customer_id FROM visits WHERE id = ?", (visit,)).fetchone()[0] == third
    # Made whole again, the merge is undone as usual.
    assert laptop.json("customers", "unmerge", merge)["status"] == "undone"


def test_a_resolved_complaint_of_an_erased_customer_still_reaches_a_new_laptop(server: Server,
                                                                               tmp_path: Path) -> None:
    """An erase scrubs a resolved complaint's resolution and root cause to the marker,
    not to nothing: the complaint keeps its state rule, so a laptop that pulls it
    after the erase applies it rather than setting it aside."""
    from crm_tui.api import Crm

    _, _, boss = team(server, tmp_path)
    cid = boss.json("customers", "add", "--name", "慕容复")["id"]
    with Crm(Path(boss.env["CRM_DB"]), rep="boss") as crm:  # a past complaint, imported resolved: one insert
        complaint = crm.complaints.create({
            "customer_id": cid, "received_at": "2026-11-01T09:00:00", "type": "delivery", "description": "晚到",
            "priority": "high", "status": "resolved", "resolution": "补发给慕容复", "root_cause": "物流外包",
            "resolved_at": "2026-11-02T09:00:00"})["id"]
    boss.crm("sync")
    boss.crm("customers", "erase", cid, "--yes")
    boss.crm("sync")
    later = Rep(tmp_path, "new-laptop")
    later.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--role", "manager"))
    assert later.json("sync")["set_aside"] == 0
    shown = later.json("complaints", "show", complaint)
    assert (shown["status"], shown["resolution"], shown["root_cause"]) == ("resolved", "[erased]", "[erased]")


def test_an_order_or_quotation_whose_amount_is_not_its_lines_is_refused(server: Server, tmp_path: Path) -> None:
    """The server took an order whose amount was not what its lines come to: every
    laptop then showed 300.00 of sales over 200.00 of lines. Written by hand, as an
    attacker with a rep's token would: each order and quotation is judged as the
    whole push leaves it (a laptop never cuts a push between an order and its
    lines), and one whose amount disagrees is refused with every change of its
    amount and lines in the push, by field and reason (a line under another of the
    rep's customers counts for the order it names); the rest of the push is stored."""
    tokens, wang, boss = team(server, tmp_path)
    cid = wang.json("customers", "add", "--name", "王芳", "--territory", "east")["id"]
    other = wang.json("customers", "add", "--name", "李娜", "--territory", "east")["id"]
    wang.crm("sync")
    order = {"customer_id": cid, "ordered_at": "2026-11-02", "owner": "wang", "status": "confirmed",
             "product": "传感器 +1", "amount": 300.0}

    def line(order_id: str, amount: float, link: str = "order_id") -> dict[str, Any]:
        return {link: order_id, "customer_id": cid, "product": "传感器", "quantity": 1, "unit_price": amount,
                "amount": amount, "owner": "wang"}

    quote = {"customer_id": cid, "quoted_on": "2026-11-02", "valid_until": "2026-12-02", "status": "draft",
             "amount": 30.0, "owner": "wang"}
    said = push_all(server, tokens["wang"], "wang-hand", [
        ("orders", "O1", "insert", order),  # 1: 300 over lines of 250
        ("order_lines", "O1-1", "insert", line("O1", 100)),  # 2
        ("order_lines", "O1-2", "insert", line("O1", 100)),  # 3
        ("orders", "O2", "insert", order),  # 4: 300 of 100 + 200, as a laptop writes it
        ("order_lines", "O2-1", "insert", line("O2", 100)),  # 5
        ("order_lines", "O2-2", "insert", line("O2", 200)),  # 6
        ("customers", cid, "update", {"notes": "要发票"}),  # 7
        ("orders", "O3", "insert", {**order, "amount": 5.0}),  # 8: no lines: any amount
        ("quotes", "Q1", "insert", quote),  # 9: 30 over lines of 20
        ("quote_lines", "Q1-1", "insert", {**line("Q1", 20, "quote_id"), "position": 1}),  # 10
        ("order_lines", "O1-3", "insert", line("O1", 50)),  # 11: O1's last line, pushed last
    ])
    refused = {r["node_seq"]: (r["code"], r["reason"]) for r in said["refused"]}
    assert sorted(refused) == [1, 2, 3, 9, 10, 11] and said["accepted"] == 5, said
    assert {code for code, _ in refused.values()} == {"invalid"}
    for seq in (1, 2, 3, 11):
        assert refused[seq][1].startswith("amount: 300.00 is not what the lines of order O1 come to (250.00)")
    assert refused[9][1].startswith("amount: 30.00 is not what the lines of quotation Q1 come to (20.00)")
    assert refused[10][1] == refused[9][1]
    # Once stored, an order is judged with the lines the server holds: a line more, an
    # amount alone, a line moved to another order are each refused; new lines with
    # their amount, as `crm orders lines` writes them, are taken.
    for node, changes, why in [
        ("add-line", [("order_lines", "O2-3", "insert", line("O2", 50))], "300.00 is not what the lines of order O2 "
                                                                          "come to (350.00)"),
        ("amount", [("orders", "O2", "update", {"amount": 999.0})], "999.00 is not what the lines of order O2 come "
                                                                    "to (300.00)"),
        ("move-line", [("order_lines", "O2-1", "update", {"order_id": "O3"})], "300.00 is not what the lines of "
                                                                               "order O2 come to (200.00)"),
        ("other-customer", [("order_lines", "O2-5", "insert", {**line("O2", 50), "customer_id": other})],
         "300.00 is not what the lines of order O2 come to (350.00)"),
    ]:
        answer = push_all(server, tokens["wang"], node, changes)
        assert answer["accepted"] == 0 and answer["refused"][0]["reason"].startswith(f"amount: {why}"), answer
    new_lines = push_all(server, tokens["wang"], "set-lines", [
        ("order_lines", "O2-1", "delete", {}), ("order_lines", "O2-2", "delete", {}),
        ("order_lines", "O2-4", "insert", line("O2", 400)), ("orders", "O2", "update", {"amount": 400.0})])
    assert new_lines["accepted"] == 4 and not new_lines.get("refused"), new_lines
    # The laptops pull what was stored, and nothing is set aside.
    for laptop in (wang, boss):
        laptop.crm("sync")
        assert laptop.json("sync", "--status")["set_aside"] == 0
    shown = boss.json("orders", "show", "O2")
    assert shown["amount"] == 400.0 and [x["amount"] for x in shown["lines"]] == [400.0]
    assert {o["id"] for o in boss.json("orders", "list")} == {"O2", "O3"}
    assert boss.json("customers", "show", cid)["notes"] == "要发票"


def test_a_laptop_never_cuts_a_push_between_an_order_and_its_lines(server: Server, tmp_path: Path) -> None:
    """The server judges an order by what the whole push leaves it with, so the
    laptop must never end a push between an order and its lines. Through the real
    client with pushes of three changes: an order of four lines (five changes), a
    file of 700 orders of two lines each (more changes than a push may hold: its
    orders go first, its lines later, each order's whole) and a refund are all taken;
    an order whose amount a script of the rep's then set apart from its
    lines (written to the tables directly, as the laptop captures any write) is
    refused by the server and listed on the laptop, and the others' laptops get none
    of it."""
    wang_token, boss_token = server.add_rep("wang", "--territory", "east"), server.add_rep("boss", "--role", "manager")
    wang = Crm(tmp_path / "wang.db", rep="wang")
    cid = wang.customers.create({"name": "王芳", "territory": "east"})["id"]
    sale = wang.order_book.add({"customer_id": cid, "ordered_at": "2026-11-02"},
                               [LineSpec(f"零件{i}", "1", f"{i}00") for i in range(1, 5)])
    assert sale["amount"] == 1000.0
    rows = "".join(f"F-{i},{cid},2026-10-01,,,传感器,1,{i},\nF-{i},,,,,电缆,2,1,\n" for i in range(700))
    file = tmp_path / "订单明细.csv"
    file.write_text("订单号,客户编号,下单日期,状态,产品编号,产品,数量,单价,折扣\n" + rows, encoding="utf-8")
    assert import_lines(wang, file).written
    wang.order_book.refund(sale["id"], [LineSpec("零件2", "1")])
    report = Sync(wang).run(SyncClient(server.url, wang_token), push_batch=3)
    assert (report.rejected, report.pushed) == (0, 1 + 5 + 2100 + 2), Sync(wang).rejected()
    script = sqlite3.connect(tmp_path / "wang.db")
    with script:
        bent = script.execute("SELECT id FROM orders WHERE amount = 102").fetchone()[0]  # F-100: 100 + 2
        script.execute("UPDATE orders SET amount = 5 WHERE id = ?", (bent,))
    script.close()
    report = Sync(wang).run(SyncClient(server.url, wang_token), push_batch=3)
    assert (report.rejected, report.pushed) == (1, 0)
    [refusal] = Sync(wang).rejected()
    assert (refusal["tbl"], refusal["row_id"], refusal["code"]) == ("orders", bent, "invalid")
    assert refusal["reason"].startswith(f"amount: 5.00 is not what the lines of order {bent} come to (102.00)")
    boss = Crm(tmp_path / "boss.db", rep="boss")
    Sync(boss).run(SyncClient(server.url, boss_token))
    assert Sync(boss).status()["set_aside"] == 0
    orders = boss.orders.find()
    assert len(orders) == 702 and boss.orders.get(bent)["amount"] == 102.0
    for o in orders:
        assert o["amount"] == sum(line["amount"] for line in boss.order_book.lines(o["id"])), o
    wang.close()
    boss.close()
