"""Sync speed, each figure beside its reference from the same run:

1. pull 100k changes into an empty replica (target >= 30k changes/s applied);
   reference: a plain executemany of the same records into the same tables (with
   their search index) and of the same rows into the change log;
2. pull 100 new changes when the server log holds 1M, against the same pull from a
   10k log (target: flat, <= 1.5x);
3. push 10k changes;
4. push 10k valid changes of a rep (customers, visits, orders) with validation and
   authorisation, against the same push with the server's rules switched off
   (target <= 1.5x);
5. one customer entering the view of a rep whose laptop holds 10k changes: that
   sync's changes received and time, against a new laptop pulling that customer's
   history alone (target <= 1.5x).

What the first pull's floor is made of (docs/benchmarks.md, "Seventh pass"):
`--only floor` times each part of the plain reference written the writer's way (and
each index, key and foreign key by runs without it); `--only parts` times each stage
of the writer's apply of the pull's ready pages (and without each table's indexes).

The server logs are built with executemany directly in the SQLite store (building a
1M log through the API would take minutes here); pulls and pushes then go through
the real client and the real FastAPI app, in process over Starlette's test
transport (no sockets).

    python bench/bench_sync.py [--changes 100000] [--big-log 1000000] [--small-log 10000]
    python bench/bench_sync.py --only floor|parts --changes 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from crm_tui.api import Crm
from crm_tui.api.sync import DERIVE, PULL_CACHE_KIB, Sync
from crm_tui.api.sync_apply import apply_batch, ready_page
from crm_tui.db import sync_state
from crm_tui.db.connection import transaction
from crm_tui.db.migrations import search_text
from crm_tui.domain import changes
from crm_tui.domain.entities import local_only_columns
from crm_tui.sync import clock
from crm_tui.sync.client import SyncClient
from crm_tui.sync.merge import Change
from crm_tui.sync.protocol import WireChange
from crm_tui.sync.server import sqlite_store
from crm_tui.sync.server.app import create_app, hash_token
from crm_tui.sync.server.judge import Judge
from crm_tui.sync.server.sqlite_store import MIGRATIONS, SqliteStore

BASE = "http://testserver"
NOW = "2025-03-01T10:00:00.000Z"


def customer(i: int) -> dict:
    return {"owner": "src", "created_at": NOW, "updated_at": NOW, "name": f"Customer {i}",
            "company": f"Company {i % 977}", "title": None, "phone": f"+86138{i:08d}", "mobile": None,
            "email": None, "wechat": None, "address": None, "region": "east", "industry": "tea",
            "company_size": None, "purchasing_power": None, "source": None, "tags": None, "territory": None,
            "birthday": None, "notes": None}


def visit(cid: str) -> dict:
    return {"owner": "src", "created_at": NOW, "updated_at": NOW, "customer_id": cid,
            "visited_at": "2025-03-01T10:00:00", "channel": "phone", "purpose": "visit", "notes": "met",
            "outcome": None, "next_action": None, "next_action_date": None, "follow_up_done": None}


def order(cid: str, i: int) -> dict:
    return {"owner": "src", "created_at": NOW, "updated_at": NOW, "customer_id": cid,
            "ordered_at": "2025-03-01", "product": "tea", "quantity": 1, "amount": float(i % 500), "notes": None}


def mixed_log(n: int, node: str = "src") -> list[tuple]:
    """n changes of a working team: 20% new customers, 35% visits, 35% orders, 10%
    edits of customers; as log rows (node, node_seq, hlc, tbl, row_id, op, data, base)."""
    rows, customers = [], []
    rng = random.Random(3)
    hlc = clock.pack(clock.now_ms() - 86_400_000, 0)
    for seq in range(1, n + 1):
        hlc += 1
        k = seq % 20
        if k < 4 or not customers:
            rid = f"C{seq:012d}"
            customers.append((rid, hlc))
            rows.append((node, seq, hlc, "customers", rid, "insert", customer(seq), None))
        elif k < 11:
            rows.append((node, seq, hlc, "visits", f"V{seq:012d}", "insert", visit(customers[seq % len(customers)][0]), None))
        elif k < 18:
            rows.append((node, seq, hlc, "orders", f"O{seq:012d}", "insert",
                         order(customers[seq % len(customers)][0], seq), None))
        else:
            rid, base = rng.choice(customers)
            rows.append((node, seq, hlc, "customers", rid, "update", {"updated_at": NOW, "notes": f"note {seq}"},
                         {"updated_at": [base, node], "notes": [base, node]}))
    return rows


def spoil(rows: list[tuple], bad: int) -> list[tuple]:
    """`bad` visits of the log, spread evenly, turned into visits of a customer no
    laptop ever receives: each fails only when written, and is set aside."""
    visits = [i for i, r in enumerate(rows) if r[3] == "visits"]
    for i in visits[len(visits) // (2 * bad)::len(visits) // bad][:bad] if bad else ():
        n, s, h, t, r, op, d, b = rows[i]
        rows[i] = (n, s, h, t, r, op, {**d, "customer_id": "never-received"}, b)
    return rows


def fill_store(store: SqliteStore, rows: list[tuple]) -> None:
    """Straight into the store's log table: the fast way to build a big log."""
    conn = store._conn
    dumps = json.dumps
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep, pushed_by, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, 'src', 'src', ?)",
        ((n, s, h, t, r, op, dumps(d), dumps(b) if b else None, NOW) for n, s, h, t, r, op, d, b in rows),
    )
    conn.execute("INSERT OR REPLACE INTO nodes (node, rep, last_seq) VALUES (?, 'src', ?)", (rows[0][0], rows[-1][1]))
    # The snapshot's winners index (fields, then the insert that made each record), as
    # an upgraded server builds it.
    conn.execute(MIGRATIONS[1])
    conn.execute(MIGRATIONS[2])
    conn.execute("COMMIT")


