"""DESIGN invariant 7 on PostgreSQL: pushes take server sequences in one order and
commit in another; a puller must never move its cursor past a change that commits
later. A push is held open from outside (a row it must update is locked by the test)
after it took its sequences, while a later push commits and a puller goes on pulling."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from crm_tui.sync import clock
from crm_tui.sync.protocol import WireChange
from crm_tui.sync.server.admin import open_store
from crm_tui.sync.server.store import RepInfo

pytestmark = pytest.mark.postgres


def customer(node: str, seq: int, row: str, op: str = "insert", **data: object) -> WireChange:
    return WireChange(node=node, node_seq=seq, hlc=clock.pack(clock.now_ms(), seq), tbl="customers",
                      row_id=row, op=op, data={"name": row, **data})


BOSS, WANG, LI = (RepInfo(name, "manager", "") for name in ("boss", "wang", "li"))


def wait_for_lock_waiter(url: str, timeout: float = 20) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()").fetchone():
                return
            time.sleep(0.02)
    raise AssertionError("the held push never reached the locked row")


def test_a_puller_never_skips_a_push_that_commits_late(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        store.push(BOSS, "z", [customer("z", 1, "held", territory="north")])
        seen: list[tuple[str, int]] = []
        cursor = 0

        def pull_all() -> None:
            nonlocal cursor
            for _ in range(50):
                page = store.pull(cursor, 7, exclude_node="z")
                seen.extend((c[1], c[2]) for c in page.changes)
                cursor = page.cursor
                if cursor >= page.watermark:
                    return

        lock = psycopg.connect(pg_url)  # a transaction holding the customer's scope row
        lock.execute("SELECT * FROM customer_scope WHERE customer_id = 'held' FOR UPDATE")
        # Push A takes its sequences, then waits on that row before it can commit.
        a = [customer("a", i, f"a{i}") for i in range(1, 20)] + [customer("a", 20, "held", "update", territory="south")]
        pushed_a = threading.Thread(target=store.push, args=(WANG, "a", a))
        pushed_a.start()
        wait_for_lock_waiter(pg_url)
        # Push B starts later, takes later sequences, and commits first.
        store.push(LI, "b", [customer("b", i, f"b{i}") for i in range(1, 30)])
        [[b_low]] = psycopg.connect(pg_url).execute("SELECT min(server_seq) FROM log WHERE node = 'b'").fetchall()
        pull_all()
        assert seen == [] and cursor < b_low, "the watermark let the puller past the open push"
        lock.rollback()
        lock.close()
        pushed_a.join(timeout=20)
        assert not pushed_a.is_alive()
        pull_all()
        expected = {("a", i) for i in range(1, 21)} | {("b", i) for i in range(1, 30)}
        assert len(seen) == len(set(seen)) and set(seen) == expected
    finally:
        store.close()


def test_a_push_whose_connection_dies_does_not_hold_the_watermark(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        store.push(WANG, "a", [customer("a", 1, "x")])
        # A push announced itself and its connection died before it committed.
        dead = psycopg.connect(pg_url, autocommit=True)
        [[low]] = dead.execute(
            "INSERT INTO inflight (low, pid, backend_start) SELECT nextval('log_seq'), pid, "
            "backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid() RETURNING low").fetchall()
        store.push(WANG, "b", [customer("b", 1, "y")])
        assert store.watermark() == low - 1  # held below the announced push while it lives
        assert [(c[1], c[2]) for c in store.pull(0, 10).changes] == [("a", 1)]
        dead.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(store.pull(0, 10).changes) < 2:
            time.sleep(0.05)  # the backend's exit is asynchronous to our close
        assert [(c[1], c[2]) for c in store.pull(0, 10).changes] == [("a", 1), ("b", 1)]
    finally:
        store.close()
