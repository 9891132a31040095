"""The team server on PostgreSQL, each figure beside its reference from the same run:

1. push throughput (changes/s) and p95 latency of a push with 1, 4 and 16 concurrent
   clients: SQLite (1 worker) against PostgreSQL with 1 and 2 workers, each a real
   `crm server serve` process on 127.0.0.1;
2. pull 100 new changes when the PostgreSQL log holds 1M, against a 10k log
   (target <= 1.5x);
3. first sync of a new manager laptop: 100k live customers reached through a
   1M-change history, against the same 100k customers with a 100k-change history
   (target <= 1.3x: a snapshot's cost follows the live records).

Big logs are written straight into the store's tables with SQL (building 1M changes
through the API would take many minutes); the winners index is then filled by the
store's own migration. Pulls and syncs go through the real client and FastAPI app.

PostgreSQL: $CRM_TEST_PG_URL, else a throwaway cluster started with .ci/pg.

    python bench/bench_server.py [--clients 1,4,16] [--batches 20] [--big-log 1000000] [--live 100000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_sync_cli import Server  # noqa: E402 - a real server process, as the tests start it

from crm_tui.api import Crm  # noqa: E402
from crm_tui.api.sync import Sync  # noqa: E402
from crm_tui.db import sync_state  # noqa: E402
from crm_tui.sync import clock  # noqa: E402
from crm_tui.sync.client import SyncClient  # noqa: E402
from crm_tui.sync.protocol import WireChange  # noqa: E402
from crm_tui.sync.server import pg_store  # noqa: E402
from crm_tui.sync.server.admin import open_store  # noqa: E402
from crm_tui.sync.server.app import create_app, hash_token  # noqa: E402
from crm_tui.sync.server.store import RepInfo  # noqa: E402

BASE = "http://testserver"
ROOT = Path(__file__).resolve().parents[1]


def postgres() -> tuple[str, Path | None]:
    url = os.environ.get("CRM_TEST_PG_URL")
    if url:
        return url, None
    cluster = Path(tempfile.mkdtemp(prefix="crm-bench-pg-"))
    url = subprocess.run(["bash", str(ROOT / ".ci/pg"), "start", str(cluster)], check=True, capture_output=True,
                         text=True).stdout.strip()
    return url, cluster


def fresh_schema(base: str) -> str:
    schema = "b_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def customer_change(node: str, seq: int, row: str) -> dict:
    return {"node": node, "node_seq": seq, "hlc": clock.pack(clock.now_ms(), seq % 60000), "tbl": "customers",
            "row_id": row, "op": "insert", "data": {"name": f"客户 {row[-6:]}", "region": "east"},
            "old": None, "base": None, "rep": ""}


# -- 1. push throughput -------------------------------------------------------------

def push_client(url: str, token: str, node: str, batches: int, batch: int, latencies: list[float]) -> None:
    """One laptop pushing `batches` batches of new customers; each push's time noted."""
    node = f"{node}-{uuid.uuid4().hex[:6]}"
    with SyncClient(url, token) as c:
        for b in range(batches):
            changes = [customer_change(node, b * batch + i + 1, f"{node}-{b * batch + i:06d}") for i in range(batch)]
            start = time.perf_counter()
            c.push(node, changes)
            latencies.append(time.perf_counter() - start)  # list.append is atomic

def bench_throughput(pg_url: str, tmp: Path, clients: list[int], batches: int, batch: int) -> None:
    configs = [("SQLite, 1 worker", f"sqlite:///{tmp / 'throughput.db'}", 1),
               ("PostgreSQL, 1 worker", fresh_schema(pg_url), 1),
               ("PostgreSQL, 2 workers", fresh_schema(pg_url), 2)]
    print(f"push throughput: each client pushes {batches} batches of {batch} new customers "
          "(validated, authorised, stored)")
    print(f"  {'store':24} {'clients':>7} {'changes/s':>10} {'p95 push':>10}")
    for name, url, workers in configs:
        server = Server(url, "--workers", str(workers), "--rate", "100000")
        try:
            tokens = {}
            for k in range(max(clients)):
                tokens[k] = server.add_rep(f"c{k}", "--role", "manager")
            for n in clients:
                latencies: list[float] = []
                threads = [threading.Thread(target=push_client, args=(server.url, tokens[k], f"n{n}-{k}", batches,
                                                                      batch, latencies)) for k in range(n)]
                start = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - start
                p95 = statistics.quantiles(latencies, n=20)[-1]
                print(f"  {name:24} {n:>7} {n * batches * batch / wall:>10,.0f} {p95 * 1000:>8.0f} ms")
        finally:
            server.stop()


# -- 2. pull 100 new from a big log -----------------------------------------------------

