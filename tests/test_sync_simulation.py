"""A deterministic, seeded simulation of sync: six replicas (five managers who see
everything, one rep who sees their own and the north's customers) and a server store, the
real client code (`crm_tui.api.sync.Sync`) driving the real FastAPI app in process
over an httpx transport that drops, duplicates and replays (reorders) messages.
Random creates, edits and deletes; partial syncs; crashes between a push and its
acknowledgement and between applying a pull and committing its cursor; skewed
clocks. After a final full sync every manager's replica must hold the same data, the
rep's replica exactly the part of it they may see, and every same-field write that
lost to a write it did not see must be in each replica's conflicts table (checked
against the true causal order, read from the logs)."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from crm_tui.api import Crm, NotFound, ValidationError
from crm_tui.api.sync import Crash, Hooks, Sync, SyncError
from crm_tui.db.migrations import SYNCED_TABLES
from crm_tui.domain.entities import local_only_columns
from crm_tui.sync import clock
from crm_tui.sync.client import SyncClient
from crm_tui.sync.merge import UNREPORTED_FIELDS
from crm_tui.sync.server.app import create_app, hash_token
from crm_tui.sync.server.sqlite_store import SqliteStore

BASE = "http://testserver"
HOUR = 3600 * 1000
SCOPED_TERRITORY = "north"


class FlakyTransport(httpx.BaseTransport):
    """Delivers requests to the app, but sometimes drops one before it arrives, loses
    the answer after the server acted on it, delivers it twice, or first replays an
    old push (a reordered, stale message)."""

    def __init__(self, inner: TestClient, rng: random.Random, rate: float):
        self.inner = inner
        self.rng = rng
        self.rate = rate
        self.old_pushes: list[httpx.Request] = []
        self.faults = {"dropped": 0, "lost_answer": 0, "duplicated": 0, "replayed": 0}

    def _send(self, request: httpx.Request) -> httpx.Response:
        copy = httpx.Request(request.method, request.url, headers=request.headers, content=request.content)
        got = self.inner.send(copy)
        return httpx.Response(got.status_code, headers={"content-type": "application/json"}, content=got.content)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        roll = self.rng.random()
        if request.url.path == "/v1/push":
            if self.old_pushes and roll < self.rate:
                self.faults["replayed"] += 1
                self._send(self.rng.choice(self.old_pushes))
            self.old_pushes = [*self.old_pushes[-20:], request]
        roll = self.rng.random()
        if roll < self.rate:
            self.faults["dropped"] += 1
            raise httpx.ConnectError("simulated: message dropped", request=request)
        if roll < 2 * self.rate:
            self._send(request)
            self.faults["lost_answer"] += 1
            raise httpx.ReadError("simulated: answer lost", request=request)
        if roll < 3 * self.rate:
            self.faults["duplicated"] += 1
            self._send(request)
        return self._send(request)


class World:
    def __init__(self, tmp: Path, seed: int, n: int = 6):
        self.rng = random.Random(seed)
        self.server_shift = 0
        self.store = SqliteStore(tmp / "server.db")
        self.app = create_app(self.store, max_offset_ms=5 * 60 * 1000, rate=1e6,
                              now_ms=lambda: clock.now_ms() + self.server_shift)
        self.inner = TestClient(self.app)
        self.replicas: list[Crm] = []
        self.transports: list[FlakyTransport] = []
        self.tokens: list[str] = []
        self.skew = [0] * n
        for i in range(n):
            token = f"token-{i}"
            # Managers hold every record; the last replica is a rep who sees only the
            # customers they own or that are in the north, with their records.
            if i == n - 1:
                self.store.add_rep(f"rep{i}", "rep", hash_token(token), [SCOPED_TERRITORY])
            else:
                self.store.add_rep(f"rep{i}", "manager", hash_token(token))
            self.tokens.append(token)
            self.replicas.append(Crm(tmp / f"r{i}.db", rep=f"rep{i}"))
            self.transports.append(FlakyTransport(self.inner, random.Random(seed * 100 + i), 0.06))
        self.refusals: dict[str, int] = {}
        self.resolved = 0
        self.crashes = 0

    def client(self, i: int, flaky: bool = True) -> SyncClient:
        transport = self.transports[i] if flaky else FlakyTransport(self.inner, self.rng, 0.0)
        return SyncClient(BASE, self.tokens[i], http=httpx.Client(transport=transport))

    def apply_skew(self, i: int) -> None:
        # A fast clock: the replica's wall never falls below now + skew.
        if self.skew[i]:
            conn = self.replicas[i].conn
            conn.execute("UPDATE replica SET wall = max(wall, ?)", (clock.now_ms() + self.skew[i],))

    # -- random work ------------------------------------------------------------

    def live(self, crm: Crm, table: str) -> list[str]:
        return [r[0] for r in crm.conn.execute(f"SELECT id FROM {table}")]

    def work(self, i: int) -> None:
        crm, rng = self.replicas[i], self.rng
        self.apply_skew(i)
        roll = rng.random()
        customers = self.live(crm, "customers")
        if roll < 0.25 or not customers:
            # The rep may only create customers in their own territory (or none).
            places = [SCOPED_TERRITORY, "south"] if i < len(self.replicas) - 1 else [SCOPED_TERRITORY, None]
            crm.customers.create({"name": f"客户{rng.randint(0, 999)}", "region": rng.choice(["华东", "华北"]),
                                  "territory": rng.choice(places)})
        elif roll < 0.40:
            cid = rng.choice(customers)
            if rng.random() < 0.5:
                crm.visits.create({"customer_id": cid, "visited_at": "2025-03-01T10:00:00",
                                   "channel": "phone", "purpose": "visit"})
            else:
                crm.orders.create({"customer_id": cid, "ordered_at": "2025-03-01", "product": "茶",
                                   "amount": rng.randint(1, 9) * 100})
        elif roll < 0.45:
            # Review a conflict now and then: the choice is a change that syncs too.
            syncer = Sync(crm)
            open_ones = syncer.conflicts()
            if open_ones:
                pick = rng.choice(open_ones)
                # its record was deleted here meanwhile, or its field written after it
                # (closed as out of date: a side kept would overwrite the later edit)
                with contextlib.suppress(NotFound, ValidationError):
                    syncer.resolve(pick["id"], rng.choice(["mine", "theirs"]))
                self.resolved += 1
        elif roll < 0.93:
            table = rng.choice(["customers", "customers", "visits", "orders"])
            ids = self.live(crm, table)
            if not ids:
                return
            fields = {"customers": ["notes", "title", "region", "industry"], "visits": ["notes", "outcome"],
                      "orders": ["notes", "product"]}[table]
            changes = {}
            for name in rng.sample(fields, rng.randint(1, 2)):
                changes[name] = f"{name}-{rng.randint(0, 4)}"
            crm.records(table).update(rng.choice(ids), changes)
        else:
            table = rng.choice(["customers", "visits", "orders"])
            ids = self.live(crm, table)
            if ids:
                crm.records(table).delete(rng.choice(ids))

    def sync(self, i: int) -> None:
        rng = self.rng
        hooks = Hooks()
        if rng.random() < 0.08:
            hooks.after_push = self._crash
        elif rng.random() < 0.08:
            hooks.before_commit = self._crash
        syncer = Sync(self.replicas[i])
        try:
            syncer.run(self.client(i), push_batch=rng.choice([3, 7, 50]), pull_limit=rng.choice([5, 11, 100]),
                       hooks=hooks, max_pages=rng.choice([1, 2, None]))
        except Crash:
            self.crashes += 1
        except SyncError as exc:
            self.refusals[exc.code] = self.refusals.get(exc.code, 0) + 1
        if rng.random() < 0.05:
            # As if the cursor had not been saved after a committed apply: the next
            # pull gets pages again, which must be harmless.
            conn = self.replicas[i].conn
            conn.execute("UPDATE sync_state SET cursor = max(0, cursor - ?)", (rng.randint(1, 30),))

    def _crash(self) -> None:
        raise Crash("simulated crash")

    def full_sync(self) -> None:
        for _ in range(2):
            for i, crm in enumerate(self.replicas):
                self.apply_skew(i)
                Sync(crm).run(self.client(i, flaky=False))


def snapshot(crm: Crm) -> dict[str, list[tuple]]:
    out = {}
    for table in SYNCED_TABLES:
        cols = [r[1] for r in crm.conn.execute(f"PRAGMA table_info({table})") if r[1] not in local_only_columns(table)]
        out[table] = [tuple(r) for r in crm.conn.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id")]
    return out


def visible_snapshot(crm: Crm, rep: str) -> dict[str, list[tuple]]:
    """A manager's data as a rep should see it: their customers and their territory's,
    with the records pointing to them."""
    seen = "SELECT id FROM customers WHERE owner = ? OR territory = ?"
    out = {}
    for table in SYNCED_TABLES:
        all_cols = [r[1] for r in crm.conn.execute(f"PRAGMA table_info({table})")]
        cols = [c for c in all_cols if c not in local_only_columns(table)]
        where, params = "", []
        if table == "customers":
            where, params = f" WHERE id IN ({seen})", [rep, SCOPED_TERRITORY]
        elif "customer_id" in all_cols:
            where, params = f" WHERE customer_id IN ({seen})", [rep, SCOPED_TERRITORY]
        out[table] = [tuple(r) for r in crm.conn.execute(
            f"SELECT {', '.join(cols)} FROM {table}{where} ORDER BY id", params)]
    return out


def causal_pasts(replicas: list[Crm]) -> dict[tuple[str, int], set[tuple[str, int]]]:
    """For each change, the changes its writer held when it was made: the rows before
    it in its own replica's log (rolled-back batches leave no rows)."""
    pasts: dict[tuple[str, int], set[tuple[str, int]]] = {}
    for crm in replicas:
        node = crm.replica["node"]
        seen: set[tuple[str, int]] = set()
        for n, ns in crm.conn.execute("SELECT node, node_seq FROM change_log ORDER BY seq"):
            if n == node:
                pasts[(n, ns)] = set(seen)
            seen.add((n, ns))
    return pasts


