"""The second process of a big pull (crm_tui.api.pull_worker), against a real server
process on 127.0.0.1: the pages it fetches and checks leave the laptop exactly as the
same pull made in one process (bad changes set aside with the same reasons); when it
dies mid-pull the sync stops with the catalog's message, keeps every page applied,
and the next sync goes on with nothing lost or doubled; a one-page sync does not
start it, nor a process running another thread.

A sync that may fork runs in a fresh Python process (FORKING): the test process may
hold threads of earlier tests, and a process with other threads never forks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sync_server import Rep, Server
from test_sync_poison import NOW, customer, inject

from crm_tui.api import Crm
from crm_tui.api.sync import Hooks, Sync
from crm_tui.domain.search import customer_pinyin
from crm_tui.i18n import t
from crm_tui.sync.client import SyncClient

PAGE = 5  # changes a page: a few dozen changes make many pages


def laptops(srv: Server, tmp_path: Path, *names: str) -> tuple[str, list[Path]]:
    """A manager's token and laptops that synced once with the server (so that their
    next pull reads the log as an older server stored it, not a snapshot)."""
    wang = Rep(tmp_path, "wang")
    wang.crm("login", "--server", srv.url, "--token", srv.add_rep("wang", "--role", "manager"))
    wang.crm("customers", "add", "--name", "张伟")
    wang.crm("sync")
    token = srv.add_rep("boss", "--role", "manager")
    paths = [tmp_path / f"{name}.db" for name in names]
    for path in paths:
        assert pull(srv, path, token)[1].pulled == 1
    return token, paths


# A sync with second_process=True in a process of its own, as `crm sync` runs it;
# prints its report (or error), the second processes it started, and whether each
# was reaped. argv: database, server URL, token, page size, and "kill" to kill the
# second process as soon as it is started, "nofork" for a system that refuses one,
# "onecore" for a process that may run on one core only.
FORKING = """
import json, os, signal, sys
from crm_tui.api import Crm
from crm_tui.api.sync import Hooks, Sync, SyncError
from crm_tui.sync.client import SyncClient

path, url, token, limit, how = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
kill = how == "kill"
pids = []
if how == "nofork":  # the system refuses a new process
    def refused():
        raise BlockingIOError(11, "Resource temporarily unavailable")
    os.fork = refused
if how == "onecore":  # one core for this process: a second process would only take turns with it
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

def started(pid):
    pids.append(pid)
    if kill:
        os.kill(pid, signal.SIGKILL)

