"""Start of a CLI command, as a rep's shell script pays it at every call: wall time
and CPU time (user + system) of whole processes, against `sqlite-utils rows DB
customers --limit 50` on the same database in the same run. Target <= 2x both.

    python bench/bench_startup.py [--customers 20000] [--runs 15]

Runs are interleaved (one of each command per round) so a busy machine slows all
alike; the figures are medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.api.seed import seed

BIN = Path(sys.executable).parent


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one process, its output thrown away."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} failed with exit code {code}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-startup-"))
    try:
        db = tmp / "crm.db"
        with Crm(db, rep="wangfang") as crm:
            seed(crm, customers=args.customers, seed=3)
        crm_bin, su_bin = str(BIN / "crm"), str(BIN / "sqlite-utils")
        commands = {
            "sqlite-utils rows DB customers --limit 50 (reference)":
                [su_bin, "rows", str(db), "customers", "--limit", "50"],
            "crm customers list --json --limit 50": [crm_bin, "customers", "list", "--json", "--limit", "50",
                                                     "--db", str(db)],
            f"crm customers list --json (all {args.customers:,})": [crm_bin, "customers", "list", "--json",
                                                                   "--db", str(db)],
            "crm --help": [crm_bin, "--help"],
        }
        os.environ.setdefault("COLUMNS", "100")  # --help renders for a fixed width
        for argv in commands.values():  # warm the page cache and .pyc files
            run_once(argv)
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
        for _ in range(args.runs):
            for label, argv in commands.items():
                samples[label].append(run_once(argv))
        ref_wall = statistics.median(w for w, _ in samples[next(iter(commands))])
        ref_cpu = statistics.median(c for _, c in samples[next(iter(commands))])
        print(f"{args.customers:,} customers, {args.runs} runs each, medians")
        print(f"{'command':58} {'wall s':>7} {'x ref':>6} {'CPU s':>7} {'x ref':>6}")
        for label, runs in samples.items():
            wall = statistics.median(w for w, _ in runs)
            cpu = statistics.median(c for _, c in runs)
            print(f"{label:58} {wall:7.3f} {wall / ref_wall:6.2f} {cpu:7.3f} {cpu / ref_cpu:6.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
