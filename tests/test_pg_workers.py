"""Several server workers on one PostgreSQL: a real `crm server serve --workers 2`
process tree on 127.0.0.1. Pushes run concurrently through the workers while one is
held open (a row it must update is locked by the test) and a puller loops: the
puller ends with every change once. A worker killed with SIGKILL in the middle of a
push leaves nothing of it; the laptop's next sync completes it. On SQLite, more than
one worker is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sync_server import Server
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.api.sync import Sync, SyncError
from crm_tui.cli import app
from crm_tui.domain.orders import LineSpec
from crm_tui.sync import clock
from crm_tui.sync.client import SyncClient

runner = CliRunner()


def test_sqlite_refuses_more_than_one_worker(tmp_path: Path) -> None:
    result = runner.invoke(app, ["server", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}", "--workers", "2"])
    assert result.exit_code == 1
    assert "one process" in result.output and "PostgreSQL" in result.output
    assert not (tmp_path / "s.db").exists()


def change(node: str, seq: int, row: str, op: str = "insert", **data: object) -> dict:
    return {"node": node, "node_seq": seq, "hlc": clock.pack(clock.now_ms(), seq), "tbl": "customers",
            "row_id": row, "op": op, "data": {"name": row, **data}, "old": None, "base": None, "rep": ""}


def worker_names(server: Server) -> list[str]:
    """The PostgreSQL application names of this server's processes (crm-server-PID):
    other tests' servers may share the database cluster, and wait on locks too."""
    workers = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()
    return [f"crm-server-{pid}" for pid in [*workers, server.proc.pid]]


def lock_waiter(url: str, server: Server, timeout: float = 20) -> int:
    """The pid of the server worker whose push waits on the test's lock."""
    names = worker_names(server)
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = conn.execute("SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND application_name = ANY(%s)", (names,)).fetchone()
            if row:
                return int(row[0].rsplit("-", 1)[1])
            time.sleep(0.02)
    raise AssertionError("no push reached the locked row")


def hold(url: str, customer_id: str) -> psycopg.Connection:
    conn = psycopg.connect(url)
    assert conn.execute("SELECT 1 FROM customer_scope WHERE customer_id = %s FOR UPDATE",
                        (customer_id,)).fetchone()
    return conn


pg = pytest.mark.postgres


def stop(server: Server) -> None:
    """Stop the server and its workers; a supervisor slow to stop (a loaded machine,
    a worker it restarted) is killed after a while rather than failing the test."""
    try:
        server.stop()
    except subprocess.TimeoutExpired:
        children = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout
        for pid in children.split():
            os.kill(int(pid), signal.SIGKILL)
        server.proc.kill()
        server.proc.wait(timeout=30)


