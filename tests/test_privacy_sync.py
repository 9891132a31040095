"""Erase everywhere (DESIGN invariant 10), end to end: a real `crm server serve` on
127.0.0.1 (on both stores) and three laptops driven through the CLI. A manager erases a customer while
one rep's laptop is offline and editing that customer; after everyone syncs, no byte
of the person is left in any laptop's database or WAL, nor in the server's; the
orders still add up; the offline rep is told. A rep's erase is a request that a
manager carries out or declines."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sync_server import Rep, Server, runner

from crm_tui.cli import app
from crm_tui.domain.changes import FORBIDDEN, Actor, ChangeRefused, check_access
from crm_tui.sync.server.backup import pg_tool

NAME, MOBILE, NEW_MOBILE = "慕容复", "13611112222", "13633334444"
EMAIL, PHRASE, OFFLINE_PHRASE = "murong.fu@yanziwu.cn", "walrus-obsidian-tango", "heron-basalt-foxtrot"
NEEDLES = (NAME, MOBILE, NEW_MOBILE, EMAIL, PHRASE, OFFLINE_PHRASE)

pytestmark = pytest.mark.slow



def server_leaks(server_db: str, tmp_path: Path) -> list[str]:
    """The needles found in the server's store: the bytes of its file and WAL on
    SQLite; on PostgreSQL, a plain dump of every row of its tables (what its live data
    holds: see docs/privacy.md for the row versions a vacuum leaves in free space)."""
    if server_db.startswith("sqlite:///"):
        return leaks(Path(server_db[len("sqlite:///"):]))
    dump = tmp_path / "server-dump.sql"
    subprocess.run([pg_tool("pg_dump"), "--dbname", server_db, "--data-only", "--file", str(dump)], check=True)
    data = dump.read_bytes()
    return [f"{n} in the PostgreSQL store" for n in NEEDLES if n.encode() in data]


def leaks(*bases: Path) -> list[str]:
    found = []
    for base in bases:
        for path in (base, *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal"))):
            if path.exists():
                data = path.read_bytes()
                found += [f"{n} in {path.name}" for n in NEEDLES if n.encode() in data]
    return found


def order_total(rep: Rep) -> float:
    return round(sum(o["amount"] for o in rep.json("orders", "list")), 2)


def laptops(server: Server, tmp_path: Path) -> tuple[Rep, Rep, Rep]:
    boss, wang, li = Rep(tmp_path, "boss"), Rep(tmp_path, "wang"), Rep(tmp_path, "li")
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    return boss, wang, li


def test_erase_reaches_every_laptop_and_the_server(server: Server, server_db: str, tmp_path: Path) -> None:
    boss, wang, li = laptops(server, tmp_path)
    cid = wang.json("customers", "add", "--name", NAME, "--mobile", MOBILE, "--email", EMAIL,
                    "--territory", "east")["id"]
    wang.crm("visits", "add", "--customer", cid, "--channel", "phone", "--purpose", "visit",
             "--notes", f"promised the {PHRASE}")
    wang.crm("orders", "add", "--customer", cid, "--product", "tea", "--amount", "300", "--ordered-at", "2026-05-01")
    other = wang.json("customers", "add", "--name", "段誉", "--territory", "east")["id"]
    wang.crm("orders", "add", "--customer", other, "--product", "silk", "--amount", "45.5",
             "--ordered-at", "2026-05-02")
    for rep in (wang, boss, li):
        rep.crm("sync")
    totals = {r: order_total(r) for r in (boss, wang, li)}
    assert set(totals.values()) == {345.5}
    dbs = [Path(r.env["CRM_DB"]) for r in (boss, wang, li)]
    # The search can fail: the person is everywhere now.
    assert leaks(*dbs) and server_leaks(server_db, tmp_path)

    # li is offline: edits the customer and logs a visit, knowing nothing of the erase.
    li.crm("customers", "edit", cid, "--mobile", NEW_MOBILE)
    li.crm("visits", "add", "--customer", cid, "--channel", "face_to_face", "--purpose", "visit",
           "--notes", f"offline: {OFFLINE_PHRASE}")
    # Meanwhile the manager erases them; a rep cannot (a request instead, see below).
    erased = boss.json("customers", "erase", cid, "--yes", "--reason", "PIPL request 2026-17")
    assert erased["erased"] is True
    boss.crm("sync")
    wang.crm("sync")
    out = li.crm("sync")  # pushes the edits (dropped by the server), then pulls the erase
    assert f"customer {cid} was erased by boss" in out and "2 edits made here to them were discarded" in out
    for rep in (boss, wang, li):
        rep.crm("sync")  # everyone receives li's (scrubbed) late edits

    assert leaks(*dbs) == [] and server_leaks(server_db, tmp_path) == []
    assert {r: order_total(r) for r in (boss, wang, li)} == totals
    for rep in (boss, wang, li):
        shown = rep.json("customers", "show", cid)
        assert shown["name"] == "[erased]" and shown["mobile"] is None
        assert rep.json("customers", "show", other)["name"] == "段誉"
    # What remains is that an erase happened: id, who, when, why.
    changes = li.json("changes", "list", "--table", "erasures")
    [erasure] = [c["data"] for c in changes]
    assert set(erasure) <= {"owner", "created_at", "updated_at", "erased_at", "erased_by", "reason", "request_id"}
    assert erasure["erased_by"] == "boss" and erasure["reason"] == "PIPL request 2026-17"
    # An edit after the erase is refused, never brings them back.
    refused = runner.invoke(app, ["customers", "edit", cid, "--name", NAME], env=li.env)
    assert refused.exit_code == 1 and "was erased" in refused.output
    assert li.json("customers", "show", cid)["name"] == "[erased]"


def test_a_reps_erase_is_a_request_the_manager_carries_out_or_declines(server: Server, tmp_path: Path) -> None:
    boss, wang, _ = laptops(server, tmp_path)
    keep = wang.json("customers", "add", "--name", "王语嫣", "--territory", "east")["id"]
    drop = wang.json("customers", "add", "--name", NAME, "--mobile", MOBILE, "--territory", "east")["id"]
    wang.crm("sync")
    asked = wang.json("customers", "erase", drop, "--yes", "--reason", "asked by phone")
    assert asked["erased"] is False and asked["request"]["status"] == "pending"
    assert wang.json("customers", "show", drop)["name"] == NAME  # nothing erased by a rep
    wang.json("customers", "erase", keep, "--yes", "--reason", "asked twice")
    wang.crm("sync")
    boss.crm("sync")
    pending = {r["customer_id"]: r for r in boss.json("erase-requests", "list", "--status", "pending")}
    assert set(pending) == {keep, drop}
    boss.crm("erase-requests", "approve", pending[drop]["id"], "--yes")
    boss.crm("erase-requests", "decline", pending[keep]["id"], "--reason", "open invoice: legal hold")
    boss.crm("sync")
    wang.crm("sync")
    decided = {r["customer_id"]: r for r in wang.json("erase-requests", "list")}
    assert decided[drop]["status"] == "done" and decided[drop]["decided_by"] == "boss"
    assert decided[keep]["status"] == "declined"
    assert decided[keep]["decision_reason"] == "open invoice: legal hold"
    assert wang.json("customers", "show", drop)["name"] == "[erased]"
    assert wang.json("customers", "show", keep)["name"] == "王语嫣"
    assert NAME.encode() not in Path(wang.env["CRM_DB"]).read_bytes()


def test_only_a_manager_may_push_an_erasure() -> None:
    rep = Actor("wang", "rep", frozenset({"east"}))
    with pytest.raises(ChangeRefused) as refused:
        check_access(rep, "erasures", "insert", "C1", {"erased_by": "wang", "erased_at": "2026-01-01T00:00:00Z"},
                     place=lambda _: None, customer_of=lambda *_: None)
    assert refused.value.code == FORBIDDEN
    check_access(Actor("boss", "manager"), "erasures", "insert", "C1", {"erased_by": "boss"},
                 place=lambda _: None, customer_of=lambda *_: None)


def test_only_a_laptop_that_held_the_customer_is_told_of_the_erase(server: Server, tmp_path: Path) -> None:
    """docs/privacy.md: the rep whose laptop held the person (their data left it), or
    whose edits were discarded, is told. A rep of another territory, who never held
    the customer, was told 'customer … was erased by boss (reason): their personal
    data left this laptop', untrue and another territory's business; so was a new
    laptop whose first sync brought the customer already erased."""
    boss, wang, _ = laptops(server, tmp_path)
    zhao = Rep(tmp_path, "zhao")
    zhao.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--territory", "west"))
    cid = wang.json("customers", "add", "--name", NAME, "--mobile", MOBILE, "--territory", "east")["id"]
    zhao.json("customers", "add", "--name", "西门吹雪", "--territory", "west")
    for rep in (wang, boss, zhao):
        rep.crm("sync")
    boss.json("customers", "erase", cid, "--yes", "--reason", "PIPL request 2026-18")
    boss.crm("sync")
    told = wang.crm("sync")
    assert f"customer {cid} was erased by boss" in told and "their personal data left this laptop" in told
    untold = zhao.crm("sync")
    assert cid not in untold and "erased" not in untold and "PIPL" not in untold, untold
    late = Rep(tmp_path, "sun")  # a new east laptop: the customer comes to it already erased
    late.crm("login", "--server", server.url, "--token", server.add_rep("sun", "--territory", "east"))
    first = late.crm("sync")
    assert late.json("customers", "show", cid)["name"] == "[erased]"
    assert "was erased" not in first, first
