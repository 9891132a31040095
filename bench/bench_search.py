"""Search over N customers: p50/p95 of one search-as-you-type query (the first page of
50 matches and the match count, as the customer list asks for them), for 2-character
Chinese names, pinyin (full and initials) and phone fragments. Target p95 <= 30 ms.
Then the same of the orders list (F5), which finds an order by its customer as the
customer list does or by its own product and notes (--order-queries per kind).

    python bench/bench_search.py [--customers 100000] [--queries 200] [--order-queries 50]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.api.seed import PRODUCTS, seed
from crm_tui.domain.search import pinyin_key


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--order-queries", type=int, default=50)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-search-"))
    try:
        crm = Crm(tmp / "crm.db")
        start = time.perf_counter()
        seed(crm, customers=args.customers, seed=11)
        print(f"seeded {args.customers:,} customers in {time.perf_counter() - start:.1f} s")
        rng = random.Random(5)
        people = crm.conn.execute("SELECT name, mobile FROM customers").fetchall()
        chinese = [n for n, _ in people if pinyin_key(n) and len(n) == 2]
        mobiles = [m for _, m in people if m]
        kinds = {
            "2-character Chinese name": lambda: rng.choice(chinese),
            "pinyin, full": lambda: pinyin_key(rng.choice(chinese)).split()[0],
            "pinyin, initials": lambda: pinyin_key(rng.choice(chinese)).split()[1],
            "phone fragment (7 digits)": lambda: (m := rng.choice(mobiles)[3:])[(i := rng.randrange(0, len(m) - 7)):i + 7],
            "1 character": lambda: rng.choice(chinese)[0],
            "no match": lambda: "没有这个人" + str(rng.randrange(1000)),
        }
        print(f"{'query':28} {'p50 ms':>8} {'p95 ms':>8} {'matches (median)':>17}")
        for label, make in kinds.items():
            times, hits = [], []
            for _ in range(args.queries):
                query = make()
                t0 = time.perf_counter()
                page = crm.customers.find(search=query, limit=50)
                total = crm.customers.count(search=query)
                times.append((time.perf_counter() - t0) * 1000)
                hits.append(total)
                assert len(page) == min(50, total)
            print(f"{label:28} {statistics.median(times):8.1f} {percentile(times, 95):8.1f} "
                  f"{statistics.median(hits):17,.0f}")
        orders = crm.conn.execute("SELECT count(*) FROM orders").fetchone()[0]
        order_kinds = {
            "orders: customer's name": lambda: rng.choice(chinese),
            "orders: product (2 chars)": lambda: (p := rng.choice(PRODUCTS)[0])[(i := rng.randrange(len(p) - 1)):i + 2],
            "orders: no match": lambda: "没有这个" + str(rng.randrange(1000)),
        }
        print(f"\n{orders:,} orders")
        print(f"{'query':28} {'p50 ms':>8} {'p95 ms':>8} {'matches (median)':>17}")
        for label, make in order_kinds.items():
            times, hits = [], []
            for _ in range(args.order_queries):
                query = make()
                t0 = time.perf_counter()
                page = crm.orders.find(search=query, limit=50)
                total = crm.orders.count(search=query)
                times.append((time.perf_counter() - t0) * 1000)
                hits.append(total)
                assert len(page) == min(50, total)
            print(f"{label:28} {statistics.median(times):8.1f} {percentile(times, 95):8.1f} "
                  f"{statistics.median(hits):17,.0f}")
        crm.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
