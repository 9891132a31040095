"""Benchmark of the terminal UI on a large database: launch to a usable customer list,
and keystroke to updated search results (first page shown and rendered).

    python bench/bench_tui.py                 # 100k customers in /tmp/crm_bench_tui.db
    python bench/bench_tui.py --customers 20000 --db /tmp/small.db

The database is built once (prepared records inserted in one transaction) and reused.
The UI runs headless (App.run_test) at 120x40; figures are wall-clock on this machine."""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from pathlib import Path

from textual import events

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.db.connection import transaction
from crm_tui.widgets.record_table import RecordTable

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红玲兰飞鹏辉建国志勇海燕斌波宁晨琳颖雪梅春"
REGIONS = ("华东", "华北", "华南", "西南", "东北", "西北", "华中")
INDUSTRIES = ("贸易", "制造", "IT", "食品", "医药", "建筑", "教育", "物流")


def build(path: Path, n: int) -> None:
    rng = random.Random(42)
    crm = Crm(path, rep="bench")
    have = crm.customers.count()
    if have >= n:
        crm.close()
        return
    t0 = time.perf_counter()
    records = []
    for i in range(have, n):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")
        records.append(crm.customers.prepare({
            "name": name, "company": f"{rng.choice(REGIONS)}{rng.choice(INDUSTRIES)}公司{i % 5000}",
            "mobile": f"13{rng.randrange(10**9):09d}", "region": rng.choice(REGIONS),
            "industry": rng.choice(INDUSTRIES)}))
    with crm.lock, transaction(crm.conn):
        crm.customers.insert_prepared(records)
    crm.analytics.ensure_classes()  # computed once, as the first list after a change would
    crm.close()
    print(f"built {n - have:,} customers in {time.perf_counter() - t0:.1f} s")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def launch(path: Path) -> tuple[float, float]:
    """Seconds to the first page on screen, and to the count shown too."""
    t0 = time.perf_counter()
    app = CrmApp(path, config={}, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        first = counted = None
        for _ in range(2000):  # bounded: 2000 x 5 ms
            await pilot.pause(0.005)
            screen = app.screen
            tables = screen.query(RecordTable)
            if not tables:
                continue
            table = tables.first()
            if first is None and table.loaded_generation >= 0:
                first = time.perf_counter() - t0
            if first is not None and getattr(screen, "matching", None) is not None:
                counted = time.perf_counter() - t0
                break
    return first or float("nan"), counted or float("nan")


QUERIES = ["张伟", "zw", "zhangwei", "王芳", "13", "1380", "华东贸易", "lina", "李", "wf"]


async def keystrokes(path: Path) -> tuple[list[float], list[str]]:
    """Milliseconds from a key press in the search box to its results on screen, and
    the search text after each key."""
    app = CrmApp(path, config={}, lang="en")
    samples: list[float] = []
    texts: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one(RecordTable)
        search = app.screen.query_one("#search")
        search.focus()
        for query in QUERIES:
            for ch in query:
                # The key goes in as the terminal driver sends it; Pilot.press would add
                # its own idle-detection sleeps to the figure.
                before = table.generation
                t0 = time.perf_counter()
                app._driver.send_message(events.Key(ch, ch))
                for _ in range(20000):  # bounded: at most ~4 s per key
                    if (table.generation > before and table.loaded_generation >= table.generation
                            and table.rendered_at > t0):
                        break
                    await asyncio.sleep(0.0002)
                samples.append((table.rendered_at - t0) * 1000)
                texts.append(search.value)
                await app.workers.wait_for_complete()
            search.value = ""
            await app.workers.wait_for_complete()
            await pilot.pause()
    return samples, texts


def api_times(path: Path, texts: list[str]) -> list[float]:
    """The same searches straight through the API (first page + count), in ms: the
    part of each keystroke the UI cannot make faster."""
    crm = Crm(path)
    out = []
    for text in texts:
        t0 = time.perf_counter()
        crm.customers.find(search=text, order="name", limit=100)
        crm.customers.count(search=text)
        out.append((time.perf_counter() - t0) * 1000)
    crm.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/crm_bench_tui.db"))
    parser.add_argument("--launches", type=int, default=3)
    args = parser.parse_args()
    build(args.db, args.customers)
    firsts, counts = [], []
    for _ in range(args.launches):
        first, counted = asyncio.run(launch(args.db))
        firsts.append(first)
        counts.append(counted)
    print(f"launch to usable list ({args.customers:,} customers): first page {statistics.median(firsts):.3f} s, "
          f"with counts {statistics.median(counts):.3f} s (median of {args.launches}; target <= 1 s)")
    samples, texts = asyncio.run(keystrokes(args.db))
    api = api_times(args.db, texts)
    overhead = [ui - db for ui, db in zip(samples, api, strict=True)]
    print(f"keystroke to updated results: p50 {pct(samples, 0.5):.1f} ms, p95 {pct(samples, 0.95):.1f} ms, "
          f"max {max(samples):.1f} ms over {len(samples)} keys (target p95 <= 50 ms)")
    fast = [ui for ui, db in zip(samples, api, strict=True) if db <= 25]
    print(f"  keys whose API search takes <= 25 ms ({len(fast)} of {len(samples)}): "
          f"p95 {pct(fast, 0.95):.1f} ms" if fast else "  no key had a fast API search")
    print(f"  the same searches through the API alone: p50 {pct(api, 0.5):.1f} ms, p95 {pct(api, 0.95):.1f} ms")
    print(f"  UI share (keystroke minus API): p50 {pct(overhead, 0.5):.1f} ms, p95 {pct(overhead, 0.95):.1f} ms")
    slowest = sorted(zip(samples, api, texts, strict=True), reverse=True)[:5]
    print("  slowest keys: " + ", ".join(f"{t!r} {ui:.0f} ms (API {db:.0f})" for ui, db, t in slowest))


if __name__ == "__main__":
    main()
