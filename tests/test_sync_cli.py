"""Sync end to end: a real `crm server serve` process on 127.0.0.1 and client
databases driven through the real CLI. Two reps edit the same customer offline,
sync, converge, see the conflict, resolve it and converge again; and a client
killed with SIGKILL in the middle of a large pull resumes with nothing lost or
doubled."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sync_server import Rep, Server, runner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.sync import clock
from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION


def test_a_rep_classifies_a_colleagues_customer_in_their_shared_territory(server: Server, tmp_path: Path) -> None:
    """A manual classification is owned as its customer: wang may set one on li's
    customer in the territory they share, the server takes it and li's laptop shows
    it; on a customer outside wang's territories the server still refuses it."""
    wang, li = Rep(tmp_path, "wang"), Rep(tmp_path, "li")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east", "--territory", "west"))
    shared = li.json("customers", "add", "--name", "李娜", "--territory", "east")["id"]
    li.json("sync")
    assert wang.json("sync")["pulled"] >= 1

    wang.crm("classify", "override", shared, "--tier", "A", "--reason", "战略客户")
    report = wang.json("sync")
    assert report["pushed"] >= 1 and report["rejected"] == 0, report
    li.json("sync")
    assert li.json("customers", "show", shared)["tier"] == "A"

    # A hand-written insert for li's customer outside wang's territories: refused.
    west = li.json("customers", "add", "--name", "赵敏", "--territory", "west")["id"]
    li.json("sync")
    change = {"node": "hand", "node_seq": 1, "hlc": clock.pack(clock.now_ms(), 0), "tbl": "classification_overrides",
              "row_id": west, "op": "insert", "data": {"customer_id": west, "tier": "A", "reason": "x", "owner": "li"}}
    token = server.add_rep("zhou", "--territory", "east")
    r = httpx.post(server.url + "/v1/push", headers={"Authorization": f"Bearer {token}", PROTOCOL_HEADER: str(PROTOCOL_VERSION)},
                   json={"node": "hand", "changes": [change]})
    assert r.status_code == 403 and r.json()["refused"][0]["code"] == "forbidden", r.text
    li.json("sync")
    assert li.json("customers", "show", west)["tier"] != "A"


def test_work_made_before_login_is_the_logged_in_reps(server: Server, tmp_path: Path) -> None:
    """A new user adds customers (and their visits) before `crm login`: the laptop
    knows them only by the login name of the machine, so they were owned by it and
    the server refused each as not its author's. The first sync signs what this
    laptop made and never sent with the rep the token names; what was sent already
    and what another rep owns stay as they are."""
    zhao = Rep(tmp_path, "zhao")
    # the machine's login name, before the laptop knows its rep
    zhao.env["USER"] = zhao.env["LOGNAME"] = "laptop-user"
    early = zhao.json("customers", "add", "--name", "赵敏", "--territory", "east")["id"]
    assert zhao.json("customers", "show", early)["owner"] == "laptop-user"
    zhao.json("visits", "add", "--customer", early, "--channel", "phone", "--purpose", "visit")
    theirs = zhao.json("customers", "add", "--name", "钱进", "--owner", "li")["id"]

    zhao.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--territory", "east"))
    report = zhao.json("sync")
    assert report["pushed"] >= 2, report
    rejected = zhao.json("sync", "rejected")
    # li's customer, made by zhao: the server's rule still holds, named as before
    assert [r["row_id"] for r in rejected] == [theirs], rejected
    assert zhao.json("customers", "show", early)["owner"] == "zhao"
    assert zhao.json("customers", "show", theirs)["owner"] == "li"

    # On another laptop of zhao's, the customer and its visit arrived as zhao's.
    other = Rep(tmp_path, "zhao2")
    other.crm("login", "--server", server.url, "--token", server.add_rep("zhao-2", "--territory", "east"))
    other.json("sync")
    assert other.json("customers", "show", early)["owner"] == "zhao"
    [visit] = other.json("visits", "list", "--customer", early)
    assert visit["owner"] == "zhao"


