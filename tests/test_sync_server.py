"""The server's protocol and the store contract: tokens, version, clock, bounded
batches, idempotent pushes, sequence gaps, and pulls below the watermark; then the
client use cases against it (orphans of a deleted customer, conflict resolution,
login). Runs the real FastAPI app in process; test_sync_cli.py runs it for real."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from crm_tui.api import Crm, ValidationError
from crm_tui.api.sync import Sync, SyncError, client_from_config, login
from crm_tui.config import Config
from crm_tui.sync import clock
from crm_tui.sync.client import SyncClient
from crm_tui.sync.protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, WireChange
from crm_tui.sync.server.admin import open_store
from crm_tui.sync.server.app import create_app, hash_token
from crm_tui.sync.server.store import ChangeMismatch, RepInfo, SequenceGap, Store, change_size

BASE = "http://testserver"
WANG, LI = RepInfo("wang", "manager", ""), RepInfo("li", "manager", "")


@pytest.fixture
def store(server_db: str):
    """An empty store, on SQLite and on PostgreSQL (the `server_db` fixture)."""
    s = open_store(server_db)
    # Managers see every record; visibility of reps has its own test below.
    s.add_rep("wang", "manager", hash_token("tok-wang"))
    s.add_rep("li", "manager", hash_token("tok-li"))
    yield s
    s.close()


@pytest.fixture
def http(store: Store) -> TestClient:
    return TestClient(create_app(store, max_offset_ms=60_000))


def change(seq: int, *, node: str = "n1", hlc: int | None = None, row: str = "r1") -> dict:
    return {"node": node, "node_seq": seq, "hlc": hlc if hlc is not None else clock.pack(clock.now_ms(), seq),
            "tbl": "customers", "row_id": row, "op": "insert" if seq == 1 else "update",
            "data": {"name": f"v{seq}"}, "old": None, "base": None, "rep": "wang"}


def headers(token: str = "tok-wang", version: str = str(PROTOCOL_VERSION)) -> dict:
    return {"Authorization": f"Bearer {token}", PROTOCOL_HEADER: version}


# -- the store contract ------------------------------------------------------------

def test_store_push_is_idempotent_and_gapless(store: Store) -> None:
    batch = [WireChange(**change(i)) for i in (1, 2, 3)]
    out = store.push(WANG, "n1", batch)
    assert (out.accepted, out.duplicates, out.acked_seq) == (3, 0, 3)
    again = store.push(WANG, "n1", [*batch, WireChange(**change(4))])
    assert (again.accepted, again.duplicates, again.acked_seq) == (1, 3, 4)
    with pytest.raises(SequenceGap) as gap:
        store.push(WANG, "n1", [WireChange(**change(6))])
    assert gap.value.expected == 5
    assert store.count() == 4 and store.acked_seq("n1") == 4
    with pytest.raises(ChangeMismatch):  # the same number, another change: a restored database
        store.push(WANG, "n1", [WireChange(**change(2, hlc=batch[1].hlc + 1))])


def test_store_pull_pages_by_cursor_below_watermark(store: Store) -> None:
    # One record per change: each still wins, so the snapshot from 0 holds them all.
    store.push(WANG, "n1", [WireChange(**{**change(i, row=f"r{i}"), "op": "insert"}) for i in range(1, 8)])
    store.push(LI, "n2", [WireChange(**{**change(i, node="n2", row=f"s{i}"), "op": "insert"}) for i in range(1, 4)])
    seen, cursor = [], 0
    # Sequences need not be dense (PostgreSQL spends some), but all are below the mark.
    top = store.pull(0, 100).changes[-1][0]
    for _ in range(10):
        page = store.pull(cursor, 3, exclude_node="n2")
        seen += [(c[1], c[2]) for c in page.changes]
        assert page.watermark == top
        cursor = page.cursor
        if cursor >= page.watermark:
            break
    assert seen == [("n1", i) for i in range(1, 8)]
    assert store.pull(cursor, 3).changes == []


# -- the HTTP protocol ----------------------------------------------------------------

def test_bad_tokens_get_401_with_a_reason(http: TestClient, store: Store) -> None:
    r = http.get("/v1/hello", headers={PROTOCOL_HEADER: str(PROTOCOL_VERSION)})
    assert r.status_code == 401 and r.json()["error"] == "bad_token" and "no token" in r.json()["message"]
    r = http.get("/v1/hello", headers=headers("nope"))
    assert r.status_code == 401 and "unknown token" in r.json()["message"]
    store.revoke_rep("li")
    r = http.get("/v1/hello", headers=headers("tok-li"))
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    r = http.get("/v1/hello", headers=headers())
    assert r.status_code == 200 and r.json()["rep"] == "wang"


def test_version_mismatch_is_a_clear_error(http: TestClient) -> None:
    r = http.get("/v1/hello", headers=headers(version="99"))
    assert r.status_code == 426
    assert r.json()["error"] == "version_mismatch" and f"protocol {PROTOCOL_VERSION}" in r.json()["message"]


def test_clock_too_far_ahead_is_refused(http: TestClient, store: Store) -> None:
    ahead = clock.pack(clock.now_ms() + 3_600_000, 0)
    r = http.post("/v1/push", headers=headers(), json={"node": "n1", "changes": [change(1, hlc=ahead)]})
    assert r.status_code == 422 and r.json()["error"] == "clock_ahead"
    assert "ahead of the server clock" in r.json()["message"]
    assert store.count() == 0


def test_bad_input_is_a_4xx_not_a_5xx(http: TestClient) -> None:
    r = http.post("/v1/push", headers=headers(), json={"node": "n1", "changes": [{"node": "n1"}]})
    assert r.status_code == 400 and r.json()["error"] == "bad_request"
    r = http.post("/v1/push", headers=headers(), json={"node": "n1", "changes": [change(1, node="other")]})
    assert r.status_code == 400
    r = http.post("/v1/push", headers=headers(), json={"node": "n1", "changes": [change(i) for i in range(1, 2002)]})
    assert r.status_code == 413
    r = http.post("/v1/pull", headers=headers(), json={"node": "n1", "after": 0, "limit": 10**6})
    assert r.status_code == 400
    # A pull's body over its bound is told so, not to "push smaller batches".
    r = http.post("/v1/pull", headers=headers(), json={"node": "n1", "after": 0, "limit": 1, "pad": "x" * 70_000})
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert r.json()["message"] == "a pull's body is over 65536 bytes; it holds only node, after, limit and snapshot"


def test_gap_and_node_of_another_rep(http: TestClient) -> None:
    r = http.post("/v1/push", headers=headers(), json={"node": "n1", "changes": [change(2)]})
    assert r.status_code == 409 and r.json()["expected_seq"] == 1
    assert http.post("/v1/push", headers=headers(), json={"node": "n1", "changes": [change(1)]}).status_code == 200
    r = http.post("/v1/push", headers=headers("tok-li"), json={"node": "n1", "changes": [change(2)]})
    assert r.status_code == 403 and r.json()["error"] == "node_taken"


# -- the client use cases against the app -----------------------------------------------

def client(http: TestClient, token: str) -> SyncClient:
    return SyncClient(BASE, token, http=http)


def test_child_of_a_deleted_customer_does_not_break_sync(http: TestClient, tmp_path: Path) -> None:
    a, b = Crm(tmp_path / "a.db", rep="wang"), Crm(tmp_path / "b.db", rep="li")
    cust = a.customers.create({"name": "张伟"})
    Sync(a).run(client(http, "tok-wang"))
    Sync(b).run(client(http, "tok-li"))
    # Offline: A deletes the customer while B logs a visit and an order for it.
    a.customers.delete(cust["id"])
    b.visits.create({"customer_id": cust["id"], "visited_at": "2025-01-02T09:00:00", "channel": "phone",
                     "purpose": "visit"})
    b.orders.create({"customer_id": cust["id"], "ordered_at": "2025-01-02", "product": "茶", "amount": 10})
    Sync(a).run(client(http, "tok-wang"))
    Sync(b).run(client(http, "tok-li"))
    report = Sync(a).run(client(http, "tok-wang"))
    assert report.orphans == 2
    for crm in (a, b):
        assert crm.customers.count() == 0 and crm.visits.count() == 0 and crm.orders.count() == 0
        assert crm.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    # Nothing is lost from history: the visit is still in both logs.
    assert len(a.changes(table="visits")) == 1 and len(b.changes(table="visits")) == 1


def stamped_before_now(crm: Crm) -> None:
    """Wait (a few milliseconds at most) until the clock is past the millisecond of
    `crm`'s last change, so that an edit made next on any laptop is stamped later.
    Two laptops' edits within one millisecond are ordered by node id, not by time (a
    test that assumed otherwise failed now and then under load)."""
    last = clock.wall_of(crm.conn.execute("SELECT max(hlc) FROM change_log").fetchone()[0])
    deadline = time.monotonic() + 2
    # +1: the SQL clock of capture may be a millisecond behind Python's.
    while clock.now_ms() <= last + 1 and time.monotonic() < deadline:
        time.sleep(0.001)


def test_conflict_resolution_is_a_change_that_syncs(http: TestClient, tmp_path: Path) -> None:
    a, b = Crm(tmp_path / "a.db", rep="wang"), Crm(tmp_path / "b.db", rep="li")
    cust = a.customers.create({"name": "张伟", "notes": "start"})
    Sync(a).run(client(http, "tok-wang"))
    Sync(b).run(client(http, "tok-li"))
    a.customers.update(cust["id"], {"notes": "from wang", "title": "经理"})
    # Concurrent (neither saw the other), and li's edit stamped later: li's value wins.
    stamped_before_now(a)
    b.customers.update(cust["id"], {"notes": "from li", "region": "华东"})
    Sync(a).run(client(http, "tok-wang"))
    assert Sync(b).run(client(http, "tok-li")).conflicts == 1
    Sync(a).run(client(http, "tok-wang"))
    ra, rb = a.customers.get(cust["id"]), b.customers.get(cust["id"])
    assert ra == rb and (ra["title"], ra["region"]) == ("经理", "华东")
    [ca] = Sync(a).conflicts()
    [cb] = Sync(b).conflicts()
    assert {ca["winner_rep"], ca["loser_rep"]} == {"wang", "li"}
    assert {ca["mine"], ca["theirs"]} == {"from wang", "from li"}
    assert ca["mine"] == "from wang" and cb["mine"] == "from li"
    assert ca["record"] == "张伟"
    # Wang keeps his value: a new captured change that syncs, and settles B's copy.
    Sync(a).resolve(ca["id"], "mine")
    assert Sync(a).status()["pending"] == 1 and Sync(a).conflicts() == []
    Sync(a).run(client(http, "tok-wang"))
    Sync(b).run(client(http, "tok-li"))
    assert a.customers.get(cust["id"]) == b.customers.get(cust["id"])
    assert b.customers.get(cust["id"])["notes"] == "from wang"
    assert Sync(b).conflicts() == []
    assert Sync(b).conflicts(include_resolved=True)[0]["resolution"] == "superseded"


def test_login_saves_token_0600_and_refuses_a_bad_one(http: TestClient) -> None:
    with pytest.raises(SyncError) as exc:
        login(BASE, "wrong", http=http)
    assert exc.value.code == "bad_token"
    assert Config.load().sync.server is None
    info = login(BASE, "tok-wang", http=http)
    assert info["rep"] == "wang"
    path = Path(os.environ["CRM_CONFIG"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = Config.load()
    assert (config.sync.server, config.sync.token, config.rep) == (BASE, "tok-wang", "wang")
    assert client_from_config(config, http=http).hello().rep == "wang"


def test_unreachable_server_is_reported(tmp_path: Path) -> None:
    crm = Crm(tmp_path / "a.db")
    dead = SyncClient("http://127.0.0.1:9", "t", http=httpx.Client(timeout=2))
    with pytest.raises(SyncError) as exc:
        Sync(crm).run(dead)
    assert exc.value.code == "unreachable"
    assert "cannot reach" in Sync(crm).status()["last_error"]


def test_requests_are_rate_limited_per_rep(store: Store) -> None:
    http = TestClient(create_app(store, rate=0.001, burst=3))
    codes = [http.get("/v1/hello", headers=headers()).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = http.get("/v1/hello", headers=headers())
    assert r.json()["error"] == "rate_limited" and "at most" in r.json()["message"]
    assert http.get("/v1/hello", headers=headers("tok-li")).status_code == 200  # others are not held up


def test_deleting_a_record_settles_its_conflicts(http: TestClient, tmp_path: Path) -> None:
    a, b = Crm(tmp_path / "a.db", rep="wang"), Crm(tmp_path / "b.db", rep="li")
    cust = a.customers.create({"name": "张伟"})
    order = a.orders.create({"customer_id": cust["id"], "ordered_at": "2025-01-02", "product": "茶", "amount": 5})
    for crm, token in ((a, "tok-wang"), (b, "tok-li")):
        Sync(crm).run(client(http, token))
    a.orders.update(order["id"], {"notes": "wang"})
    b.orders.update(order["id"], {"notes": "li"})
    Sync(a).run(client(http, "tok-wang"))
    Sync(b).run(client(http, "tok-li"))
    [conflict] = Sync(b).conflicts()
    assert conflict["record"] == "order 张伟"
    a.customers.delete(cust["id"])
    Sync(a).run(client(http, "tok-wang"))
    Sync(b).run(client(http, "tok-li"))
    assert Sync(b).conflicts() == []
    assert Sync(b).conflicts(include_resolved=True)[0]["resolution"] == "deleted"


def test_a_database_restored_from_backup_is_stopped_not_silently_lost(http: TestClient, tmp_path: Path) -> None:
    import shutil

    a = Crm(tmp_path / "a.db", rep="wang")
    a.customers.create({"name": "一"})
    Sync(a).run(client(http, "tok-wang"))
    a.close()
    shutil.copy(tmp_path / "a.db", tmp_path / "backup.db")
    a = Crm(tmp_path / "a.db")
    a.customers.create({"name": "二"})
    Sync(a).run(client(http, "tok-wang"))
    a.close()
    restored = Crm(tmp_path / "backup.db")
    restored.customers.create({"name": "三"})  # reuses the number of "二"
    with pytest.raises(SyncError) as exc:
        Sync(restored).run(client(http, "tok-wang"))
    assert exc.value.code == "replica_behind" and "backup" in str(exc.value)
    assert Sync(restored).status()["pending"] == 1


def test_reps_pull_their_customers_and_territories_managers_all(store: Store, tmp_path: Path) -> None:
    store.add_rep("north", "rep", hash_token("tok-north"), ["north"])
    store.add_rep("south", "rep", hash_token("tok-south"), ["south"])
    store.add_rep("boss", "manager", hash_token("tok-boss"))
    http = TestClient(create_app(store))
    n, s, boss = (Crm(tmp_path / f"{x}.db") for x in ("n", "s", "boss"))
    go = {n: "tok-north", s: "tok-south", boss: "tok-boss"}
    for crm in (n, s, boss):
        Sync(crm).run(client(http, go[crm]))  # learn the rep names first

    c1 = n.customers.create({"name": "北一", "territory": "north"})
    v1 = n.visits.create({"customer_id": c1["id"], "visited_at": "2025-01-02T09:00:00", "channel": "phone",
                          "purpose": "visit"})
    # north owns it, in the south: only a manager puts it there
    c3 = boss.customers.create({"name": "北三", "territory": "south", "owner": "north"})
    c2 = s.customers.create({"name": "南二", "territory": "south"})
    o2 = s.orders.create({"customer_id": c2["id"], "ordered_at": "2025-01-02", "product": "茶", "amount": 9})
    for _ in range(2):
        for crm in (n, s, boss):
            Sync(crm).run(client(http, go[crm]))

    def ids(crm: Crm, table: str) -> set[str]:
        return {r["id"] for r in crm.records(table).find()}

    assert ids(n, "customers") == {c1["id"], c3["id"]} and ids(n, "orders") == set()
    assert ids(s, "customers") == {c2["id"], c3["id"]} and ids(s, "visits") == set()
    assert ids(s, "orders") == {o2["id"]}
    assert ids(boss, "customers") == {c1["id"], c2["id"], c3["id"]}
    assert ids(boss, "visits") == {v1["id"]} and ids(boss, "orders") == {o2["id"]}

    # The manager moves the north customer into the south territory: the south rep's
    # next sync brings it with its whole past (the visit logged before the move).
    boss.customers.update(c1["id"], {"territory": "south"})
    Sync(boss).run(client(http, go[boss]))
    # The answer that brings it is lost once: it is answered again from the same cursor.
    cursor = s.conn.execute("SELECT cursor FROM sync_state").fetchone()[0]
    lost = client(http, go[s]).pull(s.replica["node"], cursor, 10)
    assert {c["row_id"] for c in lost["changes"]} >= {c1["id"], v1["id"]}
    report = Sync(s).run(client(http, go[s]))
    # Only what entered the view is sent (the customer, its visit, the move).
    assert report.pulled + report.pull_duplicates <= 4
    assert ids(s, "customers") == {c1["id"], c2["id"], c3["id"]} and ids(s, "visits") == {v1["id"]}
    assert s.customers.get(c1["id"]) == boss.customers.get(c1["id"])
    assert s.conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == \
        s.conn.execute("SELECT count(DISTINCT node || ':' || node_seq) FROM change_log").fetchone()[0]
    # The owner still sees it.
    Sync(n).run(client(http, go[n]))
    assert n.customers.get(c1["id"])["territory"] == "south"
    # A territory added to a rep brings its customers and their records.
    store.set_rep("north", territories=["north", "south"])
    Sync(n).run(client(http, go[n]))
    assert ids(n, "customers") == ids(boss, "customers") and ids(n, "orders") == {o2["id"]}


def test_a_pulled_far_future_stamp_is_stored_but_not_adopted(tmp_path: Path) -> None:
    from crm_tui.api.sync_apply import apply_batch
    from crm_tui.sync.merge import Change

    crm = Crm(tmp_path / "a.db")
    now = clock.now_ms()
    near = clock.pack(now + 1_000, 5)
    far = clock.pack(now + 86_400_000, 0)  # a day ahead
    batch = [Change("other", 1, near, "customers", "c1", "insert", {"name": "近"}),
             Change("other", 2, far, "customers", "c2", "insert", {"name": "远"})]
    report = apply_batch(crm.conn, batch, cursor=2, max_offset_ms=60_000, server_now_ms=now)
    assert report.refused_stamp == far and report.received == 2
    assert clock.pack(crm.replica["wall"], crm.replica["counter"]) == near  # followed the near one only
    assert "in the future" in Sync(crm).status()["clock_warning"]
    assert {c["name"] for c in crm.customers.find()} == {"近", "远"}  # the data itself is kept


def test_openapi_schema_lists_the_protocol(http: TestClient) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    assert {"/v1/hello", "/v1/push", "/v1/pull"} <= set(paths)


# -- refusals: the push contract of protocol 2 ---------------------------------------------

def test_a_push_with_refused_changes_stores_the_rest_and_says_why_again_and_again(
        http: TestClient, store: Store) -> None:
    store.add_rep("north", "rep", hash_token("tok-north"), ["north"])
    hlc = clock.pack(clock.now_ms(), 0)

    def c(seq: int, **kw: object) -> dict:
        return {"node": "nn", "node_seq": seq, "hlc": hlc + seq, "tbl": "customers", "row_id": f"c{seq}",
                "op": "insert", "data": {"name": "好", "owner": "north", "territory": "north"}, **kw}

    batch = [c(1), c(2, data={"name": None, "owner": "north"}),          # name is required
             c(3, data={"name": "别人", "owner": "li"}),                   # another owner
             c(4, tbl="zzz"),                                              # not a synced table
             c(5, tbl="visits", data={"customer_id": "nobody", "visited_at": "2025-01-01T09:00:00",
                                      "channel": "phone", "purpose": "visit", "owner": "north"}),
             c(6, tbl="visits", data={"customer_id": "c1", "visited_at": "2025-01-01T09:00:00",
                                      "channel": "phone", "purpose": "visit", "owner": "north"})]
    first = http.post("/v1/push", headers=headers("tok-north"), json={"node": "nn", "changes": batch})
    assert first.status_code == 403
    body = first.json()
    assert body["error"] == "refused" and body["message"]
    assert (body["accepted"], body["duplicates"], body["acked_seq"]) == (2, 0, 6)
    assert [(r["node_seq"], r["code"]) for r in body["refused"]] == [
        (2, "invalid"), (3, "forbidden"), (4, "invalid"), (5, "invalid")]
    assert "name" in body["refused"][0]["reason"] and "customer_id" in body["refused"][3]["reason"]
    assert store.count() == 2 and store.refused_count() == 4
    # The answer was lost: the same batch again gets the same refusals, stores nothing.
    again = http.post("/v1/push", headers=headers("tok-north"), json={"node": "nn", "changes": batch})
    assert again.status_code == 403 and again.json()["refused"] == body["refused"]
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert store.count() == 2
    # All good: 200 with an empty list.
    ok = http.post("/v1/push", headers=headers("tok-north"), json={"node": "nn", "changes": [c(7)]})
    assert ok.status_code == 200 and ok.json()["refused"] == [] and ok.json()["acked_seq"] == 7


def test_refusals_kept_by_the_server_quote_no_personal_value(http: TestClient, store: Store) -> None:
    """The rep is told which value was wrong; the audit and the server's list of
    refusals (what a re-sent batch is told) say which field, never its value."""
    store.add_rep("north", "rep", hash_token("tok-north"), ["north"])
    hlc = clock.pack(clock.now_ms(), 0)
    private = {"phone": "555-ZHANG-PRIVATE", "email": "zhang.private@@example.com", "birthday": "1980/13/45",
               "company_size": "VIP-zhang-private", "customer_since": "2020-1-2", "created_at": "yesterday-zhang"}
    batch = [{"node": "nn", "node_seq": i, "hlc": hlc + i, "tbl": "customers", "row_id": f"c{i}", "op": "insert",
              "data": {"name": "张伟", "owner": "north", "territory": "north", field: value}}
             for i, (field, value) in enumerate(private.items(), 1)]
    first = http.post("/v1/push", headers=headers("tok-north"), json={"node": "nn", "changes": batch})
    assert first.status_code == 403
    told = {r["node_seq"]: r["reason"] for r in first.json()["refused"]}
    assert len(told) == len(private)
    # The rep is told what was wrong, value included, to fix it.
    assert "555-ZHANG-PRIVATE" in told[1] and "2020-1-2" in told[5]
    again = http.post("/v1/push", headers=headers("tok-north"), json={"node": "nn", "changes": batch})
    kept = {r["node_seq"]: r["reason"] for r in again.json()["refused"]}
    audit = [e for e in store.audit() if e.kind == "refused"]
    assert len(audit) == len(private)
    for i, (field, value) in enumerate(private.items(), 1):
        assert kept[i].startswith(f"{field}: ") and value not in kept[i]
    text = json.dumps([e.detail for e in audit]) + json.dumps(kept, ensure_ascii=False)
    for value in private.values():
        assert value not in text and value.lower() not in text.lower()
    assert "zhang" not in text.lower() and "张伟" not in text
    assert {json.loads(e.detail)["reason"] for e in audit} == set(kept.values())


def test_an_entering_customers_long_history_comes_in_pages_within_the_byte_bound(store: Store) -> None:
    north = RepInfo("north", "rep", "", territories=("north",))
    boss = RepInfo("boss", "manager", "")
    store.add_rep("north", "rep", hash_token("tok-north"), ["north"])
    hlc = clock.pack(clock.now_ms(), 0)
    seq = iter(range(1, 1000))

    def boss_change(row: str, op: str, data: dict) -> WireChange:
        n = next(seq)
        return WireChange(node="bn", node_seq=n, hlc=hlc + n, tbl="customers", row_id=row, op=op, data=data)

    store.push(north, "nn", [WireChange(node="nn", node_seq=1, hlc=hlc, tbl="customers", row_id="mine", op="insert",
                                        data={"name": "北", "owner": "north", "territory": "north"})])
    store.push(boss, "bn", [boss_change("big", "insert", {"name": "大客户", "owner": "boss", "territory": "south"}),
                            *[boss_change("big", "update", {"notes": f"{i} " + "call notes " * 80}) for i in range(30)]])
    history = {c[0] for c in store.pull(0, 100).changes if c[5] == "big"}
    assert len(history) == 31
    first = store.pull(0, 100, exclude_node="nn", rep=north, max_bytes=4000)
    cursor = first.cursor
    assert not any(c[5] == "big" for c in first.changes)
    # The boss moves it into north's territory: its 31 changes (about 30 KB) enter the view.
    store.push(boss, "bn", [boss_change("big", "update", {"territory": "north"})])
    got: list[int] = []
    pages = 0
    for _ in range(40):
        page = store.pull(cursor, 100, exclude_node="nn", rep=north, max_bytes=4000)
        if pages == 1:  # an answer lost: asked again from the same cursor, answered the same
            assert store.pull(cursor, 100, exclude_node="nn", rep=north, max_bytes=4000) == page
        assert sum(map(change_size, page.changes)) <= 4000
        got += [c[0] for c in page.changes]
        pages += 1
        cursor = page.cursor
        if cursor >= page.watermark:
            break
    assert pages >= 7
    # Each change once; the customer's insert first, so its records find it.
    assert len(got) == len(set(got)) == 32 and set(got) >= history
    assert got[0] == min(history)


def test_the_pull_byte_bound_counts_utf8_bytes_not_characters(store: Store) -> None:
    """A pull answer is UTF-8: a page of Chinese notes (three bytes a character) stays
    within the bound in bytes, where counting characters let it grow about threefold."""
    boss = RepInfo("boss", "manager", "")
    hlc = clock.pack(clock.now_ms(), 0)
    note = "客户要求下周上门演示新产品" * 8  # 104 characters, 312 bytes
    store.push(boss, "bn", [WireChange(node="bn", node_seq=n, hlc=hlc + n, tbl="customers", row_id=f"c{n}",
                                       op="insert", data={"name": f"客户{n}", "notes": note})
                            for n in range(1, 61)])
    cursor, pages, seen = 0, 0, 0
    for _ in range(60):
        page = store.pull(cursor, 100, exclude_node="other", rep=boss, max_bytes=4000)
        if len(page.changes) > 1:  # one change always goes, whatever its size
            assert sum(len(c[7].encode("utf-8")) for c in page.changes) <= 4000
        seen += len(page.changes)
        pages += 1
        cursor = page.cursor
        if cursor >= page.watermark:
            break
    assert seen == 60 and pages >= 6


def test_a_pull_with_a_cursor_past_the_log_is_answered_not_a_500(store: Store, http: TestClient) -> None:
    # A node that claimed cursor 2**63-1 in a pull had a customer entering its view
    # marked with that cursor; its next pull added 1 to it for the store's 64-bit
    # integers, and the server answered 500 to that node from then on.
    store.add_rep("zhou", "rep", hash_token("tok-zhou"), ("east",))
    end = 2**63 - 1
    r = http.post("/v1/pull", headers=headers("tok-zhou"), json={"node": "z1", "after": end, "limit": 10})
    assert r.status_code == 200, r.text
    entering = {**change(1), "data": {"name": "新客户", "territory": "east"}}
    assert http.post("/v1/push", headers=headers(), json={"node": "n1", "changes": [entering]}).status_code == 200
    for after in (end, 0, 0):
        r = http.post("/v1/pull", headers=headers("tok-zhou"), json={"node": "z1", "after": after, "limit": 10})
        assert r.status_code == 200, r.text
    assert [c["row_id"] for c in r.json()["changes"]] == ["r1"]


def test_an_outdated_conflict_is_closed_not_kept_over_a_later_edit(http: TestClient, tmp_path: Path) -> None:
    """A conflict whose field was written after its winner (kept open by a sync before
    a conflict and its settlement in one batch were handled in order) is closed when
    the user resolves it, and the later value stays: keeping `mine` wrote the old
    winner over the value that had settled it."""
    a = Crm(tmp_path / "a.db", rep="wang")
    cust = a.customers.create({"name": "张伟", "notes": "经理: 重点客户"})
    first = a.conn.execute("SELECT hlc, node FROM change_log WHERE row_id = ? ORDER BY hlc", (cust["id"],)).fetchone()
    a.customers.update(cust["id"], {"notes": "经理: 重点客户; 李: 下周再访"})
    with a.conn:
        a.conn.execute("INSERT INTO conflicts (tbl, row_id, field, winner_value, winner_hlc, winner_node, winner_rep, "
                       "loser_value, loser_hlc, loser_node, loser_rep) VALUES ('customers', ?, 'notes', ?, ?, ?, 'wang', "
                       "?, ?, 'other-node', 'li')",
                       (cust["id"], json.dumps("经理: 重点客户"), first[0], first[1], json.dumps("李: 下周再访"),
                        first[0] - 1))
    [stale] = Sync(a).conflicts()
    pending = Sync(a).status()["pending"]
    with pytest.raises(ValidationError, match="out of date"):
        Sync(a).resolve(stale["id"], "mine")
    assert a.customers.get(cust["id"])["notes"] == "经理: 重点客户; 李: 下周再访"
    assert Sync(a).conflicts() == [] and Sync(a).status()["pending"] == pending  # nothing written
    assert Sync(a).conflicts(include_resolved=True)[0]["resolution"] == "superseded"
