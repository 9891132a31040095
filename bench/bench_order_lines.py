"""Importing orders with several lines (`crm orders import-lines`, one row per line
grouped by the order key) against today's order import of one order per row (`crm
orders import`), on the same number of rows, each a whole process as a user runs it,
in the same run on copies of one database (customers and a product catalogue).

    N orders x 3 lines = 3N rows  ->  N orders and 3N order lines, each line priced
                                      from the catalogue, amounts summed per order
    3N one-line orders            ->  3N orders (the reference; target: within 1.5x)

Wall time and the processes' CPU time (user + system, which load distorts less);
with `--rounds R` every process runs R times, interleaved, and the medians are shown.

    python bench/bench_order_lines.py [--orders 100000] [--lines 3] [--rounds 1] [--before CRM]

`--before CRM` times both imports of another `crm` in the same rounds, on a book that
crm made itself (each crm imports the same customers, with their ids, and products
into a new book, untimed, so a crm of an older schema reads a book of its own); every
process runs from compiled bytecode (`--from-source`: as the environment says). Both
as bench/processes.py says.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sqlite3
import statistics
import tempfile
from pathlib import Path

from processes import add_options, from_bytecode, run, tool

CUSTOMERS = 2000
PRODUCTS = 200


def base_files(tmp: Path) -> tuple[Path, Path, list[str], list[tuple[str, str, float]]]:
    """The customers (with their ids) and the product catalogue of the base book, as
    CSV files any crm imports."""
    customers = [f"01J{i:023d}" for i in range(CUSTOMERS)]
    products = [(f"SKU-{i:04d}", f"产品{i}", float(10 + i)) for i in range(PRODUCTS)]
    people, catalogue = tmp / "customers.csv", tmp / "products.csv"
    with people.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "region"])
        writer.writerows([cid, f"客户{i}", ["华东", "华南", "华北"][i % 3]] for i, cid in enumerate(customers))
    with catalogue.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["sku", "name", "category", "list_price"])
        writer.writerows([sku, name, f"类{i % 12}", f"{price:.2f}"] for i, (sku, name, price) in enumerate(products))
    return people, catalogue, customers, products


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
    parser.add_argument("--rounds", type=int, default=1)
    add_options(parser)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-lines-"))
    env = {**os.environ, "CRM_CONFIG": str(tmp / "config.toml"), "XDG_DATA_HOME": str(tmp / "data")}
    if not args.from_source:
        from_bytecode(env, tmp / "pycache")
    crms = {"ours": tool("crm"), **({"before": args.before} if args.before else {})}
    times: dict[str, list[tuple[float, float]]] = {f"{c} {k}": [] for c in crms for k in ("rows", "lines")}
    try:
        people, catalogue, customers, products = base_files(tmp)
        with_lines, one_per_row = write_files(tmp, args.orders, args.lines, customers, products)
        for name, crm in crms.items():  # each crm's own base book; writes its bytecode too
            base = tmp / f"base-{name}.db"
            run([crm, "customers", "import", str(people), "--db", str(base)], env)
            run([crm, "products", "import", str(catalogue), "--db", str(base)], env)
        for _ in range(args.rounds):
            for name, crm in crms.items():
                for kind, command, source in (("rows", "import", one_per_row), ("lines", "import-lines", with_lines)):
                    db = tmp / f"{name}-{kind}.db"
                    shutil.copy(tmp / f"base-{name}.db", db)
                    times[f"{name} {kind}"].append(run([crm, "orders", command, str(source), "--db", str(db)], env))
                    check = sqlite3.connect(db)
                    orders = args.orders if kind == "lines" else args.orders * args.lines
                    assert check.execute("SELECT count(*) FROM orders").fetchone()[0] == orders
                    if kind == "lines":
                        assert check.execute("SELECT count(*) FROM order_lines").fetchone()[0] == args.orders * args.lines
                    check.close()
                    db.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    medians = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(f"{args.orders:,} orders x {args.lines} lines = {args.orders * args.lines:,} rows, "
          f"{args.rounds} round(s), medians")
    for name in crms:
        ref, ours = medians[f"{name} rows"], medians[f"{name} lines"]
        label = "" if name == "ours" else " (--before)"
        print(f"  crm orders import{label} (one order per row, reference) {ref[0]:7.2f} s wall  {ref[1]:7.2f} s CPU")
        print(f"  crm orders import-lines{label}                          {ours[0]:7.2f} s wall  {ours[1]:7.2f} s CPU")
        print(f"  ratio: wall {ours[0] / ref[0]:.2f}x, CPU {ours[1] / ref[1]:.2f}x  (target <= 1.5x)")
    if "before" in crms:
        for kind in ("rows", "lines"):
            (w, c), (bw, bc) = medians[f"ours {kind}"], medians[f"before {kind}"]
            print(f"  {kind}: this crm against --before: wall {w / bw:.3f}x, CPU {c / bc:.3f}x")


if __name__ == "__main__":
    main()
