"""Targets on a team server: a rep receives only their own targets and the team's, a
manager every one. Against a real `crm server serve` process on 127.0.0.1 (SQLite and
PostgreSQL), through hand-written pull and push requests as well as the real CLI on
three laptops: what each pull answer holds, what each laptop holds after its sync,
and the tricks that could widen a rep's view (a customer id shaped like a rep's
scope, a target moved to another rep) refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sync_server import Rep, Server

from crm_tui.api.opportunities import target_id
from crm_tui.sync import clock
from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION


def head(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)}


def target_change(node: str, seq: int, rep: str | None, amount: float, *, op: str = "insert",
                  data: dict[str, Any] | None = None) -> dict[str, Any]:
    values = {"rep": rep, "period": "2026-Q4", "amount": amount, "owner": "boss",
              "created_at": "2026-10-01T00:00:00.00Z", "updated_at": "2026-10-01T00:00:00.00Z"}
    return {"node": node, "node_seq": seq, "hlc": clock.pack(clock.now_ms(), seq), "tbl": "targets",
            "row_id": target_id(rep, "2026-Q4"), "op": op, "data": data if data is not None else values}


def pulled_targets(server: Server, token: str, node: str) -> dict[str, Any]:
    """Pull from 0 by hand, to the end: the targets the answers carry, by row id."""
    seen: dict[str, Any] = {}
    after = 0
    for _ in range(50):  # bounded: a few pages at most
        r = httpx.post(server.url + "/v1/pull", headers=head(token),
                       json={"node": node, "after": after, "limit": 500}, timeout=30)
        assert r.status_code == 200, r.text
        page = r.json()
        for c in page["changes"]:
            if c["tbl"] == "targets":
                seen[c["row_id"]] = c["data"]
        after = page["cursor"]
        if not page["more"]:
            break
    return seen


def test_a_rep_pulls_only_their_own_targets_and_the_teams(server: Server, tmp_path: Path) -> None:
    tokens = {"wang": server.add_rep("wang"), "li": server.add_rep("li"),
              "boss": server.add_rep("boss", "--role", "manager")}
    push = [target_change("boss1", 1, None, 500000), target_change("boss1", 2, "wang", 200000),
            target_change("boss1", 3, "li", 300000)]
    r = httpx.post(server.url + "/v1/push", headers=head(tokens["boss"]), json={"node": "boss1", "changes": push})
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    # a later edit of li's target that does not name the rep keeps it li's
    edit = target_change("boss1", 4, "li", 0, op="update", data={"amount": 350000})
    r = httpx.post(server.url + "/v1/push", headers=head(tokens["boss"]), json={"node": "boss1", "changes": [edit]})
    assert r.status_code == 200, r.text

    team, wang, li = (target_id(rep, "2026-Q4") for rep in (None, "wang", "li"))
    assert set(pulled_targets(server, tokens["wang"], "wang1")) == {team, wang}
    assert set(pulled_targets(server, tokens["li"], "li1")) == {team, li}
    assert set(pulled_targets(server, tokens["boss"], "boss2")) == {team, wang, li}

    # a target moved to another rep is refused (its history stays with its laptops)
    move = target_change("boss1", 5, "li", 0, op="update", data={"rep": "wang"})
    r = httpx.post(server.url + "/v1/push", headers=head(tokens["boss"]), json={"node": "boss1", "changes": [move]})
    assert r.status_code == 403
    refused = r.json()["refused"]
    assert refused[0]["code"] == "invalid" and "does not change" in refused[0]["reason"]
    # a customer whose id looks like a rep's scope is refused: owning it would show li's targets
    fake = {"node": "wang9", "node_seq": 1, "hlc": clock.pack(clock.now_ms(), 1), "tbl": "customers",
            "row_id": "@li", "op": "insert", "data": {"name": "x", "owner": "wang"}}
    r = httpx.post(server.url + "/v1/push", headers=head(tokens["wang"]), json={"node": "wang9", "changes": [fake]})
    assert r.status_code == 403 and r.json()["refused"][0]["code"] == "invalid"
    assert set(pulled_targets(server, tokens["wang"], "wang2")) == {team, wang}

    # the same through the CLI: each laptop holds what its rep may see, with li's edit
    laptops = {name: Rep(tmp_path, name) for name in tokens}
    for name, laptop in laptops.items():
        laptop.crm("login", "--server", server.url, "--token", tokens[name])
        laptop.crm("sync")
    held = {name: sorted((t["rep"] or "", t["amount"]) for t in laptop.json("targets", "list"))
            for name, laptop in laptops.items()}
    assert held["wang"] == [("", 500000.0), ("wang", 200000.0)]
    assert held["li"] == [("", 500000.0), ("li", 350000.0)]
    assert held["boss"] == [("", 500000.0), ("li", 350000.0), ("wang", 200000.0)]

    # a target the manager sets later, from the laptop, reaches its rep only
    laptops["boss"].crm("targets", "set", "--rep", "li", "--period", "2027-01", "--amount", "90000")
    laptops["boss"].crm("sync")
    for laptop in laptops.values():
        laptop.crm("sync")
    assert ("li", "2027-01") in {(t["rep"], t["period"]) for t in laptops["li"].json("targets", "list")}
    assert all(t["period"] != "2027-01" for t in laptops["wang"].json("targets", "list"))
    # wang's KPIs show his attainment against his own target; li's is nowhere in them
    kpi = laptops["wang"].json("kpi", "--period", "2026-Q4")
    assert "350000" not in json.dumps(kpi)
    assert {r["rep"]: r["target"] for r in kpi["attainment"]["reps"]}.get("wang") == 200000.0


def test_targets_stored_before_the_rep_scope_are_rescoped_on_upgrade(server_db: str) -> None:
    """A server that stored targets for everyone (schema 3) scopes them to their rep on
    upgrade: wang's old target, and its later edit that does not name him, reach him
    and the manager, not li."""
    from test_server_schema import raw_sql

    from crm_tui.sync.server import pg_store, sqlite_store
    from crm_tui.sync.server.admin import open_store
    from crm_tui.sync.server.store import RepInfo

    run = raw_sql(server_db)
    module = sqlite_store if server_db.startswith("sqlite") else pg_store
    run(module.SCHEMA)
    run("INSERT INTO meta VALUES ('server_id', 'old-server')")
    run("INSERT INTO meta VALUES ('epoch', 'old-epoch')")  # what migration 2 made
    run("INSERT INTO meta VALUES ('schema_version', '3')")
    wang, team = target_id("wang", "2026-Q4"), target_id(None, "2026-Q4")
    rows = [(1, "insert", wang, '{"rep": "wang", "period": "2026-Q4", "amount": 1}'),
            (2, "update", wang, '{"amount": 2}'),
            (3, "insert", team, '{"rep": null, "period": "2026-Q4", "amount": 9}')]
    for seq, op, row_id, data in rows:
        run("INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, rep, pushed_by, received_at) "
            f"VALUES ('n1', {seq}, {1000 + seq}, 'targets', '{row_id}', '{op}', '{data}', 'boss', 'boss', 'x')")
        run(f"INSERT INTO row_scope VALUES ('targets', '{row_id}', '') ON CONFLICT DO NOTHING")
    store = open_store(server_db)
    try:
        def seen(name: str, role: str = "rep") -> list[tuple[str, str]]:
            page = store.pull(0, 100, rep=RepInfo(name, role, "x"))
            return sorted((c[5], c[6]) for c in page.changes)

        assert seen("li") == [(team, "insert")]
        assert seen("wang") == sorted([(wang, "insert"), (wang, "update"), (team, "insert")])
        assert len(seen("boss", "manager")) == 3
        assert run(f"SELECT scope FROM row_scope WHERE row_id = '{wang}'") == [("@wang",)]
    finally:
        store.close()