@pg
@pytest.mark.slow
def test_concurrent_pushes_through_two_workers_and_a_puller_miss_nothing(pg_url: str) -> None:
    server = Server(pg_url, "--workers", "2", "--rate", "2000")
    try:
        tokens = {name: server.add_rep(name, "--role", "manager") for name in ("p0", "p1", "p2", "p3", "boss")}
        with psycopg.connect(pg_url, autocommit=True) as conn:
            workers = conn.execute("SELECT count(DISTINCT application_name) FROM pg_stat_activity "
                                   "WHERE application_name LIKE 'crm-server-%'").fetchone()[0]
        assert workers >= 2
        clients = {name: SyncClient(server.url, tok) for name, tok in tokens.items()}
        clients["p0"].push("n0", [change("n0", 1, "held", territory="north")])
        expected = {("n0", 1)}

        seen: list[tuple[str, int]] = []
        done = threading.Event()

        def puller() -> None:
            cursor = 0
            # Bounded by time, not by a count of pulls: on a loaded machine the pushes
            # (and so the pulls' wait for them) can outlast any fixed number of rounds.
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:  # stops once everything is in and pulled
                page = clients["boss"].pull("puller", cursor, 50)
                seen.extend((c["node"], c["node_seq"]) for c in page["changes"])
                cursor = page["cursor"]
                if done.is_set() and not page["more"] and {*seen} >= expected:
                    return
                time.sleep(0.005)

        lock = hold(pg_url, "held")
        # n0's second push takes its sequences first, then waits on the locked row.
        held = [change("n0", i, f"n0-{i}") for i in range(2, 40)] + [change("n0", 40, "held", "update", territory="south")]
        expected |= {("n0", i) for i in range(2, 41)}
        held_push = threading.Thread(target=clients["p0"].push, args=("n0", held))
        held_push.start()
        lock_waiter(pg_url, server)
        pulling = threading.Thread(target=puller)
        pulling.start()

        def pusher(name: str, node: str) -> None:
            for batch in range(5):
                clients[name].push(node, [change(node, batch * 20 + i, f"{node}-{batch}-{i}") for i in range(1, 21)])

        pushers = [threading.Thread(target=pusher, args=(f"p{k}", f"n{k}")) for k in (1, 2, 3)]
        expected |= {(f"n{k}", i) for k in (1, 2, 3) for i in range(1, 101)}
        for t in pushers:
            t.start()
        for t in pushers:
            t.join(timeout=60)
        time.sleep(0.3)  # the puller goes on meanwhile, blocked behind the open push
        assert not {("n0", i) for i in range(2, 41)} & set(seen)
        lock.rollback()
        lock.close()
        held_push.join(timeout=30)
        done.set()
        pulling.join(timeout=60)
        assert not pulling.is_alive()
        assert len(seen) == len(set(seen)), "a change was pulled twice"
        assert set(seen) == expected, f"missed {sorted(expected - set(seen))[:5]}"
        for c in clients.values():
            c.close()
    finally:
        stop(server)


@pg
@pytest.mark.slow
def test_a_worker_killed_in_the_middle_of_a_push_loses_it_whole_and_the_retry_completes(
        pg_url: str, tmp_path: Path) -> None:
    server = Server(pg_url, "--workers", "2")
    try:
        wang_token = server.add_rep("wang", "--role", "manager")
        boss_token = server.add_rep("boss", "--role", "manager")
        wang = Crm(tmp_path / "wang.db", rep="wang")
        held = wang.customers.create({"name": "张伟", "territory": "north"})
        Sync(wang).run(SyncClient(server.url, wang_token))
        for i in range(30):
            wang.customers.create({"name": f"客户{i}"})
        wang.customers.update(held["id"], {"territory": "south"})
        node = wang.replica["node"]

        lock = hold(pg_url, held["id"])
        failed: list[Exception] = []

        def sync() -> None:
            try:
                Sync(wang).run(SyncClient(server.url, wang_token, timeout=30))
            except SyncError as exc:
                failed.append(exc)

        syncing = threading.Thread(target=sync)
        syncing.start()
        os.kill(lock_waiter(pg_url, server), signal.SIGKILL)
        syncing.join(timeout=30)
        assert failed and failed[0].code in ("unreachable", "server_error")
        lock.rollback()  # the dead worker's transaction may now go on, and must not commit
        lock.close()

        def held_rows() -> int:
            with psycopg.connect(pg_url, autocommit=True) as conn:
                return conn.execute("SELECT count(*) FROM log WHERE node = %s", (node,)).fetchone()[0]

        time.sleep(0.5)
        assert held_rows() == 1  # the first sync's customer; nothing of the killed push
        assert Sync(wang).status()["pending"] == 31

        report = None
        for _ in range(50):  # the supervisor restarts the killed worker meanwhile
            try:
                report = Sync(wang).run(SyncClient(server.url, wang_token))
                break
            except SyncError:
                time.sleep(0.2)
        assert report is not None and report.pushed == 31
        assert held_rows() == 32 and Sync(wang).status()["pending"] == 0
        boss = Crm(tmp_path / "boss.db", rep="boss")
        Sync(boss).run(SyncClient(server.url, boss_token))
        assert boss.customers.count() == 31
        assert boss.customers.get(held["id"])["territory"] == "south"
    finally:
        stop(server)


