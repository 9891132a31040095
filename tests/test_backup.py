"""Laptop backups through the CLI, with a real `crm server serve` on 127.0.0.1 on both
stores: `crm backup` while the database is in use, `crm restore` of an older backup
after which the next syncs bring back everything synced since, push what only the
backup held, and store nothing twice; a file that is not a crm_tui backup is refused
with the reason and nothing changes."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
from sync_server import Rep, Server, runner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.db.connection import DatabaseError, is_encrypted
from crm_tui.sync.server.admin import open_store

pytestmark = pytest.mark.slow



def names(rep: Rep) -> list[str]:
    with Crm(rep.env["CRM_DB"], create=False) as crm:
        return sorted(c["name"] for c in crm.customers.find())


def held(rep: Rep) -> set[tuple[str, int]]:
    with Crm(rep.env["CRM_DB"], create=False) as crm:
        rows = crm.conn.execute("SELECT node, node_seq FROM change_log").fetchall()
        assert len(rows) == len({tuple(r) for r in rows})
        return {tuple(r) for r in rows}


def served(server_db: str) -> list[tuple[str, int]]:
    store = open_store(server_db)
    try:
        return [(c[1], c[2]) for c in store.pull(0, 10**6).changes]
    finally:
        store.close()


def login(server: Server, tmp_path: Path, *names_: str) -> list[Rep]:
    reps = [Rep(tmp_path, n) for n in names_]
    for rep, name in zip(reps, names_, strict=True):
        rep.crm("login", "--server", server.url, "--token", server.add_rep(name, "--territory", "east"))
    return reps


def test_restore_of_an_older_backup_then_sync_loses_nothing_synced(server: Server, server_db: str,
                                                                  tmp_path: Path) -> None:
    wang, li = login(server, tmp_path, "wang", "li")
    early = wang.json("customers", "add", "--name", "早", "--territory", "east")["id"]
    wang.crm("sync")
    wang.crm("customers", "add", "--name", "待", "--territory", "east")  # not synced when backed up
    backup = tmp_path / "wang-monday.db"
    done = json.loads(wang.crm("backup", "-o", str(backup), "--json"))
    assert done["customers"] == 2 and stat.S_IMODE(backup.stat().st_mode) == 0o600

    # After the backup the laptop goes on, syncs, and is lost.
    wang.crm("sync")
    wang.crm("customers", "edit", early, "--notes", "after the backup")
    wang.crm("customers", "add", "--name", "晚", "--territory", "east")
    wang.crm("sync")
    li.crm("sync")
    li.crm("customers", "edit", early, "--title", "经理")
    li.crm("sync")

    out = wang.crm("restore", str(backup), "--yes")
    assert "before-restore" in out
    assert names(wang) == ["待", "早"]
    wang.crm("customers", "add", "--name", "新", "--territory", "east")
    first = wang.json("sync")
    assert first["pushed"] == 1  # the new one; what the backup held was on the server already
    li.crm("sync")
    wang.crm("sync")

    assert names(wang) == names(li) == ["待", "新", "早", "晚"]
    for rep in (wang, li):
        record = rep.json("customers", "show", early)
        assert (record["notes"], record["title"]) == ("after the backup", "经理")
        assert rep.json("sync", "--status")["pending"] == 0
    # Every change once on the server, and both laptops hold exactly the server's.
    log = served(server_db)
    assert len(log) == len(set(log)) and held(wang) == held(li) == set(log)


def test_restore_pushes_what_only_the_backup_held(server: Server, server_db: str, tmp_path: Path) -> None:
    wang, li = login(server, tmp_path, "wang", "li")
    wang.crm("customers", "add", "--name", "早", "--territory", "east")
    wang.crm("sync")
    wang.crm("customers", "add", "--name", "待", "--territory", "east")
    backup = tmp_path / "wang.db.backup"
    wang.crm("backup", "-o", str(backup))
    # The laptop dies before it syncs again: a new one gets the backup.
    Path(wang.env["CRM_DB"]).unlink()
    for side in ("-wal", "-shm"):
        Path(wang.env["CRM_DB"] + side).unlink(missing_ok=True)
    out = wang.crm("restore", str(backup), "--yes")
    assert "before-restore" not in out
    assert wang.json("sync")["pushed"] == 1
    li.crm("sync")
    assert names(li) == names(wang) == ["待", "早"]
    wang.crm("customers", "add", "--name", "新", "--territory", "east")
    wang.crm("sync")
    li.crm("sync")
    log = served(server_db)
    assert len(log) == 3 and held(wang) == held(li) == set(log)


def test_backup_while_the_database_is_being_written(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    ui = Crm(db)  # as the open UI holds it
    ui.customers.create({"name": "已保存"})
    ui.conn.execute("BEGIN IMMEDIATE")  # a write under way, holding the write lock
    ui.customers.create({"name": "未提交"})
    try:
        result = runner.invoke(app, ["backup", "--json"], env={"CRM_DB": str(db)})
        assert result.exit_code == 0, result.output
    finally:
        ui.conn.execute("COMMIT")
    out = Path(json.loads(result.stdout)["file"])
    assert out.parent == tmp_path / "backups" and out.name.startswith("crm-")
    with Crm(out, create=False) as copy:
        assert [c["name"] for c in copy.customers.find()] == ["已保存"]
    assert sorted(c["name"] for c in ui.customers.find()) == ["已保存", "未提交"]
    ui.close()


def test_restore_refuses_what_is_not_a_crm_backup(tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with Crm(db) as crm:
        crm.customers.create({"name": "张伟"})
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 200)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    server_store = tmp_path / "server.db"
    open_store(f"sqlite:///{server_store}").close()
    for bogus in (text, other, server_store, tmp_path / "missing.db"):
        result = runner.invoke(app, ["restore", str(bogus), "--yes"], env={"CRM_DB": str(db)})
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert str(bogus.name) in result.output
        assert "not a crm_tui backup" in result.output or "no such file" in result.output
    with Crm(db, create=False) as crm:
        assert [c["name"] for c in crm.customers.find()] == ["张伟"]
    assert not list(tmp_path.glob("*before-restore*"))


def test_backup_of_an_encrypted_database_is_encrypted_and_restores_with_its_key(tmp_path: Path) -> None:
    db, key = tmp_path / "crm.db", "correct horse battery"
    name, phone = "保密客户甲", "13912345678"
    with Crm(db, key=key, encrypt=True) as crm:
        crm.customers.create({"name": name, "phone": phone})
    env = {"CRM_DB": str(db), "CRM_DB_KEY": key}
    backup = tmp_path / "enc.backup"
    result = runner.invoke(app, ["backup", "-o", str(backup), "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["customers"] == 1
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    raw = backup.read_bytes()
    assert not raw.startswith(b"SQLite format 3")
    for secret in (name, phone):  # neither as UTF-8 nor as UTF-16 text
        assert secret.encode() not in raw and secret.encode("utf-16-le") not in raw
    with pytest.raises(DatabaseError):
        Crm(backup, key="another key", create=False)

    # The database goes on, then the backup is put back in its place.
    with Crm(db, key=key, create=False) as crm:
        crm.customers.create({"name": "备份之后"})
    before = db.read_bytes()
    for wrong, reason in (("another key", "wrong key"), (None, "CRM_DB_KEY")):
        result = runner.invoke(app, ["restore", str(backup), "--yes"], env={**env, "CRM_DB_KEY": wrong})
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert reason in result.output, result.output
    assert db.read_bytes() == before and not list(tmp_path.glob("*before-restore*"))

    result = runner.invoke(app, ["restore", str(backup), "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert is_encrypted(db) and stat.S_IMODE(db.stat().st_mode) == 0o600
    with Crm(db, key=key, create=False) as crm:
        assert [(c["name"], c["phone"]) for c in crm.customers.find()] == [(name, "+86" + phone)]
    with pytest.raises(DatabaseError):
        Crm(db, key="another key", create=False)
    kept = next(tmp_path.glob("crm-before-restore-*.db"))
    assert is_encrypted(kept)
    with Crm(kept, key=key, create=False) as crm:
        assert sorted(c["name"] for c in crm.customers.find()) == sorted([name, "备份之后"])