def new_world(tmp: Path, name: str) -> tuple[SqliteStore, TestClient]:
    store = SqliteStore(tmp / f"{name}.db")
    store.add_rep("src", "manager", hash_token("src"))
    store.add_rep("bench", "manager", hash_token("bench"))
    return store, TestClient(create_app(store, max_offset_ms=10**12, rate=1e9))


def bench_pull_into_empty(tmp: Path, n: int) -> None:
    store, http = new_world(tmp, "server-pull")
    rows = mixed_log(n)
    fill_store(store, rows)
    crm = Crm(tmp / "empty.db", rep="bench")
    start = time.perf_counter()
    report = Sync(crm).run(SyncClient(BASE, "bench", http=http), pull_limit=5000)
    total = time.perf_counter() - start
    # A first pull is a snapshot: the changes that still win a field (edits that were
    # overwritten since are not sent).
    served = len(store.pull(0, 10**7, exclude_node="counter", snapshot=True).changes)
    assert report.pulled == served, (report, served)
    n = served
    live = sum(crm.records(t).count() for t in ("customers", "visits", "orders"))
    crm.close()

    # Apply alone: the same pages fetched first, then applied into another empty replica.
    client = SyncClient(BASE, "bench", http=http)
    pages, cursor = [], 0
    while True:
        page = client.pull("other-node", cursor, 5000, snapshot=cursor == 0)
        pages.append(page)
        cursor = page["cursor"]
        if not page["more"]:
            break
    crm2 = Crm(tmp / "empty2.db", rep="bench")
    start = time.perf_counter()
    for page in pages:
        batch = [Change(c["node"], c["node_seq"], c["hlc"], c["tbl"], c["row_id"], c["op"], c["data"], c["old"],
                        c["base"], c["rep"]) for c in page["changes"]]
        with crm2.lock:
            apply_batch(crm2.conn, batch, cursor=page["cursor"], max_offset_ms=10**12)
    apply_only = time.perf_counter() - start
    crm2.close()

    # Reference: plain executemany of the final records (tables with their search
    # index, capture off) and of the log rows.
    ref = Crm(tmp / "ref.db", rep="bench")
    final: dict[tuple[str, str], dict] = {}
    for _n, _s, _h, t, r, op, d, _b in rows:
        final[(t, r)] = {**final.get((t, r), {}), **d} if op == "update" else dict(d)
    start = time.perf_counter()
    with ref.conn:
        ref.conn.execute("BEGIN IMMEDIATE")
        ref.conn.execute("UPDATE replica SET capture = 0")
        for table in ("customers", "visits", "orders"):
            recs = [(r, *v.values()) for (t, r), v in final.items() if t == table]
            cols = list(next(v for (t, _), v in final.items() if t == table))
            ref.conn.executemany(f"INSERT INTO {table} (id, {', '.join(cols)}) VALUES (?{', ?' * len(cols)})", recs)
        ref.conn.executemany(
            "INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, base, rep) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'src')",
            ((nn, s, h, t, r, op, json.dumps(d), json.dumps(b) if b else None) for nn, s, h, t, r, op, d, b in rows))
        ref.conn.execute("UPDATE replica SET capture = 1")
    reference = time.perf_counter() - start
    ref.close()
    print(f"pull {n:,} changes into an empty replica ({live:,} records): {total:.2f} s = {n / total:,.0f} changes/s "
          f"end to end; apply alone {apply_only:.2f} s = {n / apply_only:,.0f} changes/s; "
          f"reference plain executemany {reference:.2f} s; apply/reference {apply_only / reference:.1f}x")


def bench_pull_100_new(tmp: Path, big: int, small: int, repeats: int = 11) -> None:
    worlds = {}
    for size in (small, big):
        store, http = new_world(tmp, f"server-{size}")
        start = time.perf_counter()
        hlc = clock.pack(clock.now_ms() - 86_400_000, 0)
        fill_store(store, [("src", s, hlc + s, "orders", f"O{s:012d}", "update", {"notes": "x"}, None)
                           for s in range(1, size - 100 + 1)])
        fill_store(store, [("src2", s, hlc + size + s, "customers", f"N{s:06d}", "insert", customer(s), None)
                           for s in range(1, 101)])
        print(f"  log of {size:,} changes built in {time.perf_counter() - start:.1f} s")
        worlds[size] = (store, http)
    samples: dict[int, list[float]] = {small: [], big: []}
    for i in range(repeats):  # interleaved, so machine load hits both alike
        for size, (store, http) in worlds.items():
            crm = Crm(tmp / f"r-{size}-{i}.db", rep="bench")
            sync_state.bind_server(crm.conn, store.server_id, store.epoch)
            crm.conn.execute("UPDATE sync_state SET cursor = ?", (size - 100,))
            start = time.perf_counter()
            report = Sync(crm).run(SyncClient(BASE, "bench", http=http))
            samples[size].append(time.perf_counter() - start)
            assert report.pulled == 100, report
            crm.close()
    for store, _ in worlds.values():
        store.close()
    t_big, t_small = statistics.median(samples[big]), statistics.median(samples[small])
    print(f"pull 100 new from a {big:,} log vs a {small:,} log (median of {repeats}, whole sync: hello, "
          f"pull, apply, commit): {t_big * 1000:.1f} ms vs {t_small * 1000:.1f} ms = {t_big / t_small:.2f}x")


