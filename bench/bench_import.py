"""Import through the one write pipeline, timed as a whole process (`crm customers
import FILE`, as a user runs it: start, read, validate, de-duplicate, pinyin, one
transaction with change capture and the search index), against references measured
in the same run on the same file:

- `sqlite-utils insert DB customers FILE --csv` (a process too; validates nothing);
- plain `executemany` of the already-parsed rows into an untracked table with the
  same columns and no indexes (in this process).

Two shapes: N customers with every column a user types, and M customers with the
five columns of a typical list (name, company, mobile, email, region).

    python bench/bench_import.py [--customers 100000] [--short 30000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(args, check=True, capture_output=True, env=env)


def measure(tmp: Path, count: int, columns: list[str], env: dict[str, str]) -> dict[str, float]:
    source = tmp / f"customers-{count}-{len(columns)}.csv"
    write_csv(source, count, columns)
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))[1:]

    plain_db = sqlite3.connect(tmp / f"plain-{count}.db", isolation_level=None)
    plain_db.execute(f"CREATE TABLE plain ({', '.join(columns)})")
    marks = ", ".join("?" * len(columns))

    def plain() -> None:
        plain_db.execute("BEGIN")
        plain_db.executemany(f"INSERT INTO plain VALUES ({marks})", rows)
        plain_db.execute("COMMIT")

    t_plain = timed(plain)
    plain_db.close()

    crm_db = tmp / f"crm-{count}.db"
    t_ours = timed(lambda: run([tool("crm"), "customers", "import", str(source), "--db", str(crm_db)], env))
    check = sqlite3.connect(crm_db)
    assert check.execute("SELECT count(*) FROM customers").fetchone()[0] == count
    assert check.execute("SELECT count(*) FROM change_log").fetchone()[0] == count
    check.close()

    t_su = timed(lambda: run([tool("sqlite-utils"), "insert", str(tmp / f"su-{count}.db"), "customers",
                              str(source), "--csv"], env))
    return {"ours": t_ours, "sqlite_utils": t_su, "plain": t_plain}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--short", type=int, default=30_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    env = {**os.environ, "CRM_CONFIG": str(tmp / "config.toml"), "XDG_DATA_HOME": str(tmp / "data")}
    try:
        results = [(f"{args.customers:,} customers, every column ({len(EVERY)})",
                    args.customers, measure(tmp, args.customers, EVERY, env)),
                   (f"{args.short:,} customers, five columns", args.short, measure(tmp, args.short, FIVE, env))]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for label, n, t in results:
        print(label)
        print(f"  crm customers import (process)  {t['ours']:7.2f} s  {n / t['ours']:9,.0f} rows/s")
        print(f"  sqlite-utils insert --csv       {t['sqlite_utils']:7.2f} s  ratio {t['ours'] / t['sqlite_utils']:5.2f}x"
              "  (target <= 0.5x)")
        print(f"  plain executemany, no indexes   {t['plain']:7.2f} s  ratio {t['ours'] / t['plain']:5.1f}x")


if __name__ == "__main__":
    main()
