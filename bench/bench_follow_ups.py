"""Benchmark: the satisfaction follow-ups of closed complaints (9ed34cf: computed by
db.analytics.SATISFACTION_FOLLOW_UPS, not written as visits) in what reads them: the
agenda, the dashboard's agenda counts, the KPIs' per-rep counts, and the whole
dashboard, `crm kpi` and `crm report` data, on bench_analytics' book (100k customers,
1M orders, 200k visits) with complaints, surveys and next actions added.

    python bench/bench_follow_ups.py [--db /tmp/crm_bench_follow_ups.db] [--before TREE] [--rounds 3]

With `--before` (a checkout of older code, e.g. `git worktree add /tmp/before
7a3ff0f`), each round runs a worker process of that code and one of this tree on
the same file, in turns (PYTHONPATH picks the code), so load hits both alike; the
figures are the CPU time of each call in its process (median of the calls of all
rounds), before and after, and their ratio. The data is built once with
executemany, capture paused, and kept at --db."""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

TODAY = dt.date(2026, 9, 30)
NOW = dt.datetime.combine(TODAY, dt.time(12))
HERE = Path(__file__).resolve().parents[1]


def build(path: Path, customers: int, orders: int, complaints: int, seed: int = 11) -> None:
    """bench_analytics' book, then: a next action on 10% of the visits (due within 90
    days before to 30 days after TODAY, 80% of the past ones done), `complaints`
    complaints over three years (60% closed, a day to a month after they came in;
    `created_at` their arrival, as complaints logged in the book), a survey of half
    the closed ones, and owners spread over 8 reps."""
    sys.path.insert(0, str(HERE / "bench"))
    from bench_analytics import build as build_book

    from crm_tui.api import Crm

    crm = Crm(path, rep="bench")
    build_book(crm, customers, orders, lines=0)
    rnd = random.Random(seed)
    conn = crm.conn
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.execute("UPDATE replica SET capture = 0")
    reps = [f"rep{i}" for i in range(8)]
    conn.execute("UPDATE visits SET owner = 'rep' || (abs(random()) % 8)")
    visit_ids = [r[0] for r in conn.execute("SELECT id FROM visits")]
    chosen = rnd.sample(visit_ids, len(visit_ids) // 10)
    rows = []
    for vid in chosen:
        due = TODAY + dt.timedelta(days=rnd.randrange(-90, 31))
        done = 1 if due < TODAY and rnd.random() < 0.8 else None
        rows.append((due.isoformat(), done, (due - dt.timedelta(days=rnd.randrange(1, 30))).isoformat()
                     + "T10:00:00", vid))
    conn.executemany("UPDATE visits SET next_action = '回访', next_action_date = ?, follow_up_done = ?, "
                     "visited_at = ? WHERE id = ?", rows)
    ids = [f"C{i:09d}" for i in range(customers)]
    start = TODAY.toordinal() - 3 * 365
    complaint_rows, survey_rows = [], []
    for i in range(complaints):
        received = dt.datetime.combine(dt.date.fromordinal(start + rnd.randrange(3 * 365)), dt.time(9))
        closed = received + dt.timedelta(days=rnd.randrange(1, 31), hours=2)
        status = "closed" if rnd.random() < 0.6 and closed.date() <= TODAY else "in_progress"
        stamp = received.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        closed_at = closed.strftime("%Y-%m-%dT%H:%M:%S.000Z") if status == "closed" else None
        cid = rnd.choice(ids)
        complaint_rows.append((f"K{i:09d}", rnd.choice(reps), stamp, stamp, cid, stamp, status, closed_at,
                               closed_at, "已处理" if closed_at else None))
        if closed_at and rnd.random() < 0.5:
            survey_rows.append((f"S{i:09d}", cid, (closed.date() + dt.timedelta(days=3)).isoformat(), f"K{i:09d}"))
    conn.executemany(
        "INSERT INTO complaints (id, owner, created_at, updated_at, customer_id, received_at, type, description, "
        "priority, status, closed_at, resolved_at, resolution) "
        "VALUES (?, ?, ?, ?, ?, ?, 'product_quality', '质量问题', 'medium', ?, ?, ?, ?)", complaint_rows)
    conn.executemany("INSERT INTO surveys (id, owner, created_at, updated_at, customer_id, surveyed_at, expected, "
                     "perceived, complaint_id) VALUES (?, 'rep0', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z', "
                     "?, ?, 4, 4, ?)", survey_rows)
    conn.execute("UPDATE replica SET capture = 1")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    crm.close()


def worker(path: Path, repeats: int) -> None:
    """Time each reader of the follow-ups with the code on sys.path; print JSON."""
    import crm_tui
    from crm_tui.api import Crm
    from crm_tui.api.agenda import Agenda
    from crm_tui.api.analytics import Analytics
    from crm_tui.db import analytics as sql

    crm = Crm(path, rep="bench")
    agenda = Agenda(crm, now=lambda: NOW)
    an = Analytics(crm, now=lambda: NOW)
    days = an.settings.satisfaction_follow_up_days
    an.policy  # noqa: B018  (config read outside the timings)
    # the SQL functions took no follow_up_days before 9ed34cf
    extra = {"follow_up_days": days} if "follow_up_days" in inspect.signature(sql.agenda_counts).parameters else {}
    start, end = "2026-09-01", "2026-10-01"
    works = {
        "agenda": lambda: agenda.follow_ups(),
        "agenda_counts": lambda: sql.agenda_counts(crm.conn, TODAY, **extra),
        "rep_counts": lambda: sql.rep_counts(crm.conn, start, end, TODAY, **extra),
        "kpis": lambda: an.kpis("2026-09"),
        "dashboard": lambda: an.dashboard_data(),
        "report": lambda: an.report_data("2026-Q3"),
    }
    out: dict[str, object] = {"code": str(Path(crm_tui.__file__).parents[1]), "sizes": {
        t: crm.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("customers", "orders", "visits", "complaints", "surveys")}}
    for name, work in works.items():
        work()  # warm: the page cache and the code
        cpu, wall = [], []
        for _ in range(repeats if name not in ("dashboard", "report") else max(1, repeats // 3)):
            c, t = time.process_time(), time.perf_counter()
            result = work()
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - t)
        out[name] = {"cpu": cpu, "wall": wall}
        if name == "agenda":
            out["agenda_rows"] = len(result)
            out["agenda_complaints"] = sum(1 for r in result if r.get("kind") == "complaint")
        if name == "agenda_counts":
            out["counts"] = result
    crm.close()
    print(json.dumps(out))


def run_worker(tree: Path, path: Path, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--worker", "--db", str(path), "--repeats", str(repeats)],
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=Path("/tmp/crm_bench_follow_ups.db"))
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--complaints", type=int, default=20_000)
    ap.add_argument("--before", type=Path, help="a checkout of older code, run in turns with this tree")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=9, help="timed calls of each cheap work per worker (heavy: /3)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.db, args.repeats)
        return
    if not args.db.exists():
        t = time.perf_counter()
        build(args.db, args.customers, args.orders, args.complaints)
        print(f"built {args.db} in {time.perf_counter() - t:.0f} s", flush=True)
    trees = {"after": HERE} if args.before is None else {"before": args.before.resolve(), "after": HERE}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    for i in range(args.rounds):
        for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            got = run_worker(trees[name], args.db, args.repeats)
            runs[name].append(got)
            print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC round {i + 1} {name} ({got['code']}): "
                  f"agenda {got['agenda_rows']} rows ({got['agenda_complaints']} of complaints), counts "
                  f"{got['counts']}; load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"sizes: {runs['after'][0]['sizes']}")
    print(f"{'work (CPU, median of every call)':28s}" + "".join(f"{n:>12s}" for n in trees)
          + ("       ratio" if len(trees) == 2 else "") + "   wall after")
    for work in ("agenda", "agenda_counts", "rep_counts", "kpis", "dashboard", "report"):
        med = {n: statistics.median(c for r in runs[n] for c in r[work]["cpu"]) for n in trees}
        wall = statistics.median(w for r in runs["after"] for w in r[work]["wall"])
        line = f"{work:28s}" + "".join(f"{med[n] * 1000:10.1f}ms" for n in trees)
        if len(trees) == 2:
            line += f"{med['after'] / med['before']:11.2f}x"
        print(line + f"{wall * 1000:10.1f}ms")
    print(f"load average at the end: {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