def bench_push(tmp: Path, n: int) -> None:
    store, http = new_world(tmp, "server-push")
    crm = Crm(tmp / "pusher.db", rep="bench")
    cust = crm.customers.create({"name": "张伟"})
    records = [crm.orders.prepare({"customer_id": cust["id"], "ordered_at": "2025-03-01", "product": "tea",
                                   "amount": i}) for i in range(n - 1)]
    with crm.conn:
        crm.conn.execute("BEGIN IMMEDIATE")
        crm.orders.insert_prepared(records)
    start = time.perf_counter()
    report = Sync(crm).run(SyncClient(BASE, "bench", http=http))
    took = time.perf_counter() - start
    assert report.pushed == n, report
    # Reference: the same rows written straight into the store's log.
    rows = [(c["node"], c["node_seq"] + 10**6, c["hlc"], c["tbl"], c["row_id"], c["op"], json.loads(c["data"]),
             None) for c in crm.changes()]
    start = time.perf_counter()
    fill_store(store, rows)
    reference = time.perf_counter() - start
    print(f"push {n:,} changes: {took:.2f} s = {n / took:,.0f} changes/s; reference executemany into the "
          f"server log {reference:.2f} s; ratio {took / reference:.1f}x")
    crm.close()


class NoRules(Judge):
    """The server as it was before its rules: every change accepted, visibility kept."""

    def judge(self, c: WireChange) -> None:  # type: ignore[override]
        self.out.accepted.append((c, self._note(c)))


def rep_work(crm: Crm, n: int, territory: str, prefix: str = "客户") -> None:
    """n changes of a rep on this laptop: a customer, then visits and orders for it."""
    left = n
    i = 0
    while left > 0:
        cust = crm.customers.create({"name": f"{prefix}{i}", "territory": territory, "phone": f"138{i:08d}"})
        left -= 1
        for k in range(min(9, left)):
            if k % 2:
                crm.visits.create({"customer_id": cust["id"], "visited_at": "2025-03-01T10:00:00",
                                   "channel": "phone", "purpose": "visit", "notes": f"met {k}"})
            else:
                crm.orders.create({"customer_id": cust["id"], "ordered_at": "2025-03-01", "product": "tea",
                                   "quantity": k, "amount": 10 * k + 1})
            left -= 1
        i += 1


