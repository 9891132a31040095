"""Server backups on both stores: `crm server backup` while the server runs, and
`crm server restore` from an older backup. Three laptops made edits after the
backup; after the restore their next syncs see a new epoch in `hello` (the server's
timeline), send again what the server lacks and read it anew, so every laptop and the
server end with every edit, once. A file that is not a backup is refused."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from laptops import sync
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.api.sync import Sync
from crm_tui.cli import app
from crm_tui.sync.client import SyncClient
from crm_tui.sync.server.admin import open_store
from crm_tui.sync.server.app import create_app, hash_token

runner = CliRunner()


def customers(crm: Crm) -> list[dict]:
    return sorted(crm.customers.find(), key=lambda r: r["id"])


def own_changes(crm: Crm) -> set[tuple[str, int]]:
    return {tuple(r) for r in crm.conn.execute(
        "SELECT node, node_seq FROM change_log WHERE node = (SELECT node FROM replica)")}


def test_restore_from_an_older_backup_loses_no_laptop_edit(server_db: str, tmp_path: Path) -> None:
    store = open_store(server_db)
    for name in ("a", "b", "c"):
        store.add_rep(name, "manager", hash_token(f"tok-{name}"))
    http = TestClient(create_app(store, rate=10_000))
    laptops = [Crm(tmp_path / f"{name}.db", rep=name) for name in ("a", "b", "c")]

    def sync_all(http: TestClient) -> None:
        for crm in laptops:
            sync(crm, http)

    shared = laptops[0].customers.create({"name": "张伟", "notes": "before"})
    for i, crm in enumerate(laptops):
        crm.customers.create({"name": f"早{i}"})
    sync_all(http)
    sync_all(http)

    backup = tmp_path / "server.backup"
    result = runner.invoke(app, ["server", "backup", "-o", str(backup), "--db", server_db, "--json"])
    assert result.exit_code == 0, result.output
    # Every customer and the reps' token hashes are in it: its owner alone reads it.
    assert backup.stat().st_mode & 0o777 == 0o600
    held_at_backup = store.count()

    # After the backup: each laptop edits, and the server takes it all.
    for i, crm in enumerate(laptops):
        crm.customers.create({"name": f"晚{i}"})
    laptops[1].customers.update(shared["id"], {"notes": "after, by b"})
    laptops[2].customers.update(shared["id"], {"title": "经理"})
    sync_all(http)
    assert store.count() > held_at_backup
    old_id, old_epoch = store.server_id, store.epoch
    store.close()

    result = runner.invoke(app, ["server", "restore", str(backup), "--db", server_db, "--json"])
    assert result.exit_code == 0, result.output
    restored = open_store(server_db)
    # The same server on a new timeline.
    assert restored.count() == held_at_backup and restored.server_id == old_id and restored.epoch != old_epoch
    http = TestClient(create_app(restored, rate=10_000))
    hello = SyncClient("http://testserver", "tok-a", http=http).hello()
    assert (hello.server_id, hello.epoch) == (old_id, restored.epoch)
    reports = [sync(crm, http) for crm in laptops]
    assert all(r.new_epoch for r in reports)
    # Each laptop sent its changes again: those the backup held came back as duplicates.
    assert all(r.push_duplicates > 0 for r in reports)
    sync_all(http)
    assert not any(sync(crm, http).new_epoch for crm in laptops)

    everything = set().union(*(own_changes(crm) for crm in laptops))
    assert restored.count() == len(everything)  # each edit once, none missing
    assert {(c[1], c[2]) for c in restored.pull(0, 10**6).changes} == everything
    first = customers(laptops[0])
    assert len(first) == 7 and all(customers(crm) == first for crm in laptops)
    assert {c["name"] for c in first} >= {"晚0", "晚1", "晚2"}
    assert laptops[0].customers.get(shared["id"])["notes"] == "after, by b"
    assert laptops[0].customers.get(shared["id"])["title"] == "经理"
    for crm in laptops:
        count, distinct = crm.conn.execute(
            "SELECT count(*), count(DISTINCT node || ':' || node_seq) FROM change_log").fetchone()
        assert count == distinct and Sync(crm).status()["pending"] == 0
    restored.close()


def test_restore_refuses_a_file_that_is_not_a_backup(server_db: str, tmp_path: Path) -> None:
    open_store(server_db).close()
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a backup\n" * 100)
    result = runner.invoke(app, ["server", "restore", str(bogus), "--db", server_db])
    assert result.exit_code == 1 and "not a backup" in result.output and "Traceback" not in result.output
    laptop = tmp_path / "laptop.db"
    Crm(laptop).close()
    result = runner.invoke(app, ["server", "restore", str(laptop), "--db", server_db])
    assert result.exit_code == 1 and "not a backup" in result.output


def test_a_backup_never_replaces_the_store_and_a_bad_path_is_an_error(server_db: str, tmp_path: Path) -> None:
    # `-o` naming the SQLite store itself put the copy in its place (a running server
    # went on writing the file set aside); a folder, or a folder that does not
    # exist, ended in a traceback.
    open_store(server_db).close()
    outputs = [tmp_path, tmp_path / "nowhere" / "server.backup"]
    if server_db.startswith("sqlite:///"):
        store = Path(server_db[len("sqlite:///"):])
        before = store.stat().st_ino
        outputs.append(store)
    expected = ["is a folder; name a file", "cannot write", "is the database itself; name another file"]
    for output, said in zip(outputs, expected, strict=False):
        result = runner.invoke(app, ["server", "backup", "-o", str(output), "--db", server_db])
        assert result.exit_code == 1, result.output
        assert said in result.output and str(output) in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    if server_db.startswith("sqlite:///"):
        assert store.stat().st_ino == before
    assert not (tmp_path / "nowhere").exists()
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
