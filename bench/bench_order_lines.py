"""Importing orders with several lines (`crm orders import-lines`, one row per line
grouped by the order key) against today's order import of one order per row (`crm
orders import`), on the same number of rows, each a whole process as a user runs it,
in the same run on copies of one database (customers and a product catalogue).

    N orders x 3 lines = 3N rows  ->  N orders and 3N order lines, each line priced
                                      from the catalogue, amounts summed per order
    3N one-line orders            ->  3N orders (the reference; target: within 1.5x)

Wall time and the processes' CPU time (user + system, which load distorts less).

    python bench/bench_order_lines.py [--orders 100000] [--lines 3]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crm_tui.api import Crm

CUSTOMERS = 2000
PRODUCTS = 200


def tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def base_db(path: Path) -> tuple[list[str], list[tuple[str, str, float]]]:
    crm = Crm(path, rep="wang")
    customers = [crm.customers.create({"name": f"客户{i}", "region": ["华东", "华南", "华北"][i % 3]})["id"]
                 for i in range(CUSTOMERS)]
    products = []
    for i in range(PRODUCTS):
        p = crm.products.create({"sku": f"SKU-{i:04d}", "name": f"产品{i}", "category": f"类{i % 12}",
                                 "list_price": 10 + i})
        products.append((p["sku"], p["name"], p["list_price"]))
    crm.close()
    return customers, products


def write_files(tmp: Path, orders: int, per_order: int, customers: list[str],
                products: list[tuple[str, str, float]]) -> tuple[Path, Path]:
    with_lines, one_per_row = tmp / "order-lines.csv", tmp / "orders.csv"
    with with_lines.open("w", encoding="utf-8", newline="") as a, one_per_row.open("w", encoding="utf-8",
                                                                                     newline="") as b:
        wa, wb = csv.writer(a), csv.writer(b)
        wa.writerow(["订单号", "客户编号", "下单日期", "产品编号", "数量"])
        wb.writerow(["customer_id", "日期", "产品", "数量", "金额"])
        for n in range(orders):
            customer = customers[n % len(customers)]
            day = f"2026-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
            for k in range(per_order):
                sku, name, price = products[(n * 7 + k * 13) % len(products)]
                quantity = 1 + (n + k) % 5
                wa.writerow([f"SO-{n}", customer if k == 0 else "", day if k == 0 else "", sku, quantity])
                wb.writerow([customer, day, name, quantity, f"{quantity * price:.2f}"])
    return with_lines, one_per_row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-lines-"))
    env = {**os.environ, "CRM_CONFIG": str(tmp / "config.toml"), "XDG_DATA_HOME": str(tmp / "data")}
    try:
        base = tmp / "base.db"
        customers, products = base_db(base)
        with_lines, one_per_row = write_files(tmp, args.orders, args.lines, customers, products)
        db_lines, db_rows = tmp / "lines.db", tmp / "rows.db"
        shutil.copy(base, db_lines)
        shutil.copy(base, db_rows)
        ref = run([tool("crm"), "orders", "import", str(one_per_row), "--db", str(db_rows)], env)
        ours = run([tool("crm"), "orders", "import-lines", str(with_lines), "--db", str(db_lines)], env)
        check = Crm(db_lines)
        assert check.orders.count() == args.orders
        assert check.order_lines.count() == args.orders * args.lines
        check.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = args.orders * args.lines
    print(f"{args.orders:,} orders x {args.lines} lines = {rows:,} rows")
    print(f"  crm orders import (one order per row, reference) {ref[0]:7.2f} s wall  {ref[1]:7.2f} s CPU")
    print(f"  crm orders import-lines                          {ours[0]:7.2f} s wall  {ours[1]:7.2f} s CPU")
    print(f"  ratio: wall {ours[0] / ref[0]:.2f}x, CPU {ours[1] / ref[1]:.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