def waiting_workers(url: str, server: Server) -> int:
    """How many of this server's PostgreSQL connections wait on a lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND application_name = ANY(%s)", (worker_names(server),)).fetchone()[0]


@pg
@pytest.mark.slow
@pytest.mark.parametrize("others", [0, 300], ids=["alone", "in a push about 300 customers"])
def test_two_refunds_of_one_sale_pushed_at_the_same_moment_cannot_both_pass(pg_url: str, tmp_path: Path,
                                                                            others: int) -> None:
    """Two laptops push a refund of 60 each of one sale of 100 at the same moment,
    through a server of two workers: each worker judged its refund against the sale's
    refunds it saw, neither saw the other's, and both were stored (120 refunded of a
    sale of 100). The test makes the moment certain: it holds the log (SHARE mode:
    reads go on, writes wait) until both pushes wait on a lock, then lets go. Today
    both pushes, judged already, wait to write; with the pushes serialised per
    customer, the second waits before it judges, and then sees the first; a push
    about more customers than the server locks one by one (a new customer with an
    order each, around the second refund) waits for every other push about orders."""
    server = Server(pg_url, "--workers", "2", "--rate", "2000")
    try:
        token = server.add_rep("wang", "--territory", "east")
        wang = Crm(tmp_path / "wang.db", rep="wang")
        cid = wang.customers.create({"name": "王芳", "territory": "east"})["id"]
        sale = wang.order_book.add({"customer_id": cid, "ordered_at": "2026-11-30"}, [LineSpec("传感器", "1", "100")])["id"]
        Sync(wang).run(SyncClient(server.url, token))

        def refund(node: str) -> list[dict]:
            hlc = clock.pack(clock.now_ms(), 1)
            order = {"customer_id": cid, "ordered_at": "2026-12-01", "owner": "wang", "status": "confirmed",
                     "refund_of": sale, "product": "传感器", "quantity": 1, "amount": 60.0}
            line = {"order_id": f"R-{node}", "customer_id": cid, "product": "传感器", "quantity": 0.6,
                    "unit_price": 100.0, "amount": 60.0, "owner": "wang"}
            changes = [("orders", f"R-{node}", order), ("order_lines", f"L-{node}", line)]
            if node == "laptop-2":
                for i in range(others):
                    changes.append(("customers", f"C-{i}", {"name": f"客户{i}", "territory": "east", "owner": "wang"}))
                    changes.append(("orders", f"O-{i}", {**order, "customer_id": f"C-{i}", "refund_of": None,
                                                         "amount": 1.0}))
            return [{"node": node, "node_seq": seq, "hlc": hlc + seq, "tbl": tbl, "row_id": row, "op": "insert",
                     "data": data} for seq, (tbl, row, data) in enumerate(changes, 1)]

        answers: dict[str, object] = {}

        def push(node: str) -> None:
            with SyncClient(server.url, token) as client:
                answers[node] = client.push(node, refund(node))

        lock = psycopg.connect(pg_url)
        lock.execute("LOCK TABLE log IN SHARE MODE")
        pushes = [threading.Thread(target=push, args=(node,)) for node in ("laptop-1", "laptop-2")]
        for t in pushes:
            t.start()
        deadline = time.monotonic() + 30
        while waiting_workers(pg_url, server) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting_workers(pg_url, server) == 2, "the two pushes did not both reach a lock"
        lock.rollback()
        lock.close()
        for t in pushes:
            t.join(timeout=60)
        refused = {node: [r.node_seq for r in a.refused] for node, a in answers.items()}  # type: ignore[attr-defined]
        assert len(answers) == 2 and sorted(refused.values()) == [[], [1, 2]], answers
        assert sum(a.accepted for a in answers.values()) == 2 + 2 * others  # type: ignore[attr-defined]
        first = next(r for a in answers.values() for r in a.refused if r.node_seq == 1)  # type: ignore[attr-defined]
        assert first.reason.startswith(f"amount: refunds of order {sale} would come to 120.00, more than "
                                            "its 100.00")
        with psycopg.connect(pg_url, autocommit=True) as conn:
            stored = conn.execute("SELECT count(*) FROM log WHERE tbl = 'orders' AND data::jsonb->>'refund_of' = %s",
                                  (sale,)).fetchone()[0]
        assert stored == 1
    finally:
        stop(server)
