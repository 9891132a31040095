"""The one write funnel: every create and update (form, CLI, import, seed, the
workflows, conflict resolution, sync) runs the same validation, references,
complaint workflow guard and derived columns; and an import is all or nothing even
when its process dies while writing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from laptops import sync
from typer.testing import CliRunner

from crm_tui.api import Crm, ValidationError
from crm_tui.api.sync import Sync
from crm_tui.cli import app
from crm_tui.domain.entities import CUSTOMER, derive

runner = CliRunner()


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def new_complaint(crm: Crm) -> dict:
    customer = crm.customers.create({"name": "刘洋"})
    return crm.complaint_workflow.open({"customer_id": customer["id"], "type": "delivery",
                                        "description": "晚到", "priority": "high"})


def test_an_import_cannot_close_a_new_complaint(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    complaint = new_complaint(crm)
    # an export of the complaint, re-imported with its status edited to closed
    csv = write(tmp_path / "close.csv", "id,customer_id,received_at,type,description,priority,status\n"
                f"{complaint['id']},{complaint['customer_id']},{complaint['received_at']},delivery,晚到,high,closed\n")
    result = runner.invoke(app, ["complaints", "import", "--db", str(db_path), str(csv)])
    assert result.exit_code == 1
    assert "line 2" in result.output and "status" in result.output and "workflow" in result.output
    after = crm.complaints.get(complaint["id"])
    assert (after["status"], after["closed_at"], after["resolution"]) == ("new", None, None)
    # --skip-invalid leaves it out too, with the reason in the rejects file
    result = runner.invoke(app, ["complaints", "import", "--db", str(db_path), str(csv), "--skip-invalid"])
    assert result.exit_code == 0 and crm.complaints.get(complaint["id"])["status"] == "new"
    assert "workflow" in (tmp_path / "close.rejects.csv").read_text(encoding="utf-8-sig")


def test_an_import_row_without_id_cannot_create_a_bare_closed_complaint(
        crm: Crm, db_path: Path, tmp_path: Path) -> None:
    cid = crm.customers.create({"name": "Grace"})["id"]
    header = "customer_id,received_at,type,description,priority,status"
    bare = write(tmp_path / "bare.csv", f"{header}\n{cid},2026-10-01 09:00,price,invoice differs,low,closed\n")
    result = runner.invoke(app, ["complaints", "import", "--db", str(db_path), str(bare)])
    assert result.exit_code == 1
    for named in ("line 2", "resolution", "root_cause", "resolved_at", "closed_at"):
        assert named in result.output
    assert crm.complaints.count() == 0
    # History from another system imports when it is complete
    full = write(tmp_path / "full.csv",
                 f"{header},resolution,root_cause,resolved_at,closed_at\n"
                 f"{cid},2026-10-01 09:00,price,invoice differs,low,closed,refunded,price list,"
                 "2026-10-02 10:00,2026-10-03 10:00\n")
    result = runner.invoke(app, ["complaints", "import", "--db", str(db_path), str(full)])
    assert result.exit_code == 0, result.output
    assert [c["status"] for c in crm.complaints.find()] == ["closed"]


def test_an_edit_cannot_take_away_what_a_closed_complaint_needs(crm: Crm) -> None:
    complaint = new_complaint(crm)
    crm.complaint_workflow.resolve(complaint["id"], "补发", "物流延误")
    with pytest.raises(ValidationError) as err:
        crm.complaints.update(complaint["id"], {"resolution": ""})
    assert [e.field for e in err.value.errors] == ["resolution"]


def test_a_conflict_on_a_workflow_field_is_settled_through_the_funnel(http_server: TestClient, tmp_path: Path) -> None:
    a, b = Crm(tmp_path / "a.db", rep="wang"), Crm(tmp_path / "b.db", rep="li")

    complaint = new_complaint(a)
    sync(a, http_server), sync(b, http_server)
    a.complaint_workflow.acknowledge(complaint["id"])  # new -> acknowledged
    b.complaint_workflow.start(complaint["id"])  # new -> in_progress, offline at the same time
    sync(a, http_server), sync(b, http_server), sync(a, http_server)
    status = a.complaints.get(complaint["id"])["status"]
    assert status == b.complaints.get(complaint["id"])["status"]
    # the replica whose own value lost keeps it: a workflow field, settled to "mine"
    loser = next(crm for crm in (a, b)
                 if [c["mine"] for c in Sync(crm).conflicts() if c["field"] == "status"] != [status])
    [conflict] = [c for c in Sync(loser).conflicts() if c["field"] == "status"]
    with pytest.raises(ValidationError) as err:  # a value neither side held is refused
        Sync(loser).resolve(conflict["id"], "closed")
    assert err.value.errors[0].field == "status"
    Sync(loser).resolve(conflict["id"], "mine")
    assert loser.complaints.get(complaint["id"])["status"] == conflict["mine"]
    sync(loser, http_server), sync(a if loser is b else b, http_server)
    assert a.complaints.get(complaint["id"]) == b.complaints.get(complaint["id"])


def test_every_write_path_keeps_the_derived_pinyin(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    created = crm.customers.create({"name": "张伟"})
    crm.customers.update(created["id"], {"name": "李娜"})
    csv = write(tmp_path / "c.csv", f"id,name\n{created['id']},王芳\n,赵敏\n")
    assert runner.invoke(app, ["customers", "import", "--db", str(db_path), str(csv)]).exit_code == 0
    crm.customers.bulk_update([], {"company": "恒通"})
    stored = crm.conn.execute("SELECT id, name, pinyin FROM customers ORDER BY name").fetchall()
    assert {r["name"] for r in stored} == {"王芳", "赵敏"}
    for row in stored:
        assert row["pinyin"] == derive(CUSTOMER, dict(row))["pinyin"] != ""
    assert [c["name"] for c in crm.customers.search("wf")] == ["王芳"]


CRASH = """
import os, sys
from crm_tui.api import Crm
from crm_tui.api.importing import import_records

