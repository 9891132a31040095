"""`crm seed`: N demo customers with their visits, complaints and orders (validated
through the API's prepare, captured in the change log, indexed for search, one
transaction), against a plain `executemany` of the very same rows into untracked
tables without indexes, measured in the same run.

    python bench/bench_seed.py [--customers 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.api.seed import seed
from crm_tui.db.connection import open_database, transaction

TABLES = ("customers", "visits", "complaints", "orders")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=10_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-seed-"))
    try:
        crm = Crm(tmp / "seed.db")
        start = time.perf_counter()
        report = seed(crm, customers=args.customers, seed=1, today=dt.date(2026, 11, 1))
        t_seed = time.perf_counter() - start
        rows = {t: [tuple(r.values()) for r in crm.records(t).find()] for t in TABLES}
        columns = {t: list(crm.records(t).find(limit=1)[0]) for t in TABLES}
        crm.close()

        ref = open_database(tmp / "ref.db")
        for t in TABLES:
            ref.execute(f"CREATE TABLE plain_{t} ({', '.join(columns[t])})")
        start = time.perf_counter()
        with transaction(ref):
            for t in TABLES:
                marks = ", ".join("?" * len(columns[t]))
                ref.executemany(f"INSERT INTO plain_{t} VALUES ({marks})", rows[t])
        t_plain = time.perf_counter() - start
        ref.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    total = sum(report.as_dict().values())
    print(f"seed of {args.customers:,} customers: {total:,} records "
          f"({', '.join(f'{n:,} {t}' for t, n in report.as_dict().items())})")
    print(f"  crm seed                      {t_seed:7.2f} s  {total / t_seed:9,.0f} records/s")
    print(f"  plain executemany, same rows  {t_plain:7.2f} s  ratio {t_seed / t_plain:5.1f}x"
          "  (ours includes generating and validating every record)")


if __name__ == "__main__":
    main()