def _push_judged_and_not(tmp: Path, repeats: int, server: Callable[[str, int], SqliteStore], work: str,
                         expected: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """A rep's push of the laptop book `work` (copied fresh each run) to a server made by
    `server(mode, round)`, judged by the rules ("rules") and by a judge accepting
    everything ("none"), interleaved: the medians of wall and of CPU, (rules, none) each."""
    samples: dict[str, list[float]] = {"rules": [], "none": []}
    cpu: dict[str, list[float]] = {"rules": [], "none": []}
    for i in range(repeats):
        for mode in ("rules", "none"):
            store = server(mode, i)
            http = TestClient(create_app(store, max_offset_ms=10**12, rate=1e9))
            crm_path = tmp / f"pusher-{Path(work).stem}-{mode}-{i}.db"
            shutil.copy(tmp / work, crm_path)
            crm = Crm(crm_path, rep="wang")
            sqlite_store.Judge = Judge if mode == "rules" else NoRules  # type: ignore[misc]
            start, start_cpu = time.perf_counter(), time.process_time()
            report = Sync(crm).run(SyncClient(BASE, "wang", http=http), push_batch=2000)
            samples[mode].append(time.perf_counter() - start)
            cpu[mode].append(time.process_time() - start_cpu)
            sqlite_store.Judge = Judge  # type: ignore[misc]
            assert report.pushed == expected and store.refused_count() == 0, report
            crm.close()
            store.close()
    return ((statistics.median(samples["rules"]), statistics.median(samples["none"])),
            (statistics.median(cpu["rules"]), statistics.median(cpu["none"])))


def bench_push_rules(tmp: Path, n: int, repeats: int = 3) -> None:
    source = Crm(tmp / "rep-work.db", rep="wang")
    rep_work(source, n, "east")
    source.close()
    def server(mode: str, i: int) -> SqliteStore:
        store = SqliteStore(tmp / f"push-{mode}-{i}.db")
        store.add_rep("wang", "rep", hash_token("wang"), ["east"])
        return store

    (with_rules, without), (cpu_rules, cpu_none) = _push_judged_and_not(tmp, repeats, server, "rep-work.db", n)
    print(f"push {n:,} changes of a rep, validated and authorised: {with_rules:.2f} s vs {without:.2f} s "
          f"without the rules (median of {repeats}) = {with_rules / without:.2f}x; CPU (client and server, one "
          f"process) {cpu_rules:.2f} s vs {cpu_none:.2f} s = {cpu_rules / cpu_none:.2f}x")


def bench_push_visit_edits(tmp: Path, n: int, repeats: int = 3) -> None:
    """A rep's push of edits of visits the server holds (each visit's next action and
    notes changed), judged: since 8e35dd6 the judge reads each edited visit's stored
    record (record_of) to check the visit's state rule on what the edit leaves.
    Reference in the same run: the same push to a server whose judge accepts
    everything. Run from another tree with PYTHONPATH to compare code."""
    source = Crm(tmp / "edits-work.db", rep="wang")
    rep_work(source, n, "east")
    store = SqliteStore(tmp / "edits-server.db")
    store.add_rep("wang", "rep", hash_token("wang"), ["east"])
    http = TestClient(create_app(store, max_offset_ms=10**12, rate=1e9))
    assert Sync(source).run(SyncClient(BASE, "wang", http=http), push_batch=2000).pushed == n
    store.close()
    ids = [r[0] for r in source.conn.execute("SELECT id FROM visits ORDER BY id")]
    for k, visit_id in enumerate(ids):
        source.visits.update(visit_id, {"next_action_date": f"2025-03-{2 + k % 27:02d}",
                                        "next_action": "回访", "notes": f"edited {k}"})
    source.close()
    def server(mode: str, i: int) -> SqliteStore:
        shutil.copy(tmp / "edits-server.db", tmp / f"edits-server-{mode}-{i}.db")
        return SqliteStore(tmp / f"edits-server-{mode}-{i}.db")

    (with_rules, without), (cpu_rules, cpu_none) = _push_judged_and_not(tmp, repeats, server, "edits-work.db",
                                                                        len(ids))
    import crm_tui
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC ({Path(crm_tui.__file__).parents[1]}) push {len(ids):,} "
          f"edits of visits (of {n:,} changes held), judged: {with_rules:.3f} s vs {without:.3f} s with the judge "
          f"accepting everything (median of {repeats}) = {with_rules / without:.2f}x; CPU (client and server, one "
          f"process) {cpu_rules:.3f} s vs {cpu_none:.3f} s = {cpu_rules / cpu_none:.2f}x; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)


def bench_view_enter(tmp: Path, n: int) -> None:
    store = SqliteStore(tmp / "view.db")
    store.add_rep("wang", "rep", hash_token("wang"), ["east"])
    store.add_rep("li", "rep", hash_token("li"), ["west"])
    store.add_rep("boss", "manager", hash_token("boss"))
    store.add_rep("solo", "rep", hash_token("solo"), ["north"])
    http = TestClient(create_app(store, max_offset_ms=10**12, rate=1e9))
    wang, li, boss = (Crm(tmp / f"view-{x}.db", rep=x) for x in ("wang", "li", "boss"))
    rep_work(wang, n, "east")
    rep_work(li, 30, "west", prefix="西")  # the customer to move, with its history
    for crm, token in ((wang, "wang"), (li, "li"), (boss, "boss"), (wang, "wang")):
        Sync(crm).run(SyncClient(BASE, token, http=http))
    moving = li.conn.execute("SELECT id FROM customers WHERE name = '西0'").fetchone()[0]
    history = store._conn.execute("SELECT count(*) FROM log WHERE scope = ?", (moving,)).fetchone()[0]
    # The manager moves it into the east: it enters wang's view.
    boss.customers.update(moving, {"territory": "east"})
    Sync(boss).run(SyncClient(BASE, "boss", http=http))
    start, start_cpu = time.perf_counter(), time.process_time()
    report = Sync(wang).run(SyncClient(BASE, "wang", http=http))
    entering, entering_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    assert wang.conn.execute("SELECT count(*) FROM customers WHERE id = ?", (moving,)).fetchone()[0] == 1
    # Reference: that customer's history alone, pulled by a new laptop of a rep who sees only it.
    store.set_rep("solo", territories=["north"])
    boss.customers.update(moving, {"territory": "north"})
    Sync(boss).run(SyncClient(BASE, "boss", http=http))
    solo = Crm(tmp / "view-solo.db", rep="solo")
    start, start_cpu = time.perf_counter(), time.process_time()
    alone = Sync(solo).run(SyncClient(BASE, "solo", http=http))
    reference, reference_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    print(f"one customer ({history} changes of history) enters the view of a rep holding {n:,} changes: "
          f"{report.pulled + report.pull_duplicates} changes received in {entering * 1000:.0f} ms; its history "
          f"alone to a new laptop: {alone.pulled} changes in {reference * 1000:.0f} ms = "
          f"{entering / reference:.2f}x; CPU {entering_cpu * 1000:.0f} ms vs {reference_cpu * 1000:.0f} ms = "
          f"{entering_cpu / reference_cpu:.2f}x")
    for crm in (wang, li, boss, solo):
        crm.close()
    store.close()


def bench_pull_checks(tmp: Path, n: int, repeats: int = 3) -> None:
    """What checking every pulled change costs the apply: the same pages applied into
    an empty replica with the rules (check_change) and with them skipped, interleaved,
    CPU time of the process."""
    rows = mixed_log(n)
    pages = []
    for i in range(0, len(rows), 5000):
        pages.append([Change(nn, s, h, t, r, op, {k: v for k, v in d.items() if k not in local_only_columns(t)},
                             None, b, "src") for nn, s, h, t, r, op, d, b in rows[i:i + 5000]])
    samples: dict[str, list[float]] = {"rules": [], "none": []}
    for i in range(repeats):
        for mode in ("rules", "none"):
            crm = Crm(tmp / f"checks-{mode}-{i}.db", rep="bench")
            changes.forget_passed()  # values are new to each replica
            start = time.process_time()
            for k, page in enumerate(pages):
                with crm.lock:
                    done = apply_batch(crm.conn, page, cursor=k + 1, max_offset_ms=10**12,
                                       check=None if mode == "rules" else (lambda c: None))
                assert done.set_aside == 0, done
            samples[mode].append(time.process_time() - start)
            crm.close()
    rules, none = statistics.median(samples["rules"]), statistics.median(samples["none"])
    print(f"apply {n:,} pulled changes (CPU, median of {repeats}): {rules:.2f} s with the rules, {none:.2f} s "
          f"without = {rules / none:.2f}x, {(rules - none) / n * 1e6:.1f} us a change")


# The secondary (not UNIQUE) indexes a first sync writes, by table, as the schema names them.
def _secondary_indexes(conn, tables=("customers", "visits", "orders", "change_log")) -> dict[str, list[tuple[str, str]]]:
    return {t: [(r[0], r[1]) for r in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
        "AND sql NOT LIKE 'CREATE UNIQUE%' ORDER BY name", (t,))] for t in tables}


