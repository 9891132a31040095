"""Start of a CLI command, as a rep's shell script pays it at every call: wall time
and CPU time (user + system) of whole processes, against `sqlite-utils rows DB
customers --limit 50` on the same database in the same run. Target <= 2x both.

    python bench/bench_startup.py [--customers 20000] [--runs 15] [--before CRM] [--from-source]

Runs are interleaved (one of each command per round) so a busy machine slows all
alike; the figures are medians. Every program runs from compiled bytecode, as an
installed one does, written by an untimed first run of each (before 3 December 2026
crm compiled its modules from source at every start where PYTHONDONTWRITEBYTECODE is
set, while sqlite-utils read pip's bytecode; `--from-source` keeps that way);
`--before CRM` times another crm's commands in the same rounds. Both as
bench/processes.py says.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
from pathlib import Path

from processes import add_options, from_bytecode, run, tool

from crm_tui.api import Crm
from crm_tui.api.seed import seed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=15)
    add_options(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-startup-"))
    try:
        db = tmp / "crm.db"
        with Crm(db, rep="wangfang") as crm:
            seed(crm, customers=args.customers, seed=3)
        env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "100")}  # --help renders for a fixed width
        if not args.from_source:
            from_bytecode(env, tmp / "pycache")
        commands = {
            "sqlite-utils rows DB customers --limit 50 (reference)":
                [tool("sqlite-utils"), "rows", str(db), "customers", "--limit", "50"],
        }
        for name, crm in (("crm", tool("crm")), *((("before: crm", args.before),) if args.before else ())):
            commands |= {
                f"{name} customers list --json --limit 50": [crm, "customers", "list", "--json", "--limit", "50",
                                                             "--db", str(db)],
                f"{name} customers list --json (all {args.customers:,})": [crm, "customers", "list", "--json",
                                                                           "--db", str(db)],
                f"{name} --help": [crm, "--help"],
            }
        for argv in commands.values():  # warm the page cache and write the bytecode
            run(argv, env)
        samples: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
        for _ in range(args.runs):
            for label, argv in commands.items():
                samples[label].append(run(argv, env))
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
