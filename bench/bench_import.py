"""Import of N customers from CSV, with validation, de-duplication, change capture and
the search index, against references measured in the same run:

- plain `executemany` of the same (already parsed) rows into an untracked table with
  the same columns and no indexes: the issue's reference;
- the same into a copy of the customers table with its indexes but no capture and no
  search index: what capture + search cost on their own;
- `sqlite-utils insert FILE --csv` of the same file (a subprocess, as a user runs it).

    python bench/bench_import.py [--customers 100000]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.api.importing import import_customers
from crm_tui.api.seed import _Generator
from crm_tui.db.connection import open_database, transaction
from crm_tui.domain.entities import CUSTOMER

COLUMNS = list(CUSTOMER.input_names)  # every column a user types (classes are computed)


def write_csv(path: Path, count: int) -> None:
    """Realistic customers from the demo generator, made unique by phone and email."""
    import datetime as dt

    gen = _Generator(7, dt.date(2026, 11, 1))
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(count):
            values, _ = gen.customer(i)
            values["mobile"] = f"1{[38, 39, 58, 59, 86][i % 5]}{i:08d}"
            values["email"] = f"c{i}@{['qq.com', '163.com', 'example.cn'][i % 3]}"
            writer.writerow([values.get(c) or "" for c in COLUMNS])


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-import-"))
    try:
        source = tmp / "customers.csv"
        write_csv(source, args.customers)
        with source.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))[1:]

        # Reference 1: plain executemany into an untracked table, no indexes.
        ref = open_database(tmp / "ref.db")
        ref.execute(f"CREATE TABLE plain ({', '.join(COLUMNS)})")
        placeholders = ", ".join("?" * len(COLUMNS))

        def plain() -> None:
            with transaction(ref):
                ref.executemany(f"INSERT INTO plain VALUES ({placeholders})", rows)

        t_plain = timed(plain)

        # Reference 2: the customers schema with its indexes, but no capture nor search.
        for name, in ref.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            ref.execute(f"DROP TRIGGER {name}")
        ids = [(f"{i:026d}", *row) for i, row in enumerate(rows)]

        def indexed() -> None:
            with transaction(ref):
                ref.executemany(f"INSERT INTO customers (id, {', '.join(COLUMNS)}) VALUES (?, {placeholders})", ids)

        t_indexed = timed(indexed)
        ref.close()

        # Ours: the whole import, from the file on disk to a committed transaction.
        crm = Crm(tmp / "crm.db")
        report = None

        def ours() -> None:
            nonlocal report
            report = import_customers(crm, source)

        t_ours = timed(ours)
        assert report is not None and report.created == args.customers, report
        changes = crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
        assert changes == args.customers
        crm.close()

        # sqlite-utils insert of the same CSV, as a user would run it.
        tool = shutil.which("sqlite-utils") or str(Path(sys.executable).parent / "sqlite-utils")
        t_su = timed(lambda: subprocess.run([tool, "insert", str(tmp / "su.db"), "customers", str(source), "--csv"],
                                            check=True, capture_output=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    n = args.customers
    print(f"import of {n:,} customers from CSV (validation, de-duplication, change capture, search index)")
    print(f"  crm customers import          {t_ours:7.2f} s  {n / t_ours:9,.0f} rows/s")
    print(f"  plain executemany, no indexes {t_plain:7.2f} s  ratio {t_ours / t_plain:5.1f}x  (target <= 3x)")
    print(f"  executemany, same indexes     {t_indexed:7.2f} s  ratio {t_ours / t_indexed:5.1f}x")
    print(f"  sqlite-utils insert --csv     {t_su:7.2f} s  ratio {t_ours / t_su:5.2f}x  (target < 1)")


if __name__ == "__main__":
    main()
