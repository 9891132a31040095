"""Opportunities, their stage moves and targets between two laptops and a manager's,
through a real `crm server serve` process on 127.0.0.1 and the real CLI: a deal and
its history reach the other rep; a manager's targets reach the reps; a rep's target is
refused by the server; two reps moving one deal offline converge on one stage, the
other move kept as a conflict, both moves in the history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_server import Rep, Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path / 'server.db'}")
    yield srv
    srv.stop()


def test_deals_moves_and_targets_sync_and_concurrent_moves_converge(server: Server, tmp_path: Path) -> None:
    wang, li, boss = Rep(tmp_path, "wang"), Rep(tmp_path, "li"), Rep(tmp_path, "boss")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))

    cid = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    oid = wang.json("opportunities", "add", "--customer", cid, "--title", "ERP", "--amount", "100000",
                    "--close-date", "2026-12-20")["id"]
    wang.crm("opportunities", "move", oid, "--stage", "qualified")
    wang.crm("sync")
    li.crm("sync")
    assert li.json("opportunities", "show", oid)["stage"] == "qualified"
    assert [(m["from_stage"], m["to_stage"]) for m in li.json("opportunities", "history", oid)] == [
        ("lead", "qualified")]
    assert li.json("pipeline")["weighted"] == 25000.0

    # the manager sets targets; the reps receive them
    boss.crm("sync")
    boss.crm("targets", "set", "--team", "--period", "2026-Q4", "--amount", "500000")
    boss.crm("targets", "set", "--rep", "wang", "--period", "2026-Q4", "--amount", "200000")
    boss.crm("sync")
    wang.crm("sync")
    assert sorted((t["rep"] or "", t["amount"]) for t in wang.json("targets", "list")) == [
        ("", 500000.0), ("wang", 200000.0)]

    # both reps move the same deal offline: one stage wins everywhere, the other is kept
    wang.crm("opportunities", "move", oid, "--stage", "proposal")
    li.crm("opportunities", "move", oid, "--stage", "negotiation")  # later: li's move wins
    wang.crm("sync")
    li.crm("sync")
    wang.crm("sync")
    a, b = wang.json("opportunities", "show", oid), li.json("opportunities", "show", oid)
    assert a == b and a["stage"] == "negotiation"
    conflicts = [c for rep in (wang, li) for c in rep.json("conflicts", "list")]
    assert conflicts and {c["field"] for c in conflicts} == {"stage"}
    assert {c["loser_rep"] for c in conflicts} == {"wang"}
    history = [(m["from_stage"], m["to_stage"], m["rep"]) for m in wang.json("opportunities", "history", oid)]
    assert sorted(history) == sorted(li_h := [(m["from_stage"], m["to_stage"], m["rep"])
                                              for m in li.json("opportunities", "history", oid)])
    assert ("qualified", "proposal", "wang") in li_h and ("qualified", "negotiation", "li") in li_h

    # a rep may not set targets: the server refuses the change, nobody else receives it
    li.crm("targets", "set", "--rep", "li", "--period", "2026-Q4", "--amount", "999999")
    li.crm("sync", ok=False)
    boss.crm("sync")
    assert all(t["rep"] != "li" for t in boss.json("targets", "list"))