def unreported_losers(crm: Crm, pasts: dict) -> list[tuple]:
    """Same-field writes that lost to a write they did not see and are missing from
    the conflicts table (itself, or an agreeing write with its value). A write is not
    a silent loss when its value is the winner's,
    or when someone saw that value (written by it or by an agreeing write) and
    overwrote it."""
    writes: dict[tuple[str, str, str], list[tuple]] = {}
    for n, ns, hlc, tbl, row_id, _op, data in crm.conn.execute(
            "SELECT node, node_seq, hlc, tbl, row_id, op, data FROM change_log WHERE op != 'delete'"):
        for name, value in json.loads(data).items():
            if name not in UNREPORTED_FIELDS:
                writes.setdefault((tbl, row_id, name), []).append(((hlc, n), (n, ns), value))
    recorded = set()
    for t, r, f, h, n, v in crm.conn.execute(
            "SELECT tbl, row_id, field, loser_hlc, loser_node, loser_value FROM conflicts"):
        recorded |= {(t, r, f, (h, n)), (t, r, f, v)}
    missing = []
    for (tbl, row_id, name), ws in writes.items():
        winner = max(ws)
        for stamp, key, value in ws:
            if stamp == winner[0] or value == winner[2]:
                continue
            if any(v == value and k in pasts[other] for _, k, v in ws for _, other, _ in ws):
                continue  # this value was seen and overwritten by someone: a deliberate edit
            if (tbl, row_id, name, stamp) not in recorded and (tbl, row_id, name, json.dumps(
                    value, ensure_ascii=False, separators=(",", ":"))) not in recorded:
                missing.append((tbl, row_id, name, key, value))
    return missing