def fill_log(url: str, n: int, *, updates_on: int = 0, live: int = 0) -> None:
    """`live` customer inserts, then n - live changes: updates of the first
    `updates_on` customers when given, else orders of no customer. Straight SQL."""
    now = clock.pack(clock.now_ms() - 86_400_000, 0)
    data = ("'{\"name\":\"客户 '||g||'\",\"company\":\"公司 '||mod(g, 977)||'\",\"region\":\"east\","
            "\"phone\":\"+86138'||lpad(g::text, 8, '0')||'\",\"notes\":null}'")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO nodes (node, rep, last_seq) VALUES ('src', 'src', %s)", (n,))
        if live:
            conn.execute(
                "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, rep, pushed_by, received_at, scope) "
                f"SELECT 'src', g, %s + g, 'customers', 'C' || lpad(g::text, 9, '0'), 'insert', {data}, "
                "'src', 'src', '2025-03-01', 'C' || lpad(g::text, 9, '0') FROM generate_series(1, %s::int) g",
                (now, live))
        rest = "'customers', 'C' || lpad((1 + mod(g, %s))::text, 9, '0'), 'update', " \
               "'{\"notes\":\"note '||g||'\"}'" if updates_on else \
               "'orders', 'O' || lpad(g::text, 9, '0'), 'update', '{\"notes\":\"x\"}'"
        params: tuple = (now, updates_on, live + 1, n) if updates_on else (now, live + 1, n)
        conn.execute(
            "INSERT INTO log (node, node_seq, hlc, tbl, row_id, op, data, rep, pushed_by, received_at) "
            f"SELECT 'src', g, %s + g, {rest}, 'src', 'src', '2025-03-01' FROM generate_series(%s::int, %s::int) g", params)
        # The winners index (fields, then the insert that made each record), as an
        # upgraded server builds it.
        conn.execute(pg_store.MIGRATIONS[1])
        conn.execute(pg_store.MIGRATIONS[2])
        conn.execute("ANALYZE")


def world(url: str) -> tuple:
    store = open_store(url)
    for name in ("src", "bench", "new"):
        store.add_rep(name, "manager", hash_token(name))
    return store, TestClient(create_app(store, max_offset_ms=10**12, rate=1e9))


def bench_pull_100_new(pg_url: str, tmp: Path, big: int, small: int, repeats: int = 11) -> None:
    worlds = {}
    for size in (small, big):
        url = fresh_schema(pg_url)
        store, http = world(url)
        start = time.perf_counter()
        fill_log(url, size - 100)
        store.push(RepInfo("src", "manager", ""), "src2",
                   [WireChange(**customer_change("src2", s, f"N{s:06d}")) for s in range(1, 101)])
        print(f"  PostgreSQL log of {store.count():,} changes built in {time.perf_counter() - start:.1f} s")
        worlds[size] = (store, http, store.watermark())
    samples: dict[int, list[float]] = {small: [], big: []}
    for i in range(repeats):  # interleaved, so machine load hits both alike
        for size, (store, http, top) in worlds.items():
            crm = Crm(tmp / f"r-{size}-{i}.db", rep="bench")
            sync_state.bind_server(crm.conn, store.server_id)
            # The cursor just before the 100 new changes, the log's last sequences.
            crm.conn.execute("UPDATE sync_state SET cursor = ?", (top - 100,))
            start = time.perf_counter()
            report = Sync(crm).run(SyncClient(BASE, "bench", http=http))
            samples[size].append(time.perf_counter() - start)
            assert report.pulled == 100, report
            crm.close()
    for store, _, _ in worlds.values():
        store.close()
    t_big, t_small = statistics.median(samples[big]), statistics.median(samples[small])
    print(f"pull 100 new from a {big:,} log vs a {small:,} log on PostgreSQL (median of {repeats}, whole sync): "
          f"{t_big * 1000:.1f} ms vs {t_small * 1000:.1f} ms = {t_big / t_small:.2f}x")


# -- 3. first sync of a new laptop ----------------------------------------------------------

def bench_first_sync(pg_url: str, tmp: Path, live: int, history: int, hot: int) -> None:
    times = {}
    for name, size in (("short", live), ("long", history)):
        url = fresh_schema(pg_url)
        store, http = world(url)
        start = time.perf_counter()
        fill_log(url, size, live=live, updates_on=hot if size > live else 0)
        print(f"  {name} history: {store.count():,} changes for {live:,} customers, built in "
              f"{time.perf_counter() - start:.1f} s")
        crm = Crm(tmp / f"new-{name}.db", rep="new")
        start = time.perf_counter()
        report = Sync(crm).run(SyncClient(BASE, "new", http=http), pull_limit=5000)
        times[name] = time.perf_counter() - start
        assert crm.customers.count() == live, crm.customers.count()
        print(f"  {name} history: first sync {times[name]:.1f} s, {report.pulled:,} changes pulled")
        crm.close()
        store.close()
    print(f"first sync of a new manager laptop, {live:,} live customers: {history:,}-change history "
          f"{times['long']:.1f} s vs {live:,}-change history {times['short']:.1f} s = "
          f"{times['long'] / times['short']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--big-log", type=int, default=1_000_000)
    parser.add_argument("--small-log", type=int, default=10_000)
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--hot", type=int, default=10_000, help="customers the long history's edits fall on")
    parser.add_argument("--only", default="throughput,pull,first")
    args = parser.parse_args()
    pg_url, cluster = postgres()
    only = set(args.only.split(","))
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            if "throughput" in only:
                bench_throughput(pg_url, tmp, [int(c) for c in args.clients.split(",")], args.batches, args.batch)
            if "pull" in only:
                bench_pull_100_new(pg_url, tmp, args.big_log, args.small_log)
            if "first" in only:
                bench_first_sync(pg_url, tmp, args.live, args.big_log, args.hot)
    finally:
        if cluster:
            subprocess.run(["bash", str(ROOT / ".ci/pg"), "stop", str(cluster)], check=False)


if __name__ == "__main__":
    main()
