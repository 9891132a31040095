"""Import through the one write pipeline, timed as a whole process (`crm customers
import FILE`, as a user runs it: start, read, validate, de-duplicate, pinyin, one
transaction with change capture and the search index), against references measured
in the same run on the same file:

- `sqlite-utils insert DB customers FILE --csv` (a process too; validates nothing);
- plain `executemany` of the already-parsed rows into an untracked table with the
  same columns and no indexes (in this process).

Two shapes: N customers with every column a user types, and M customers with the
five columns of a typical list (name, company, mobile, email, region).

Each process is timed by its wall clock and its CPU (user + system, from `wait4`),
which a loaded machine distorts less; with `--rounds R` the processes run R times,
interleaved, and the median of each is reported.

    python bench/bench_import.py [--customers 100000] [--short 30000] [--rounds 1] [--before CRM]

`--before CRM` times another `crm` executable in the same rounds (e.g. a script
running an older commit's code), for a before/after on the same machine and load.
Every process runs from compiled bytecode, as an installed program does, written by
one untimed run of each program on a small file before the rounds; `--from-source`
keeps the environment as it is (the figures before 3 December 2026 were taken so).
Both as bench/processes.py says.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from processes import add_options, from_bytecode, run, tool

from crm_tui.api.seed import _Generator
from crm_tui.domain.complaints import SlaPolicy
from crm_tui.domain.entities import CUSTOMER

EVERY = list(CUSTOMER.input_names)  # every column a user types (classes are computed)
FIVE = ["name", "company", "mobile", "email", "region"]


def write_csv(path: Path, count: int, columns: list[str]) -> None:
    """Realistic customers from the demo generator, made unique by phone and email."""
    gen = _Generator(7, dt.date(2026, 11, 1), SlaPolicy())
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for i in range(count):
            values, _ = gen.customer(i)
            values["mobile"] = f"1{[38, 39, 58, 59, 86][i % 5]}{i:08d}"
            values["email"] = f"c{i}@{['qq.com', '163.com', 'example.cn'][i % 3]}"
            writer.writerow([values.get(c) or "" for c in columns])


def timed(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of fn in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def with_bytecode(tmp: Path, env: dict[str, str], crms: list[str]) -> None:
    """Run every program of `env` from bytecode in a folder of this run, written by one
    untimed run of each (every `crm`, sqlite-utils) on a small file."""
    from_bytecode(env, tmp / "pycache")
    source = tmp / "warm.csv"
    write_csv(source, 100, EVERY)
    for i, crm in enumerate(crms):
        run([crm, "customers", "import", str(source), "--db", str(tmp / f"warm-{i}.db")], env)
    run([tool("sqlite-utils"), "insert", str(tmp / "warm-su.db"), "customers", str(source), "--csv"], env)


def measure(tmp: Path, count: int, columns: list[str], env: dict[str, str], rounds: int,
            before: str | None = None) -> dict[str, tuple[float, float]]:
    source = tmp / f"customers-{count}-{len(columns)}.csv"
    write_csv(source, count, columns)
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    marks = ", ".join("?" * len(columns))
    times: dict[str, list[tuple[float, float]]] = {"ours": [], "sqlite_utils": [], "plain": []}
    if before:
        times["before"] = []
    for r in range(rounds):
        plain_db = sqlite3.connect(tmp / f"plain-{count}-{r}.db", isolation_level=None)
        plain_db.execute(f"CREATE TABLE plain ({', '.join(columns)})")

        def plain(db: sqlite3.Connection = plain_db) -> None:
            db.execute("BEGIN")
            db.executemany(f"INSERT INTO plain VALUES ({marks})", rows)
            db.execute("COMMIT")

        times["plain"].append(timed(plain))
        plain_db.close()

        for name, crm in (("ours", tool("crm")), *((("before", before),) if before else ())):
            crm_db = tmp / f"crm-{name}-{count}-{r}.db"
            times[name].append(run([crm, "customers", "import", str(source), "--db", str(crm_db)], env))
            check = sqlite3.connect(crm_db)
            assert check.execute("SELECT count(*) FROM customers").fetchone()[0] == count
            assert check.execute("SELECT count(*) FROM change_log").fetchone()[0] == count
            check.close()
        times["sqlite_utils"].append(run([tool("sqlite-utils"), "insert", str(tmp / f"su-{count}-{r}.db"),
                                          "customers", str(source), "--csv"], env))
        for name in tmp.glob(f"*-{count}-{r}.db*"):
            name.unlink()
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--short", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=1)
    add_options(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    env = {**os.environ, "CRM_CONFIG": str(tmp / "config.toml"), "XDG_DATA_HOME": str(tmp / "data")}
    try:
        if not args.from_source:
            with_bytecode(tmp, env, [tool("crm"), *([args.before] if args.before else [])])
        results = []
        if args.customers:
            results.append((f"{args.customers:,} customers, every column ({len(EVERY)})", args.customers,
                            measure(tmp, args.customers, EVERY, env, args.rounds, args.before)))
        if args.short:
            results.append((f"{args.short:,} customers, five columns", args.short,
                            measure(tmp, args.short, FIVE, env, args.rounds, args.before)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for label, n, t in results:
        (wall, cpu), (su_wall, su_cpu), (plain_wall, plain_cpu) = t["ours"], t["sqlite_utils"], t["plain"]
        print(label)
        print(f"  crm customers import (process)  wall {wall:7.2f} s  CPU {cpu:7.2f} s  {n / wall:9,.0f} rows/s")
        print(f"  sqlite-utils insert --csv       wall {su_wall:7.2f} s  CPU {su_cpu:7.2f} s"
              f"  ratio wall {wall / su_wall:5.2f}x  CPU {cpu / su_cpu:5.2f}x  (target <= 0.5x)")
        print(f"  plain executemany, no indexes   wall {plain_wall:7.2f} s  CPU {plain_cpu:7.2f} s"
              f"  ratio wall {wall / plain_wall:5.1f}x  CPU {cpu / plain_cpu:5.1f}x")
        if "before" in t:
            b_wall, b_cpu = t["before"]
            print(f"  before (--before)               wall {b_wall:7.2f} s  CPU {b_cpu:7.2f} s"
                  f"  ratio wall {b_wall / su_wall:5.2f}x  CPU {b_cpu / su_cpu:5.2f}x vs sqlite-utils")


if __name__ == "__main__":
    main()