def false_conflicts(crm: Crm, pasts: dict) -> list[tuple]:
    """Recorded conflicts whose two writes were in fact one after the other."""
    keys = {(h, n): (n, ns) for n, ns, h in crm.conn.execute("SELECT node, node_seq, hlc FROM change_log")}
    bad = []
    for cid, wh, wn, lh, ln in crm.conn.execute(
            "SELECT id, winner_hlc, winner_node, loser_hlc, loser_node FROM conflicts"):
        w, lo = keys[(wh, wn)], keys[(lh, ln)]
        if lo in pasts[w] or w in pasts[lo]:
            bad.append(cid)
    return bad


@pytest.mark.parametrize("seed", [7, 2024])
def test_random_work_with_faults_converges(tmp_path: Path, seed: int) -> None:
    world = World(tmp_path, seed)
    n = len(world.replicas)
    world.skew[0] = 2 * 60 * 1000  # two minutes fast: within the server's limit
    for step in range(360):
        if step == 120:
            world.skew[1] = HOUR  # an hour fast: the server must refuse its pushes
        i = world.rng.randrange(n)
        if world.rng.random() < 0.3:
            world.sync(i)
        else:
            world.work(i)
    assert world.refusals.get("clock_ahead", 0) > 0
    assert world.crashes > 0
    faults = {k: sum(t.faults[k] for t in world.transports) for k in world.transports[0].faults}
    assert all(v > 0 for v in faults.values()), faults

    world.server_shift = 2 * HOUR  # the server's clock catches up with the fast laptop
    world.full_sync()
    for crm in world.replicas:  # a last review round, so resolutions are always exercised
        for conflict in Sync(crm).conflicts():
            try:
                Sync(crm).resolve(conflict["id"], "theirs")
            except (NotFound, ValidationError):
                continue  # deleted, or out of date (closed): the next one
            world.resolved += 1
            break
    assert world.resolved > 0
    world.full_sync()

    *managers, scoped = world.replicas
    snaps = [snapshot(crm) for crm in managers]
    assert sum(len(rows) for rows in snaps[0].values()) > 20
    for other in snaps[1:]:
        assert other == snaps[0]
    # The rep holds exactly the managers' data as far as they may see it.
    rep_view = snapshot(scoped)
    assert rep_view == visible_snapshot(managers[0], scoped.replica["rep"])
    assert 0 < len(rep_view["customers"]) < len(snaps[0]["customers"])
    # Every change is held once by the server and once by every manager's replica.
    total = world.store.count()
    own = sum(crm.conn.execute("SELECT count(*) FROM change_log WHERE node = (SELECT node FROM replica)")
              .fetchone()[0] for crm in world.replicas)
    assert total == own
    # A replica whose first pull came after others had pushed was served a snapshot:
    # the changes that still win a field of a record, not those superseded since. So
    # every manager holds at least those, each once, and nothing the server lacks.
    winning = {(c[1], c[2]) for c in world.store.pull(0, 10**6, exclude_node="~checker", snapshot=True).changes}
    every = {(c[1], c[2]) for c in world.store.pull(0, 10**6).changes}
    assert len(every) == total and winning <= every
    for crm in world.replicas:
        held = {tuple(r) for r in crm.conn.execute("SELECT node, node_seq FROM change_log")}
        count = crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
        assert count == len(held) and held <= every
        assert winning <= held if crm is not scoped else count < total
        assert Sync(crm).status()["pending"] == 0
        assert crm.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert crm.conn.execute("PRAGMA foreign_key_check").fetchall() == []

    pasts = causal_pasts(world.replicas)
    conflicts = 0
    for crm in world.replicas:
        assert unreported_losers(crm, pasts) == []
        assert false_conflicts(crm, pasts) == []
        conflicts += crm.conn.execute("SELECT count(*) FROM conflicts").fetchone()[0]
    assert conflicts > 0
    for crm in world.replicas:
        crm.close()
