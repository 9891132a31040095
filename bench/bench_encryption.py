"""Encryption at rest, what it costs: importing N customers from a CSV and searching
them, on an encrypted database (SQLCipher) against a plain one, in the same process
and run, rounds interleaved so the machine's load falls on both alike. Target: the
encrypted database at most 1.5x the plain one. Also the cost of opening (the key
derivation) and of `crm encrypt` converting the imported database.

Both go through the API as the CLI does (`import_customers`, `customers.find` and
`count` as the customer list asks on each keystroke). Wall time and CPU time (the
process's, which load distorts less) are reported; read the ratios.

Note: a plain database runs on Python's SQLite, an encrypted one on the SQLite built
into sqlcipher3 (a newer version): the ratio is the whole difference a rep sees.

    python bench/bench_encryption.py [--customers 20000] [--rounds 3] [--queries 100]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_import import EVERY, write_csv  # noqa: E402

from crm_tui.api import Crm  # noqa: E402
from crm_tui.api.importing import import_customers  # noqa: E402
from crm_tui.db import encryption  # noqa: E402
from crm_tui.domain.search import pinyin_key  # noqa: E402

KEY = "bench key"


def clock(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of fn()."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def open_db(path: Path, encrypted: bool) -> Crm:
    return Crm(path, rep="bench", key=KEY, encrypt=encrypted) if encrypted else Crm(path, rep="bench")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-encryption-"))
    try:
        source = tmp / "customers.csv"
        write_csv(source, args.customers, EVERY)
        imports: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        opens: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for r in range(args.rounds):
            for encrypted in ((False, True) if r % 2 == 0 else (True, False)):
                path = tmp / f"{'enc' if encrypted else 'plain'}-{r}.db"
                open_db(path, encrypted).close()  # created, migrated: not timed
                box: list[Crm] = []
                opens[encrypted].append(clock(lambda p=path, e=encrypted, b=box: b.append(open_db(p, e))))
                crm = box[0]
                imports[encrypted].append(clock(lambda c=crm: import_customers(c, source)))
                assert crm.customers.count() == args.customers
                crm.close()

        # Search, on the last round's two databases: the same queries on both, interleaved.
        plain, enc = open_db(tmp / f"plain-{args.rounds - 1}.db", False), open_db(tmp / f"enc-{args.rounds - 1}.db", True)
        people = plain.conn.execute("SELECT name, mobile FROM customers").fetchall()
        rng = random.Random(3)
        chinese = [n for n, _ in people if pinyin_key(n) and len(n) >= 2]
        mobiles = [m for _, m in people if m]
        queries = []
        for _ in range(args.queries):
            name = rng.choice(chinese)
            mobile = rng.choice(mobiles)[3:]
            queries += [name, pinyin_key(name).split()[0], pinyin_key(name).split()[1], mobile[2:9]]
        times: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, float] = {False: 0.0, True: 0.0}
        for i, q in enumerate(queries):
            for encrypted in ((False, True) if i % 2 == 0 else (True, False)):
                crm = enc if encrypted else plain

                def ask(c: Crm = crm, q: str = q) -> None:
                    c.customers.find(search=q, limit=50)
                    c.customers.count(search=q)

                w, c = clock(ask)
                times[encrypted].append(w * 1000)
                cpu[encrypted] += c
        plain.close()
        enc.close()

        # Converting: `crm encrypt` of an imported plain database.
        convert = [clock(lambda p=tmp / f"plain-{r}.db": encryption.encrypt(p, KEY)) for r in range(args.rounds)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(xs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(x[i] for x in xs)

    n = args.customers
    print(f"{n:,} customers, every column; {args.rounds} rounds, medians")
    print(f"{'':34} {'plain':>9} {'encrypted':>10} {'ratio':>6}")
    for label, data in (("import: wall s", (imports, 0)), ("import: CPU s", (imports, 1)),
                        ("open: wall s", (opens, 0)), ("open: CPU s", (opens, 1))):
        d, i = data
        a, b = med(d[False], i), med(d[True], i)
        print(f"{label:34} {a:9.3f} {b:10.3f} {b / a:5.2f}x")
    qn = len(queries)
    for label, f in (("search p50 ms", lambda xs: statistics.median(xs)), ("search p95 ms", lambda xs: percentile(xs, 95))):
        a, b = f(times[False]), f(times[True])
        print(f"{label:34} {a:9.2f} {b:10.2f} {b / a:5.2f}x")
    print(f"{f'search CPU s ({qn} queries)':34} {cpu[False]:9.3f} {cpu[True]:10.3f} {cpu[True] / cpu[False]:5.2f}x")
    print(f"{'crm encrypt (convert): wall s':34} {'':9} {med(convert, 0):10.3f}")
    print(f"{'crm encrypt (convert): CPU s':34} {'':9} {med(convert, 1):10.3f}")


if __name__ == "__main__":
    main()