def reaped(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False

with Crm(path, rep="x") as crm, SyncClient(url, token) as client:
    try:
        out = {"report": Sync(crm).run(client, pull_limit=limit, second_process=True,
                                       hooks=Hooks(worker_started=started)).as_dict()}
    except SyncError as exc:
        out = {"error": str(exc), "code": exc.code}
print(json.dumps({**out, "pids": pids, "reaped": [reaped(p) for p in pids]}))
"""


def forking_pull(srv: Server, path: Path, token: str, how: str = "-") -> dict[str, Any]:
    """A pull that may use a second process, in a process of its own: see FORKING."""
    done = subprocess.run([sys.executable, "-c", FORKING, str(path), srv.url, token, str(PAGE), how],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def pull(srv: Server, path: Path, token: str, **options: Any) -> tuple[Crm, Any, list[int]]:
    """A sync of the laptop database at `path` with a real client; the pids of the
    second processes it started."""
    pids: list[int] = []
    crm = Crm(path, rep="x")
    with SyncClient(srv.url, token) as client:
        report = Sync(crm).run(client, pull_limit=PAGE, hooks=Hooks(worker_started=pids.append), **options)
    return crm, report, pids


def state(crm: Crm) -> dict[str, list[tuple[Any, ...]]]:
    """What a pull leaves on a laptop: records, the log, set-aside changes, cursor."""
    q = {
        "customers": "SELECT id, name, notes, pinyin FROM customers ORDER BY id",
        "visits": "SELECT id, customer_id, purpose FROM visits ORDER BY id",
        "log": "SELECT node, node_seq, hlc, tbl, row_id, op, data, old, base, rep FROM change_log "
               "WHERE node = 'oldnode' ORDER BY node_seq",
        "aside": "SELECT node_seq, tbl, row_id, op, code, reason FROM set_aside ORDER BY node_seq",
        "cursor": "SELECT cursor FROM sync_state",
    }
    return {name: [tuple(r) for r in crm.conn.execute(sql)] for name, sql in q.items()}


def test_a_pull_through_the_second_process_leaves_the_laptop_as_one_process_does(
        server: Server, tmp_path: Path) -> None:  # noqa: F811
    good = [("customers", f"C{i:03d}", "insert", customer(f"客户{i}")) for i in range(40)]
    bad = [  # each in a page the second process makes ready (the first page is the sync's own)
        ("customers", "C-null", "insert", json.dumps({"name": None, "created_at": NOW, "updated_at": NOW})),
        ("visits", "V-orphan", "insert", json.dumps({"customer_id": "nobody", "visited_at": "2025-03-01T00:00:00",
                                                     "channel": "phone", "purpose": "visit"})),
        ("zzz", "Z1", "insert", json.dumps({"anything": 1})),
        ("customers", "C-surrogate", "insert", '{"name": "bad \\ud800 text"}'),
        ("customers", "C-notdict", "insert", json.dumps(["not", "an", "object"])),
        ("customers", "C-list", "insert", json.dumps({"name": "列表", "tags": ["a", "b"]})),
        # only the rules (check_change) refuse this one: the database would take it
        ("customers", "C-email", "insert", json.dumps({**json.loads(customer("邮箱")), "email": "not an email"})),
    ]
    mixed = good[:10] + [c for pair in zip(bad, good[10:], strict=False) for c in pair] + good[10 + len(bad):]
    mixed.append(("visits", "V-good", "insert", json.dumps({"customer_id": "C039", "visited_at": "2025-03-01T00:00:00",
                                                            "channel": "phone", "purpose": "visit"})))
    token, (two_db, one_db) = laptops(server, tmp_path, "two", "one")
    inject(server.url_db, mixed)

    forked = forking_pull(server, two_db, token)
    one, alone, none = pull(server, one_db, token, second_process=False)

    # the second process made the pages after the first ready, and was reaped
    assert len(forked["pids"]) == 1 and forked["reaped"] == [True] and not none
    assert forked["report"] == alone.as_dict()
    assert (alone.pulled, alone.set_aside) == (len(mixed) - len(bad), len(bad))
    two = Crm(two_db)
    got = state(two)
    assert got == state(one)
    reasons = {row[2] or row[1]: (row[4], row[5]) for row in got["aside"]}
    assert set(reasons) == {"C-null", "V-orphan", "Z1", "C-surrogate", "C-notdict", "C-list", "C-email"}
    assert reasons["C-email"][0] == "invalid" and "email" in reasons["C-email"][1]  # the rules ran
    assert reasons["C-null"][0] == "invalid" and "name" in reasons["C-null"][1]
    assert reasons["V-orphan"][0] == "constraint" and "nobody" in reasons["V-orphan"][1]
    assert reasons["Z1"][0] == "unknown_table" and reasons["C-notdict"][0] == "malformed"
    assert "surrogates" in reasons["C-surrogate"][1] and "list" in reasons["C-list"][1]
    assert len(got["customers"]) == 41 and got["visits"] == [("V-good", "C039", "visit")]
    pinyin = {r[0]: r[3] for r in got["customers"]}
    assert pinyin["C007"] == customer_pinyin("客户7") and pinyin["C007"]  # derived columns too
    for crm in (one, two):
        crm.close()


def test_the_second_process_dying_mid_pull_stops_the_sync_and_the_next_one_goes_on(
        server: Server, tmp_path: Path) -> None:  # noqa: F811
    # 40 pages of about 10 KB: the pipe (64 KiB) holds a few, so the sync reads the
    # end of the process long before the last page.
    notes = "备注" * 500
    rows = [("customers", f"C{i:03d}", "insert", json.dumps({**json.loads(customer(f"客户{i}")), "notes": notes}))
            for i in range(40 * PAGE)]
    token, (path,) = laptops(server, tmp_path, "laptop")
    inject(server.url_db, rows)

    failed = forking_pull(server, path, token, "kill")
    assert failed["code"] == "worker_lost" and failed["reaped"] == [True]
    assert failed["error"] == t("sync.worker.lost", status=-signal.SIGKILL)
    crm = Crm(path)
    assert crm.sync.status()["last_error"] == failed["error"]
    kept = state(crm)
    assert PAGE <= len(kept["log"]) < len(rows)  # the first page and those read before the end: kept
    assert len(kept["customers"]) == len(kept["log"]) + 1 and len(kept["log"]) % PAGE == 0  # whole pages only

    again = forking_pull(server, path, token)
    assert len(again["pids"]) == 1
    assert again["report"]["pulled"] == len(rows) - len(kept["log"]) and again["report"]["pull_duplicates"] == 0
    done = state(crm)
    assert [r[1] for r in done["log"]] == list(range(1, len(rows) + 1))  # each change once, none lost
    assert len(done["customers"]) == len(rows) + 1 and crm.sync.status()["last_error"] is None
    crm.close()


def test_a_one_page_sync_starts_no_second_process(server: Server, tmp_path: Path) -> None:  # noqa: F811
    token, (path,) = laptops(server, tmp_path, "small")
    inject(server.url_db, [("customers", f"C{i}", "insert", customer(f"客户{i}")) for i in range(PAGE - 1)])
    small = forking_pull(server, path, token)
    assert small["report"]["pulled"] == PAGE - 1 and small["pids"] == []


def test_no_second_process_while_another_thread_runs(server: Server, tmp_path: Path) -> None:  # noqa: F811
    """A fork copies the locks another thread may hold (the UI's, a progress bar's):
    with one running, the same pull is made in one process."""
    token, (path,) = laptops(server, tmp_path, "busy")
    inject(server.url_db, [("customers", f"C{i}", "insert", customer(f"客户{i}")) for i in range(3 * PAGE)])
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, args=(30,))
    other.start()
    try:
        crm, report, pids = pull(server, path, token, second_process=True)
    finally:
        stop.set()
        other.join()
    assert report.pulled == 3 * PAGE and pids == []
    assert len(state(crm)["customers"]) == 3 * PAGE + 1
    crm.close()


@pytest.mark.parametrize("how", ["nofork", "onecore"])
def test_a_system_that_refuses_a_second_process_or_has_one_core_pulls_in_one(
        server: Server, tmp_path: Path, how: str) -> None:  # noqa: F811
    token, (path, one_db) = laptops(server, tmp_path, "refused", "one")
    inject(server.url_db, [("customers", f"C{i}", "insert", customer(f"客户{i}")) for i in range(3 * PAGE)])
    refused = forking_pull(server, path, token, how)
    one, alone, _ = pull(server, one_db, token, second_process=False)
    assert refused["pids"] == [] and refused["report"] == alone.as_dict() and alone.pulled == 3 * PAGE
    with Crm(path) as crm:
        assert state(crm) == state(one)
    one.close()
