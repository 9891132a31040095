"""What one edit costs the next read that shows classes: `crm customers list --tier A`
on a book whose stored classes are current, against the same list right after a
single `crm customers edit` (any write makes the next read bring the classes up to
date). Whole processes, wall and CPU time (user + system), medians of interleaved
rounds; the edit itself is timed apart.

    python bench/bench_classes.py [--customers 100000] [--orders 1000000] [--runs 5]

The book is built as bench_analytics builds it (orders with lines, visits)."""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_analytics import build

from crm_tui.api import Crm

BIN = Path(sys.executable).parent


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process, its output thrown away."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {err.decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def forget(db: Path) -> None:
    """Make the next read classify the whole book, as every write did before the
    classes were kept customer by customer."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE class_state SET as_of = NULL")
    conn.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-classes-"))
    try:
        db = tmp / "crm.db"
        with Crm(db, rep="bench") as crm:
            build(crm, args.customers, args.orders)
            crm.analytics.ensure_classes()  # the first store of the whole book: not measured here
            some = crm.conn.execute("SELECT id FROM customers ORDER BY id LIMIT 1 OFFSET ?",
                                    (args.customers // 2,)).fetchone()[0]
        crm_bin = str(BIN / "crm")
        listing = [crm_bin, "customers", "list", "--tier", "A", "--json", "--db", str(db)]
        run_once(listing)  # warm the page cache and .pyc files
        plain, after, edits, whole = [], [], [], []
        for n in range(args.runs):
            plain.append(run_once(listing))  # classes current
            edits.append(run_once([crm_bin, "customers", "edit", some, "--notes", f"edit {n}", "--db", str(db)]))
            after.append(run_once(listing))  # the first read after the edit
            run_once([crm_bin, "customers", "edit", some, "--notes", f"again {n}", "--db", str(db)])
            forget(db)
            whole.append(run_once(listing))  # the whole book classified again
        med = {label: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s))
               for label, s in (("list", plain), ("edit", edits), ("after", after), ("whole", whole))}
        ref_wall, ref_cpu = med["list"]
        print(f"{args.customers:,} customers, {args.orders:,} orders, {args.runs} rounds, medians")
        print(f"{'command':58} {'wall s':>7} {'x list':>7} {'CPU s':>7} {'x list':>7}")
        for label, text in (("list", "crm customers list --tier A --json (classes current)"),
                            ("edit", "crm customers edit ID --notes ... (one edit)"),
                            ("after", "crm customers list --tier A --json, after the edit"),
                            ("whole", "the same, the whole book classified (as every edit did)")):
            wall, cpu = med[label]
            print(f"{text:58} {wall:7.3f} {wall / ref_wall:7.2f} {cpu:7.3f} {cpu / ref_cpu:7.2f}")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