def test_two_reps_edit_offline_converge_and_resolve(server: Server, tmp_path: Path) -> None:
    wang, li = Rep(tmp_path, "wang"), Rep(tmp_path, "li")
    # Both cover the east territory: each sees the other's customers there.
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))

    cid = wang.json("customers", "add", "--name", "张伟", "--company", "华东贸易", "--territory", "east")["id"]
    assert wang.json("sync")["pushed"] == 1
    assert li.json("sync")["pulled"] == 1
    assert li.json("customers", "show", cid)["name"] == "张伟"

    # Both offline: the same field and one different field each.
    wang.crm("customers", "edit", cid, "--notes", "wang: wants a discount", "--title", "采购经理")
    li.crm("customers", "edit", cid, "--notes", "li: call back Monday", "--region", "华东")
    assert wang.json("sync", "--status")["pending"] == 1
    wang.crm("sync")
    out = li.crm("sync")
    assert "1 conflict kept for review" in out
    wang.crm("sync")
    a, b = wang.json("customers", "show", cid), li.json("customers", "show", cid)
    assert a == b and (a["title"], a["region"]) == ("采购经理", "华东")

    [conflict] = li.json("conflicts", "list")
    assert conflict["field"] == "notes" and conflict["mine"] == "li: call back Monday"
    assert {conflict["winner_rep"], conflict["loser_rep"]} == {"wang", "li"}
    status = li.json("sync", "--status")
    assert status["open_conflicts"] == 1 and status["pending"] == 0 and status["last_sync_at"]

    kept = "wang: wants a discount; li: call back Monday"
    li.json("conflicts", "resolve", str(conflict["id"]), "--keep", kept)
    assert li.json("conflicts", "list") == []
    li.crm("sync")
    wang.crm("sync")
    a, b = wang.json("customers", "show", cid), li.json("customers", "show", cid)
    assert a == b and a["notes"] == kept
    assert wang.json("conflicts", "list") == []  # settled by li's resolution
    assert wang.json("sync", "--status")["pending"] == 0


