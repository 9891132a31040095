"""Quotations and the products of an opportunity between laptops, through a real
`crm server serve` process on 127.0.0.1 (SQLite and PostgreSQL) and the real CLI: a
quote made on one laptop reaches the other rep of the territory with its lines, is
accepted there, and the order, its lines, the won deal and the accepted quote come
back; a rep outside the territory receives none of it."""

from __future__ import annotations

from pathlib import Path

from sync_server import Rep, Server


def test_quotes_sync_and_an_accepted_quote_comes_back_as_order_and_won_deal(server: Server, tmp_path: Path) -> None:
    wang, li, zhao, boss = (Rep(tmp_path, n) for n in ("wang", "li", "zhao", "boss"))
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    zhao.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--territory", "west"))
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    # the catalogue is the managers'; every laptop receives it
    boss.crm("products", "add", "--sku", "SN-100", "--name", "传感器", "--list-price", "1200")
    boss.crm("products", "add", "--sku", "VL-7", "--name", "Valve", "--list-price", "99.99")
    boss.crm("sync")
    wang.crm("sync")

    cid = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    oid = wang.json("opportunities", "add", "--customer", cid, "--title", "ERP", "--amount", "9000",
                    "--stage", "proposal", "--products", "SN-100,VL-7")["id"]
    qid = wang.json("quotes", "add", "--opportunity", oid, "--line", "SN-100:3::5", "--line", "安装费:1:800",
                    "--terms", "预付30%")["id"]
    wang.crm("sync")
    li.crm("sync")
    zhao.crm("sync")

    got = li.json("quotes", "show", qid)
    assert (got["amount"], got["terms"], got["status"], got["opportunity_id"]) == (4220.0, "预付30%", "draft", oid)
    assert [(line["sku"], line["amount"]) for line in got["lines"]] == [("SN-100", 3420.0), (None, 800.0)]
    assert [p["sku"] for p in li.json("opportunities", "show", oid)["products"]] == ["SN-100", "VL-7"]
    assert zhao.json("quotes", "list") == []  # not his territory

    # li accepts it; wang receives the accepted quote, the order with its lines, the won deal
    order_id = li.json("quotes", "accept", qid)["order"]["id"]
    li.crm("sync")
    wang.crm("sync")
    mine = wang.json("quotes", "show", qid)
    assert (mine["status"], mine["order_id"]) == ("accepted", order_id)
    order = wang.json("orders", "show", order_id)
    assert order["amount"] == 4220.0 and [line["amount"] for line in order["lines"]] == [3420.0, 800.0]
    deal = wang.json("opportunities", "show", oid)
    assert (deal["stage"], deal["order_id"]) == ("won", order_id)
    boss.crm("sync")
    assert [q["status"] for q in boss.json("quotes", "list")] == ["accepted"]
    zhao.crm("sync")
    assert zhao.json("quotes", "list") == []
