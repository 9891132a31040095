"""What an erase costs on a realistic database, and whether a cheaper purge would do.
N seeded customers (with their visits, complaints, orders and change log); K of them
have their mobile changed once (the old number then sits in the change log and in the
free space of the page that held the row) and a visit logged, then are erased one after another. The
reference, measured in the same run: that one edit of a customer.

Three ways of making the freed bytes leave the file, each on its own copy of the
seeded database, each followed by a byte search of the file and its WAL for the erased
customers' name, mobile (old and new), email and visit notes:

- A, full: the scrub, then merge the search index, VACUUM, truncate the WAL;
- B, secure_delete always on (from the connection's start, so the edits were zeroed
  too), the scrub, merge the search index, truncate the WAL: no VACUUM;
- C, the control: B's purge on a connection where secure_delete was off during the
  edits (what B would leave on a database used before secure_delete was on).

    python bench/bench_erase.py [--customers 20000] [--erases 5] [--encrypted]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from crm_tui.api import Crm
from crm_tui.api import privacy as api_privacy
from crm_tui.api.seed import seed

KEY = "bench key"


def clock(fn: Callable[[], object]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def needles(crm: Crm, cid: str) -> list[bytes]:
    """What a byte search looks for: the customer's mobile, email and visit notes, and
    their name when no other customer has it (the seed repeats names: 张伟, Chloe Wilson)."""
    row = crm.customers.get(cid)
    found = [row[f] for f in ("mobile", "email") if row.get(f)]
    if crm.conn.execute("SELECT count(*) FROM customers WHERE name = ?", (row["name"],)).fetchone()[0] == 1:
        found.append(row["name"])
    found += [r[0] for r in crm.conn.execute(
        "SELECT notes FROM visits WHERE customer_id = ? AND length(notes) >= 8 LIMIT 3", (cid,))]
    return [str(x).encode() for x in found if len(str(x).encode()) >= 6]


def leaks(path: Path, wanted: list[bytes]) -> list[str]:
    data = b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    return [n.decode() for n in wanted if n in data]


def cheap_purge(conn) -> bool:
    """B's purge: the search index merged, the WAL folded in and truncated; no VACUUM."""
    conn.execute("INSERT INTO customer_search (customer_search) VALUES ('optimize')")
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def run(path: Path, ids: list[str], key: str | None, *, secure_from_start: bool, full: bool
        ) -> tuple[list[tuple[float, float]], list[tuple[float, float]], list[str], int]:
    """Edit then erase `ids`; (edit times, erase times, values found, values looked for)."""
    crm = Crm(path, key=key)
    if secure_from_start:
        crm.conn.execute("PRAGMA secure_delete = ON")
    wanted: list[bytes] = []
    edits = []
    for n, cid in enumerate(ids):
        old = crm.customers.get(cid)["mobile"]
        edits.append(clock(lambda n=n, c=cid: crm.customers.update(c, {"mobile": f"+86139{n:08d}"})))
        crm.visits.create({"customer_id": cid, "visited_at": "2026-05-01T10:00", "channel": "phone",
                           "purpose": "visit", "notes": f"said-in-confidence-{n}-{cid[-6:]}"})
        wanted += [*needles(crm, cid), str(old).encode()]
    real = api_privacy.sql.purge_freed_bytes
    if not full:
        api_privacy.sql.purge_freed_bytes = cheap_purge  # type: ignore[assignment]
    try:
        erases = [clock(lambda c=cid: crm.privacy.erase(c, reason="bench")) for cid in ids]
    finally:
        api_privacy.sql.purge_freed_bytes = real
    crm.close()
    return edits, erases, leaks(path, wanted), len(wanted)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--erases", type=int, default=5)
    parser.add_argument("--encrypted", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="crm-bench-erase-"))
    key = KEY if args.encrypted else None
    try:
        seeded = tmp / "seeded.db"
        with Crm(seeded, rep="boss", key=key, encrypt=args.encrypted) as crm:
            w, _ = clock(lambda: seed(crm, customers=args.customers, seed=3))
            ids = [r[0] for r in crm.conn.execute(
                "SELECT id FROM customers WHERE mobile IS NOT NULL AND email IS NOT NULL "
                "ORDER BY id LIMIT ?", (args.erases,))]
        size = seeded.stat().st_size / 1e6
        print(f"seeded {args.customers:,} customers in {w:.1f} s; file {size:.1f} MB", file=sys.stderr)
        results = {}
        for label, secure, full in (("A", False, True), ("B", True, False), ("C", False, False)):
            copy = tmp / f"{label}.db"
            shutil.copyfile(seeded, copy)
            results[label] = run(copy, ids, key, secure_from_start=secure, full=full)
        # VACUUM alone, on the seeded database, as the purge runs it.
        with Crm(seeded, key=key) as crm:
            crm.conn.execute("PRAGMA temp_store = MEMORY")
            vacuum = clock(lambda: crm.conn.execute("VACUUM"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(xs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(x[i] for x in xs)

    kind = "encrypted" if args.encrypted else "plain"
    ref_w, ref_c = med(results["A"][0], 0), med(results["A"][0], 1)
    print(f"{args.customers:,} customers ({kind}, {size:.1f} MB), {args.erases} erases each, medians")
    print(f"{'':52} {'wall s':>8} {'x edit':>7} {'CPU s':>8} {'x edit':>7} {'found':>7}")
    print(f"{'one edit of a customer (reference)':52} {ref_w:8.3f} {1:7.0f} {ref_c:8.3f} {1:7.0f}")
    for label, text in (("A", "A: erase, scrub + merge + VACUUM + truncate"),
                        ("B", "B: erase, secure_delete on, merge + truncate"),
                        ("C", "C: control, B without secure_delete from the start")):
        _, erases, found, wanted = results[label]
        w, c = med(erases, 0), med(erases, 1)
        print(f"{text:52} {w:8.3f} {w / ref_w:7.0f} {c:8.3f} {c / ref_c if ref_c else 0:7.0f} "
              f"{len(found):>3}/{wanted} {' '.join(found)}")
        b_edit = med(results[label][0], 1)
        if label == "B":
            print(f"{'   B: one edit with secure_delete on (CPU)':52} {'':8} {'':7} {b_edit:8.3f} "
                  f"{b_edit / ref_c if ref_c else 0:7.1f}")
    print(f"{'VACUUM alone':52} {vacuum[0]:8.3f} {vacuum[0] / ref_w:7.0f} {vacuum[1]:8.3f} "
          f"{vacuum[1] / ref_c if ref_c else 0:7.0f}")


if __name__ == "__main__":
    main()