def test_bad_token_and_revoked_rep(server: Server, tmp_path: Path) -> None:
    rep = Rep(tmp_path, "zhao")
    result = runner.invoke(app, ["login", "--server", server.url, "--token", "nonsense"], env=rep.env)
    assert result.exit_code == 1 and "unknown token" in result.output
    rep.crm("login", "--server", server.url, "--token", server.add_rep("zhao"))
    runner.invoke(app, ["server", "revoke-rep", "zhao", "--db", server.url_db])
    result = runner.invoke(app, ["sync"], env=rep.env)
    assert result.exit_code == 1 and "revoked" in result.output
    # when, to the minute and in UTC (the server's clock, not the laptop's zone), and what to do
    assert re.search(r"revoked on \d{4}-\d\d-\d\d \d\d:\d\d UTC", result.output) and "crm login" in result.output, \
        result.output
    assert "revoked" in rep.json("sync", "--status")["last_error"]
    reps = runner.invoke(app, ["server", "list-reps", "--db", server.url_db, "--json"]).stdout
    assert json.loads(reps)[0]["active"] is False
    result = runner.invoke(app, ["server", "set-rep", "zhao", "--territory", "east", "--territory", "north",
                                 "--db", server.url_db, "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["territories"] == ["east", "north"]
    result = runner.invoke(app, ["server", "set-rep", "nobody", "--role", "manager", "--db", server.url_db])
    assert result.exit_code == 1 and "no rep named" in result.output
    # --clear-territories with --territory is refused, not read as "clear them all"
    result = runner.invoke(app, ["server", "set-rep", "zhao", "--clear-territories", "--territory", "west",
                                 "--db", server.url_db])
    assert result.exit_code == 1 and "not both" in result.output
    reps = json.loads(runner.invoke(app, ["server", "list-reps", "--db", server.url_db, "--json"]).stdout)
    assert reps[0]["territories"] == ["east", "north"]


def seed_customers(db: str, n: int) -> None:
    with Crm(db, rep="wang") as crm:
        records = [crm.customers.prepare({"name": f"Customer {i}", "region": "east"}) for i in range(n)]
        with crm.lock, crm.conn:
            crm.conn.execute("BEGIN IMMEDIATE")
            crm.customers.insert_prepared(records)


def cursor_of(db: str) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0  # not created yet
    try:
        return conn.execute("SELECT cursor FROM sync_state").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not migrated yet
    finally:
        conn.close()


def test_kill_9_in_the_middle_of_a_large_pull(server: Server, tmp_path: Path) -> None:
    wang, li = Rep(tmp_path, "wang"), Rep(tmp_path, "li")
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--role", "manager"))
    n = 30_000
    seed_customers(wang.env["CRM_DB"], n)
    assert wang.json("sync")["pushed"] == n

    env = {**os.environ, **li.env}
    killed_at = None
    for _attempt in range(3):  # kill between two committed pages, not before the first
        proc = subprocess.Popen([sys.executable, "-m", "crm_tui", "sync", "--json"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if cursor_of(li.env["CRM_DB"]) > 0:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=30)
        killed_at = cursor_of(li.env["CRM_DB"])
        if proc.returncode == -signal.SIGKILL and 0 < killed_at < n:
            break
    assert killed_at is not None and 0 < killed_at < n, killed_at

    # What the killed sync had committed (server sequences need not be dense, so
    # the cursor is not a count): the rest, and only the rest, comes now.
    with Crm(li.env["CRM_DB"]) as crm:
        held = crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    assert 0 < held < n
    report = li.json("sync")
    assert report["pulled"] == n - held
    with Crm(li.env["CRM_DB"]) as crm:
        assert crm.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert crm.customers.count() == n
        assert crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == n
        assert crm.conn.execute("SELECT count(DISTINCT row_id) FROM change_log").fetchone()[0] == n
        assert crm.customers.search("customer 29999")[0]["name"] == "Customer 29999"
    assert li.json("sync")["pulled"] == 0


def test_server_audit_lists_rep_history_and_refusals_never_tokens(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"

    def crm_server(*args: str) -> str:
        result = runner.invoke(app, ["server", *args, "--db", url])
        assert result.exit_code == 0, result.output
        return result.stdout

    token = json.loads(crm_server("add-rep", "wang", "--territory", "east", "--json"))["token"]
    crm_server("set-rep", "wang", "--territory", "west")
    crm_server("revoke-rep", "wang")
    token2 = json.loads(crm_server("add-rep", "wang", "--json"))["token"]
    entries = json.loads(crm_server("audit", "--rep", "wang", "--json"))
    assert [e["kind"] for e in entries] == ["rep_added", "rep_changed", "rep_revoked", "rep_readded"]
    assert entries[1]["detail"]["territories"] == ["west"]
    assert json.loads(crm_server("audit", "--kind", "rep_revoked", "--json"))[0]["rep"] == "wang"
    assert json.loads(crm_server("audit", "--since", "2999-01-01", "--json")) == []
    table = crm_server("audit")
    assert "rep_readded" in table and token not in table and token2 not in table
    bad = runner.invoke(app, ["server", "audit", "--kind", "nope", "--db", url])
    assert bad.exit_code == 1 and "kind" in bad.output
    raw = (tmp_path / "audit.db").read_bytes()
    assert token.encode() not in raw and token2.encode() not in raw


def test_a_laptop_that_receives_a_settled_conflict_with_its_history_has_nothing_to_review(server: Server,
                                                                                          tmp_path: Path) -> None:
    """li and the manager edit a customer's notes concurrently; li settles the
    conflict with a value both saw. A laptop the customer then moves to gets its
    whole history in one pull: the concurrent edits and the edit that
    settled them. It must not show the settled conflict as open (the conflict and
    its settlement arrive in the same batch: the settlement was once applied before
    the conflict was recorded, and so settled nothing)."""
    boss, li, wang = Rep(tmp_path, "boss"), Rep(tmp_path, "li"), Rep(tmp_path, "wang")
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    li.crm("login", "--server", server.url, "--token", server.add_rep("li", "--territory", "east"))
    cust = li.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    li.json("sync")
    boss.json("sync")
    li.crm("customers", "edit", cust, "--notes", "李: 下周再访")
    boss.crm("customers", "edit", cust, "--notes", "经理: 重点客户")
    li.json("sync")
    boss.json("sync")
    li.json("sync")
    [open_conflict] = li.json("conflicts", "list")
    li.crm("conflicts", "resolve", str(open_conflict["id"]), "--keep", "经理: 重点客户; 李: 下周再访")
    li.json("sync")
    boss.json("sync")
    assert boss.json("conflicts", "list") == []

    # wang's laptop has synced before; the customer comes into its view later, and
    # with its history (a first sync would get a snapshot: only the winning changes).
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "north"))
    assert wang.json("sync")["pulled"] == 0
    boss.crm("customers", "edit", cust, "--owner", "wang", "--territory", "north")
    boss.json("sync")
    assert wang.json("sync")["pulled"] >= 5
    assert wang.json("customers", "show", cust)["notes"] == "经理: 重点客户; 李: 下周再访"
    assert wang.json("conflicts", "list") == []