def _floor_data(n: int) -> tuple[dict[str, tuple[list[str], list[tuple]]], list[tuple], int]:
    """The final records of the n-change mix by table (columns, rows with the derived
    pinyin, in log order) and its log rows, as the plain executemany reference writes them."""
    rows = mixed_log(n)
    final: dict[tuple[str, str], dict] = {}
    for _n, _s, _h, t, r, op, d, _b in rows:
        final[(t, r)] = {**final.get((t, r), {}), **d} if op == "update" else dict(d)
    tables: dict[str, tuple[list[str], list[tuple]]] = {}
    for (t, r), v in final.items():
        if t in DERIVE:
            v = {**v, **DERIVE[t](v)}
        cols, recs = tables.setdefault(t, (list(v), []))
        recs.append((r, *(v[c] for c in cols)))
    return tables, rows, len(rows)


# The log's JSON as the writer encodes it (crm_tui.db.sync_state: one encoder, no spaces).
LOG_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

FLOOR_PARTS = ("customers", "visits", "orders", "search text", "search index", "log JSON", "log rows", "commits")


def _floor_run(path: Path, data, pages: int, drop: frozenset[str], fk: bool, bare: bool,
               build_after: bool) -> dict[str, float]:
    """One plain write of the mix into a new book at `path`, in `pages` transactions
    (the pull's), timed by part (CPU of this process, and wall for the commits):
    `drop` names secondary indexes left out; `bare`: the four tables made again
    without any constraint or index; `build_after`: the dropped indexes created once
    at the end (timed as "index build")."""
    tables, log, _ = data
    Crm(path, rep="bench").close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA foreign_keys = {'ON' if fk and not bare else 'OFF'}")
    conn.execute("PRAGMA cache_size = -65536")
    # The insert triggers are set aside while a page is written (the writer's way).
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%AFTER INSERT ON%'"
                                " AND tbl_name IN ('customers', 'visits', 'orders')").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    secondary = _secondary_indexes(conn)
    dropped = [(name, sql) for ix in secondary.values() for name, sql in ix if name in drop or bare]
    for name, _ in dropped:
        conn.execute(f'DROP INDEX "{name}"')
    if bare:
        for t in ("customers", "visits", "orders", "change_log"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
            key = "local_id INTEGER PRIMARY KEY, " if t == "customers" else "seq INTEGER PRIMARY KEY, " if t == "change_log" else ""
            rest = [c for c in cols if c not in ("local_id", "seq")]
            conn.execute("PRAGMA legacy_alter_table = ON")
            conn.execute(f"DROP TABLE {t}")
            conn.execute(f"CREATE TABLE {t} ({key}{', '.join(rest)})")
    times = dict.fromkeys((*FLOOR_PARTS, "commit wall", "index build"), 0.0)
    clock_ = time.process_time
    n_log = len(log)
    for p in range(pages):
        conn.execute("BEGIN IMMEDIATE")
        first = conn.execute("SELECT coalesce(max(local_id), 0) FROM customers").fetchone()[0]
        for t in ("customers", "visits", "orders"):
            cols, recs = tables[t]
            lo, hi = len(recs) * p // pages, len(recs) * (p + 1) // pages
            a = clock_()
            conn.executemany(f"INSERT INTO {t} (id, {', '.join(cols)}) VALUES (?{', ?' * len(cols)})", recs[lo:hi])
            times[t] += clock_() - a
        a = clock_()
        conn.execute(f"INSERT INTO customer_search_text (local_id, text) SELECT local_id, {search_text('c')} "
                     "FROM customers AS c WHERE local_id > ?", (first,))
        b = clock_()
        conn.execute("INSERT INTO customer_search (rowid, text) SELECT local_id, text FROM customer_search_text "
                     "WHERE local_id > ?", (first,))
        c = clock_()
        times["search text"] += b - a
        times["search index"] += c - b
        lo, hi = n_log * p // pages, n_log * (p + 1) // pages
        a = clock_()
        rows = [(nn, s, h, t, r, op, LOG_JSON(d), None, LOG_JSON(b) if b else None, "src")
                for nn, s, h, t, r, op, d, b in log[lo:hi]]
        b = clock_()
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.executemany("INSERT INTO change_log (node, node_seq, hlc, tbl, row_id, op, data, old, base, rep) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("PRAGMA ignore_check_constraints = OFF")
        c = clock_()
        times["log JSON"] += b - a
        times["log rows"] += c - b
        a, aw = clock_(), time.perf_counter()
        conn.execute("COMMIT")
        times["commits"] += clock_() - a
        times["commit wall"] += time.perf_counter() - aw
    if build_after and dropped and not bare:
        a = clock_()
        conn.execute("BEGIN IMMEDIATE")
        for _, sql in dropped:
            conn.execute(sql)
        conn.execute("COMMIT")
        times["index build"] = clock_() - a
    conn.close()
    return times


def bench_floor(tmp: Path, n: int, rounds: int = 3, pages: int = 20) -> None:
    """What the plain executemany reference of the 100k pull is made of: each part
    timed (CPU), and the cost of each secondary index, the foreign keys and the
    unique keys as the difference of runs without them, interleaved in rounds."""
    data = _floor_data(n)
    probe = Crm(tmp / "probe.db", rep="bench")
    secondary = _secondary_indexes(probe.conn)
    probe.close()
    names = [name for ix in secondary.values() for name, _ in ix]
    variants: dict[str, dict] = {"all": dict(drop=frozenset(), fk=True, bare=False, build_after=False)}
    for name in names:
        variants[f"-{name}"] = dict(drop=frozenset({name}), fk=True, bare=False, build_after=False)
    # The log's index stays: a pull reads it (each record's history).
    tables_only = frozenset(name for t, ix in secondary.items() if t != "change_log" for name, _ in ix)
    variants["-secondary, built after"] = dict(drop=tables_only, fk=True, bare=False, build_after=True)
    variants["-secondary -fk"] = dict(drop=frozenset(names), fk=False, bare=False, build_after=False)
    variants["bare"] = dict(drop=frozenset(), fk=False, bare=True, build_after=False)
    variants["all, one transaction"] = dict(drop=frozenset(), fk=True, bare=False, build_after=False, pages=1)
    got: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    k = 0
    for r in range(rounds):
        for v, kw in (variants.items() if r % 2 == 0 else reversed(list(variants.items()))):
            kw = dict(kw)
            k += 1
            got[v].append(_floor_run(tmp / f"floor-{k}.db", data, kw.pop("pages", pages), **kw))
            (tmp / f"floor-{k}.db").unlink()
            for suffix in ("-wal", "-shm"):
                Path(f"{tmp / f'floor-{k}.db'}{suffix}").unlink(missing_ok=True)
        print(f"round {r + 1} done {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()[0]:.2f}",
              flush=True)

    def med(v: str, part: str) -> float:
        return statistics.median(x[part] for x in got[v])

    def total(v: str) -> float:
        return statistics.median(sum(x[p] for p in (*FLOOR_PARTS, "index build")) for x in got[v])

    def spread(v: str) -> str:
        runs = sorted(sum(x[p] for p in (*FLOOR_PARTS, "index build")) for x in got[v])
        return f"{runs[0]:.3f}-{runs[-1]:.3f}"
    print(f"the plain reference of {data[2]:,} changes in {pages} page transactions, CPU by part "
          f"(median of {rounds}), load {os.getloadavg()}:")
    for part in FLOOR_PARTS:
        print(f"  {part:14} {med('all', part):.3f} s")
    print(f"  {'total':14} {total('all'):.3f} s (rounds {spread('all')}; commit wall {med('all', 'commit wall'):.3f} s); "
          f"one transaction: {total('all, one transaction'):.3f} s, commits {med('all, one transaction', 'commits'):.3f} s")
    for name in names:
        t = next(t for t, ix in secondary.items() if name in dict(ix))
        part = "log rows" if t == "change_log" else t
        print(f"  index {name:28} {med('all', part) - med('-' + name, part):+.3f} s of {part} "
              f"(total {total('all') - total('-' + name):+.3f} s)")
    v = "-secondary, built after"
    print(f"  every secondary index of customers, visits and orders left out: total {total(v) - med(v, 'index build'):.3f} s, built once at the end "
          f"{med(v, 'index build'):.3f} s -> {total(v):.3f} s against {total('all'):.3f} s")
    print(f"  and the foreign keys off: {total('-secondary -fk'):.3f} s; bare tables (no unique key, no index): "
          f"{total('bare'):.3f} s: " + ", ".join(f"{p} {med('bare', p):.3f}" for p in FLOOR_PARTS))


def _ready_pages(tmp: Path, n: int, limit: int = 5000) -> list:
    """The pages a first sync of the n-change mix receives, each made ready to apply
    (as the second process hands them over)."""
    store, http = new_world(tmp, "server-parts")
    fill_store(store, mixed_log(n))
    probe = Crm(tmp / "probe-parts.db", rep="bench")
    synced = sync_state.Tables(probe.conn).synced()
    probe.close()
    client = SyncClient(BASE, "bench", http=http)
    pages, cursor = [], 0
    while True:
        page = client.pull("other-node", cursor, limit, snapshot=cursor == 0)
        pages.append((page["cursor"], ready_page(page.pop("changes"), synced)))
        cursor = page["cursor"]
        if not page["more"]:
            break
    store.close()
    return pages


_STAGES = {"history look-ups": ("history",), "duplicate look-ups": ("known",),
           "never-received look-ups": ("never_received",), "log rows": ("log_changes",),
           "table rows": ("Writer.flush",), "set aside, conflicts": ("set_aside", "record_conflicts")}


def _apply_run(path: Path, pages: list, drop: frozenset[str], build_after: bool) -> dict[str, float]:
    """The writer's apply of ready pages into a new book, one transaction a page as
    `crm sync` applies them (collector paused, the pull's page cache), CPU by stage;
    `drop`: secondary indexes left out, created once at the end with `build_after`."""
    crm = Crm(path, rep="bench")
    conn = crm.conn
    dropped = [(name, sql) for ix in _secondary_indexes(conn).values() for name, sql in ix if name in drop]
    for name, _ in dropped:
        conn.execute(f'DROP INDEX "{name}"')
    sync_state.page_cache(conn, -PULL_CACHE_KIB)
    spent = dict.fromkeys((*_STAGES, "search index, triggers", "commits", "index build", "apply"), 0.0)
    wrapped = []

    def timed(owner, attr, stage):
        original = getattr(owner, attr)

        def run(*a, **k):
            t0 = time.process_time()
            try:
                return original(*a, **k)
            finally:
                spent[stage] += time.process_time() - t0
        setattr(owner, attr, run)
        wrapped.append((owner, attr, original))

    for stage, names in _STAGES.items():
        for name in names:
            owner, attr = (sync_state.Writer, "flush") if name == "Writer.flush" else (sync_state, name)
            timed(owner, attr, stage)
    original_swap = sync_state.insert_triggers_set_aside

    @contextmanager
    def swap(c, tables):
        t0 = time.process_time()
        cm = original_swap(c, tables)
        cm.__enter__()
        spent["search index, triggers"] += time.process_time() - t0
        try:
            yield
        except BaseException:
            cm.__exit__(*sys.exc_info())
            raise
        t0 = time.process_time()
        cm.__exit__(None, None, None)
        spent["search index, triggers"] += time.process_time() - t0
    sync_state.insert_triggers_set_aside = swap  # type: ignore[assignment]
    try:
        for cursor, page in pages:
            gc.disable()
            t0 = time.process_time()
            with crm.lock:
                conn.execute("BEGIN IMMEDIATE")
                apply_batch(conn, page, cursor=cursor, max_offset_ms=10**12, derive=DERIVE)
                t1 = time.process_time()
                conn.execute("COMMIT")
            t2 = time.process_time()
            gc.enable()
            spent["apply"] += t1 - t0
            spent["commits"] += t2 - t1
        if build_after and dropped:
            t0 = time.process_time()
            with transaction(conn):
                for _, sql in dropped:
                    conn.execute(sql)
            spent["index build"] = time.process_time() - t0
    finally:
        sync_state.insert_triggers_set_aside = original_swap
        for owner, attr, original in wrapped:
            setattr(owner, attr, original)
    crm.close()
    return spent


def bench_apply_parts(tmp: Path, n: int, rounds: int = 3) -> None:
    """The writer's apply of the 100k pull's ready pages, CPU by stage, and what each
    secondary index costs it (runs without it), interleaved in rounds."""
    pages = _ready_pages(tmp, n)
    served = sum(len(p.changes) for _, p in pages)
    probe = Crm(tmp / "probe2.db", rep="bench")
    secondary = _secondary_indexes(probe.conn)
    probe.close()
    groups: dict[str, frozenset[str]] = {"all": frozenset()}
    for t, ix in secondary.items():
        groups[f"-{t} secondary"] = frozenset(name for name, _ in ix)
    tables = frozenset(name for t, ix in secondary.items() if t != "change_log" for name, _ in ix)
    groups["-customers/visits/orders secondary, built after"] = tables
    got: dict[str, list[dict[str, float]]] = {g: [] for g in groups}
    k = 0
    for r in range(rounds):
        for g, drop in (groups.items() if r % 2 == 0 else reversed(list(groups.items()))):
            k += 1
            path = tmp / f"parts-{k}.db"
            got[g].append(_apply_run(path, pages, drop, build_after=g.endswith("built after")))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        print(f"round {r + 1} done {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()[0]:.2f}",
              flush=True)

    def med(g: str, part: str) -> float:
        return statistics.median(x[part] for x in got[g])

    def total(g: str) -> float:
        return statistics.median(x["apply"] + x["commits"] + x["index build"] for x in got[g])

    def spread(g: str) -> str:
        runs = sorted(x["apply"] + x["commits"] + x["index build"] for x in got[g])
        return f"{runs[0]:.3f}-{runs[-1]:.3f}"
    print(f"the writer's apply of {served:,} ready changes in {len(pages)} pages, CPU (median of {rounds}), "
          f"load {os.getloadavg()}: total {total('all'):.3f} s (rounds {spread('all')}) = apply {med('all', 'apply'):.3f} + commits "
          f"{med('all', 'commits'):.3f}")
    for part in (*_STAGES, "search index, triggers"):
        print(f"  {part:24} {med('all', part):.3f} s")
    print(f"  {'the rest (Python)':24} {med('all', 'apply') - sum(med('all', p) for p in (*_STAGES, 'search index, triggers')):.3f} s")
    for g in groups:
        if g != "all":
            print(f"  {g:32} {total(g):.3f} s ({total(g) - total('all'):+.3f}; rounds {spread(g)}; "
                  f"index build {med(g, 'index build'):.3f} s)")


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a running process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Runs the `crm` of the source tree given as the first argument (a checkout of older
# code, to compare), even where this one is installed in editable mode: its import
# hook would otherwise win over sys.path.
_CRM_FROM_TREE = ("import runpy, sys; tree = sys.argv.pop(1); "
                  "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
                  "sys.path.insert(0, tree); runpy.run_module('crm_tui', run_name='__main__', alter_sys=True)")


def _crm(tree: Path) -> list[str]:
    return [sys.executable, "-c", _CRM_FROM_TREE, str(tree)]


def _with_bytecode(tmp: Path, trees: list[Path]) -> None:
    """Run the `crm` processes from compiled bytecode, as an installed crm_tui does
    (pip compiles it): where PYTHONDONTWRITEBYTECODE is set, each command would
    otherwise compile crm_tui's modules from source, about 0.2 s of CPU. The bytecode
    goes to a folder of this run, not into the source trees."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    for tree in trees:
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "crm_tui")], check=True,
                       stdout=subprocess.DEVNULL)


def _serve(tree: Path, db: Path) -> tuple[subprocess.Popen, str]:
    """A real `crm server serve` of `tree` on 127.0.0.1, ready; and its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*_crm(tree), "server", "serve", "--db", f"sqlite:///{db}", "--port", str(port),
                               "--rate", "100000", "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(url + "/v1/hello", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return server, url


def _first_sync(tree: Path, url: str, server: subprocess.Popen, laptop: Path) -> dict:
    """The `crm sync --json` of `tree` into the empty laptop database `laptop`: its
    answer, wall time, and the CPU of the command and of the server meanwhile. The
    command's CPU counts its second process (crm_tui.api.pull_worker, reaped by the
    command, so the kernel adds its CPU to the command's)."""
    env = {**os.environ, "CRM_DB": str(laptop), "CRM_CONFIG": str(laptop.with_suffix(".toml"))}
    subprocess.run([*_crm(tree), "login", "--server", url, "--token", "bench"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    server_cpu = _cpu_of(server.pid)
    start = time.perf_counter()
    proc = subprocess.Popen([*_crm(tree), "sync", "--json"], env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert os.waitstatus_to_exitcode(status) == 0, out
    return {**json.loads(out), "wall": wall, "client_cpu": usage.ru_utime + usage.ru_stime,
            "server_cpu": _cpu_of(server.pid) - server_cpu, "load": os.getloadavg()[0],
            "at": time.strftime("%H:%M:%S", time.gmtime())}


def bench_pull_real_server(tmp: Path, n: int, bad: int = 0, rounds: int = 1, before: Path | None = None) -> None:
    """The first `crm sync` of an empty laptop, as a rep runs it: a real `crm server
    serve` process on 127.0.0.1 (SQLite store) holding the mixed log, and the real
    `crm sync` command in its own process (hello, HTTP pages of the product's size,
    apply). Wall time of the sync command, and the CPU of each process. With
    `before` (a checkout of older code), each round also runs that code's server and
    sync on a copy of the same log, in turns, so load hits both alike."""
    store = SqliteStore(tmp / "real-server.db")
    store.add_rep("src", "manager", hash_token("src"))
    store.add_rep("bench", "manager", hash_token("bench"))
    fill_store(store, spoil(mixed_log(n), bad))
    served = len(store.pull(0, 10**7, exclude_node="counter", snapshot=True).changes) - bad
    store.close()
    here = Path(__file__).resolve().parents[1]
    trees = {"after": here} if before is None else {"before": before.resolve(), "after": here}
    _with_bytecode(tmp, list(trees.values()))
    servers = {}
    try:
        for name, tree in trees.items():
            db = tmp / f"real-server-{name}.db"
            shutil.copy(tmp / "real-server.db", db)
            servers[name] = _serve(tree, db)
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for i in range(rounds):
            # Alternate which goes first: the second of a pair may find the page cache warmer.
            for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
                server, url = servers[name]
                got = _first_sync(trees[name], url, server, tmp / f"laptop-{name}-{i}.db")
                assert (got["pulled"], got["set_aside"]) == (served, bad), (got, served, bad)
                runs[name].append(got)
                label = f"{name} ({trees[name]}) " if before is not None else ""
                print(f"{got['at']} UTC {label}crm sync of an empty laptop from a real server: {got['pulled']:,} "
                      f"changes ({bad} bad ones set aside) in {got['wall']:.2f} s = "
                      f"{got['pulled'] / got['wall']:,.0f} changes/s end to end (whole command); CPU: crm sync "
                      f"{got['client_cpu']:.2f} s ({got['client_cpu'] / got['pulled'] * 1e6:.0f} us a change), "
                      f"server {got['server_cpu']:.2f} s; load average {got['load']:.1f} on {os.cpu_count()} cores",
                      flush=True)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    if before is not None:
        def median(name: str, key: str) -> float:
            return statistics.median(r[key] for r in runs[name])
        for key, what in (("client_cpu", "CPU crm sync"), ("server_cpu", "CPU server"), ("wall", "wall")):
            print(f"median of {rounds}: {what} {median('before', key):.2f} s before, {median('after', key):.2f} s "
                  f"after = {median('after', key) / median('before', key):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--big-log", type=int, default=1_000_000)
    parser.add_argument("--small-log", type=int, default=10_000)
    parser.add_argument("--push", type=int, default=10_000)
    parser.add_argument("--bad", type=int, default=0,
                        help="pull-real: that many changes of the log fail when written (spread out)")
    parser.add_argument("--rounds", type=int, default=1, help="pull-real: runs of the sync (interleaved)")
    parser.add_argument("--before", type=Path, default=None,
                        help="pull-real: a checkout of older code to compare, run in turns with this one")
    parser.add_argument("--only", choices=["pull", "floor", "parts", "pull-real", "pull100", "push", "rules", "view", "checks",
                                                   "visit-edits"],
                        default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-sync-"))
    try:
        runs = {"pull": lambda: bench_pull_into_empty(tmp, args.changes),
                "floor": lambda: bench_floor(tmp, args.changes, args.rounds),
                "parts": lambda: bench_apply_parts(tmp, args.changes, args.rounds),
                "pull-real": lambda: bench_pull_real_server(tmp, args.changes, args.bad, args.rounds, args.before),
                "pull100": lambda: bench_pull_100_new(tmp, args.big_log, args.small_log),
                "push": lambda: bench_push(tmp, args.push),
                "rules": lambda: bench_push_rules(tmp, args.push),
                "visit-edits": lambda: bench_push_visit_edits(tmp, args.push),
                "view": lambda: bench_view_enter(tmp, args.push),
                "checks": lambda: bench_pull_checks(tmp, args.changes // 3)}
        for name, run in runs.items():
            if args.only in (None, name):
                run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