def die_before_commit(phase, done, total):
    # the last row of the write phase is written, the transaction not yet committed
    if phase == "writing" and done == total:
        os._exit(9)

with Crm(sys.argv[1], rep="wang") as crm:
    import_records(crm, "customers", sys.argv[2], progress=die_before_commit, update_on_match=True)
"""


def test_an_import_killed_while_writing_leaves_nothing(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    old = crm.customers.create({"name": "张伟", "mobile": "13812345678"})
    before = (crm.customers.count(), len(crm.changes()))
    rows = [f"客户{i},1{(3800000000 + i * 7919) % 10**10:010d}" for i in range(2500)]
    # creates first in the file, then an update of an existing customer (by its mobile,
    # renamed: --update-on-match, as a row under another name is otherwise refused)
    csv = write(tmp_path / "big.csv", "name,mobile\n" + "\n".join(rows) + "\n张伟新,13812345678\n")
    done = subprocess.run([sys.executable, "-c", CRASH, str(db_path), str(csv)],
                          env={**os.environ}, capture_output=True, timeout=120)
    assert done.returncode == 9, done.stderr.decode()
    with Crm(db_path) as after:
        assert (after.customers.count(), len(after.changes())) == before
        assert after.customers.get(old["id"])["name"] == "张伟"
        assert after.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the same import, not killed, writes everything
    result = runner.invoke(app, ["customers", "import", "--db", str(db_path), str(csv), "--json",
                                 "--update-on-match"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 2500 and crm.customers.count() == 2501


READER = """
import sys
from crm_tui.api import Crm
with Crm(sys.argv[1]) as crm:
    print(crm.customers.count(), flush=True)
    sys.stdin.readline()
    print(crm.customers.count(), flush=True)
"""


@pytest.mark.parametrize("alone", [True, False], ids=["rollback-journal", "wal-another-reader"])
def test_a_real_crm_import_killed_with_sigkill_while_writing_leaves_nothing(db_path: Path, tmp_path: Path,
                                                                           alone: bool) -> None:
    """A real `crm customers import` process, killed with SIGKILL once its write
    phase has begun (validating writes nothing), leaves the database as it was: no
    customer, no change-log entry, no search entry of the file. An import written in
    two transactions would leave the first behind. Alone with the database, a big
    import writes through a rollback journal (db.connection.written_once): it is
    killed once the file has grown under a journal, and the next opening rolls the
    hot journal back and sets WAL again. With another program reading the database,
    it stays in WAL: it is killed once the WAL grows."""
    with Crm(db_path, rep="wang") as crm:
        crm.customers.create({"name": "张伟", "mobile": "13812345678"})
        crm.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def counts() -> tuple[int, int, int]:
        with Crm(db_path) as crm:
            assert crm.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert crm.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            return (crm.customers.count(), len(crm.changes()),
                    crm.conn.execute("SELECT count(*) FROM customer_search").fetchone()[0])

    reader = None
    if not alone:  # another program (a UI, say) has the database open, and has read it
        reader = subprocess.Popen([sys.executable, "-c", READER, str(db_path)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert reader.stdout is not None and reader.stdout.readline().strip() == "1"
    before = counts()
    n = 2500
    rows = [f"客户{i},1{(3800000000 + i * 7919) % 10**10:010d},公司{i},华东" for i in range(n)]
    csv = write(tmp_path / "big.csv", "name,mobile,company,region\n" + "\n".join(rows) + "\n")
    wal, journal = Path(f"{db_path}-wal"), Path(f"{db_path}-journal")
    argv = [sys.executable, "-m", "crm_tui", "customers", "import", str(csv), "--db", str(db_path), "--json"]

    def writing(start_size: int) -> bool:
        """Pages of the import's transaction are going to disk: into the WAL, or (with a
        journal beside it holding what they replace) into the database file itself."""
        if alone:
            return journal.exists() and db_path.stat().st_size > start_size + 200_000
        return wal.exists() and wal.stat().st_size > 200_000

    hot_journal = False
    for _attempt in range(3):  # a loaded machine may write the whole file between two looks
        start_size = db_path.stat().st_size
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if writing(start_size):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait(timeout=30)
        if proc.returncode == -signal.SIGKILL:
            hot_journal = journal.exists()
            break
        assert proc.returncode == 0
        # It finished before a look saw it write: all of it is there; start again.
        assert counts()[0] == before[0] + n
        with Crm(db_path) as crm:
            crm.conn.execute("DELETE FROM customers WHERE name LIKE '客户%'")
            crm.conn.execute("DELETE FROM change_log WHERE tbl = 'customers' AND row_id NOT IN "
                             "(SELECT id FROM customers)")
            crm.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = counts()
    assert proc.returncode == -signal.SIGKILL
    assert hot_journal == alone  # killed mid-write under the journal, or in WAL with none
    assert counts() == before  # nothing of the file, in any table; WAL again
    assert not journal.exists()
    # the same import, not killed, writes all of it
    done = subprocess.run(argv, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["created"] == n and counts()[0] == before[0] + n
    if reader is not None:  # and it reads what the import wrote, from the same connection
        out, _ = reader.communicate("again\n", timeout=60)
        assert out.strip() == str(before[0] + n)
