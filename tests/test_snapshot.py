"""Snapshot bootstrap, on both stores: a replica pulling from 0 gets the changes that
still win something of the records in its view, not the whole history; it ends
holding what the others hold, later merges stay field-level right (the served
changes carry their own stamps), a cut bootstrap resumes, and later syncs pull the
log as before."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from laptops import sync

from crm_tui.api import Crm
from crm_tui.api.records import utc_now
from crm_tui.api.sync import Sync
from crm_tui.sync.client import SyncClient
from crm_tui.sync.server.admin import open_store
from crm_tui.sync.server.app import create_app, hash_token
from crm_tui.sync.server.store import Store


@pytest.fixture
def store(server_db: str):
    s = open_store(server_db)
    for name in ("wang", "li", "boss", "new"):
        s.add_rep(name, "manager", hash_token(f"tok-{name}"))
    yield s
    s.close()


@pytest.fixture
def http(store: Store) -> TestClient:
    return TestClient(create_app(store, rate=10_000))


def customers(crm: Crm) -> list[dict]:
    return sorted(crm.customers.find(), key=lambda r: r["id"])


def edit(crm: Crm, record_id: str, values: dict) -> None:
    """An edit in a later millisecond than the record's last one. Two edits within one
    millisecond write the same `updated_at`, which is then no change and leaves the
    first edit winning that field: the number of winning changes would depend on speed."""
    before = crm.customers.get(record_id)["updated_at"]
    deadline = time.monotonic() + 5
    while utc_now() <= before and time.monotonic() < deadline:
        time.sleep(0.001)
    assert crm.customers.update(record_id, values)["updated_at"] > before


def history(tmp_path: Path, http: TestClient) -> tuple[Crm, Crm, dict]:
    wang, li = Crm(tmp_path / "wang.db", rep="wang"), Crm(tmp_path / "li.db", rep="li")
    busy = wang.customers.create({"name": "张伟", "company": "华东贸易"})
    for i in range(8):
        edit(wang, busy["id"], {"notes": f"call {i}"})
    gone = wang.customers.create({"name": "李娜"})
    wang.customers.delete(gone["id"])
    other = wang.customers.create({"name": "王芳"})
    sync(wang, http)
    sync(li, http)
    edit(li, other["id"], {"title": "经理"})
    sync(li, http)
    sync(wang, http)
    return wang, li, {"busy": busy["id"], "gone": gone["id"], "other": other["id"]}


def test_a_new_replica_gets_the_current_state_not_the_history(store: Store, http: TestClient,
                                                               tmp_path: Path) -> None:
    wang, li, ids = history(tmp_path, http)
    log_length = store.count()
    new = Crm(tmp_path / "new.db", rep="new")
    report = sync(new, http)
    # busy: its insert and its last edit (7 edits in between lost every field);
    # gone: its insert and its delete; other: its insert and li's edit.
    assert report.pulled == 6 < log_length == 13
    assert customers(new) == customers(wang) == customers(li)
    assert new.customers.count() == 2
    assert [r[0] for r in new.conn.execute("SELECT op FROM change_log WHERE row_id = ?", (ids["gone"],))] == ["insert", "delete"]
    # Nothing to review: the snapshot's edits are based on what the laptop holds.
    assert new.conn.execute("SELECT count(*) FROM conflicts").fetchone()[0] == 0
    # Nothing left behind the cursor: the next sync has nothing to pull.
    assert sync(new, http).pulled == 0

    # Later merges are field-level right: concurrent edits of two fields both survive,
    # and a same-field edit is ordered by the stamps the snapshot carried.
    new.customers.update(ids["busy"], {"title": "总监"})
    wang.customers.update(ids["busy"], {"notes": "call 9"})
    sync(new, http)
    sync(wang, http)
    sync(new, http)
    assert customers(new) == customers(wang)
    assert new.customers.get(ids["busy"])["title"] == "总监"
    assert new.customers.get(ids["busy"])["notes"] == "call 9"
    # A later sync pulls the log as before, one change at a time.
    li.customers.update(ids["other"], {"notes": "a"})
    li.customers.update(ids["other"], {"notes": "b"})
    sync(li, http)
    assert sync(new, http).pulled == 2


def test_a_cut_bootstrap_resumes_and_converges(store: Store, http: TestClient, tmp_path: Path) -> None:
    wang, li, _ = history(tmp_path, http)
    new = Crm(tmp_path / "new.db", rep="new")
    first = sync(new, http, pull_limit=2, max_pages=1)
    assert first.pulled == 2 and 0 < first.cursor < store.watermark()
    # Meanwhile the server moves on: a record of the snapshot is edited again.
    li.customers.update(li.customers.find()[0]["id"], {"notes": "later"})
    sync(li, http)
    rest = sync(new, http, pull_limit=2)
    # The snapshot's six changes (one of them superseded meanwhile, if it was not
    # served yet) and li's edit from the log after it.
    assert first.pulled + rest.pulled == 7
    sync(wang, http)
    assert customers(new) == customers(li) == customers(wang)


def conflicts(crm: Crm) -> int:
    return crm.conn.execute("SELECT count(*) FROM conflicts").fetchone()[0]


def test_a_laptop_holding_others_changes_reads_the_history_from_0(http: TestClient, tmp_path: Path) -> None:
    """A laptop that lost its cursor (or whose server was restored) holds changes the
    snapshot would not serve: it reads the history, so an edit built on what it holds
    is not taken for a concurrent one."""
    wang, li = Crm(tmp_path / "wang.db", rep="wang"), Crm(tmp_path / "li.db", rep="li")
    busy = wang.customers.create({"name": "张伟"})
    edit(wang, busy["id"], {"notes": "first"})
    sync(wang, http)
    new = Crm(tmp_path / "new.db", rep="new")
    assert sync(new, http).pulled == 2
    new.conn.execute("UPDATE sync_state SET cursor = 0")
    sync(li, http)
    edit(li, busy["id"], {"notes": "second"})
    edit(li, busy["id"], {"notes": "third"})
    sync(li, http)
    report = sync(new, http)
    # The whole history: what it held comes again as duplicates, li's two edits are new.
    assert (report.pulled, report.pull_duplicates) == (2, 2)
    assert new.customers.get(busy["id"])["notes"] == "third" and conflicts(new) == 0


def test_an_edit_after_the_snapshot_of_a_deleted_record_is_no_conflict(http: TestClient, tmp_path: Path) -> None:
    """A deleted record is served with the winners of its fields: an edit pulled
    later is based on one of them, and the laptop sees it follows it."""
    wang, li = Crm(tmp_path / "wang.db", rep="wang"), Crm(tmp_path / "li.db", rep="li")
    gone = wang.customers.create({"name": "李娜"})
    edit(wang, gone["id"], {"notes": "first"})
    sync(wang, http)
    sync(li, http)
    wang.customers.delete(gone["id"])
    sync(wang, http)
    new = Crm(tmp_path / "new.db", rep="new")
    sync(new, http)
    edit(li, gone["id"], {"notes": "after the delete, not seen"})  # li had not pulled the delete
    sync(li, http)
    assert sync(new, http).pulled == 1
    assert new.customers.count() == 0 and conflicts(new) == 0


def test_the_next_page_is_asked_for_while_one_is_applied(store: Store, http: TestClient, tmp_path: Path) -> None:
    """A pull asks the server for the next page before the current one is committed
    (the server's work and the laptop's writes overlap), and still commits the pages
    in order: the laptop ends holding what the others hold."""
    from crm_tui.api.sync import Hooks

    _, li, _ = history(tmp_path, http)
    new = Crm(tmp_path / "new.db", rep="new")
    client = SyncClient("http://testserver", "tok-new", http=http)
    asked: list[int] = []
    pull = client.pull

    def recorded(node: str, after: int, limit: int, **options: bool) -> dict:
        asked.append(after)
        return pull(node, after, limit, **options)

    client.pull = recorded  # type: ignore[method-assign] - the real pull, recorded
    seen_ahead: list[bool] = []

    def first_page_committing() -> None:
        if not seen_ahead:  # the first page: is the second asked for meanwhile?
            deadline = time.monotonic() + 5
            while len(asked) < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            seen_ahead.append(len(asked) >= 2)

    report = Sync(new).run(client, pull_limit=2, hooks=Hooks(before_commit=first_page_committing))
    assert seen_ahead == [True]
    assert asked == sorted(asked) and len(asked) >= 3 and report.pulled == 6
    assert customers(new) == customers(li)


def test_a_pull_pauses_the_collector_and_enlarges_the_cache_only_while_it_runs(store: Store, http: TestClient,
                                                                                tmp_path: Path) -> None:
    """Speed measures of a pull, bounded to it: each page is applied with Python's
    cyclic collector paused, and the pull runs with a larger SQLite page cache; both
    are as before once the pull ends, also when it stopped on an error."""
    import gc

    from crm_tui.api.sync import PULL_CACHE_KIB, Crash, Hooks

    _, li, _ = history(tmp_path, http)
    seen: list[tuple[bool, int]] = []
    new = Crm(tmp_path / "new.db", rep="new")
    usual = new.conn.execute("PRAGMA cache_size").fetchone()[0]

    def committing() -> None:
        seen.append((gc.isenabled(), new.conn.execute("PRAGMA cache_size").fetchone()[0]))

    assert gc.isenabled()
    report = Sync(new).run(SyncClient("http://testserver", "tok-new", http=http), pull_limit=2,
                           hooks=Hooks(before_commit=committing))
    assert report.pulled == 6 and len(seen) >= 3 and set(seen) == {(False, -PULL_CACHE_KIB)}
    assert gc.isenabled() and new.conn.execute("PRAGMA cache_size").fetchone()[0] == usual != -PULL_CACHE_KIB
    assert customers(new) == customers(li)

    def crash() -> None:
        raise Crash()

    other = Crm(tmp_path / "other.db", rep="new")
    with pytest.raises(Crash):
        Sync(other).run(SyncClient("http://testserver", "tok-new", http=http), pull_limit=2,
                        hooks=Hooks(before_commit=crash))
    assert gc.isenabled() and other.conn.execute("PRAGMA cache_size").fetchone()[0] == usual
