"""The purge after erases pulled by sync (issue 11): each erased customer is scrubbed in
the transaction of the page that brought the erase, and the freed bytes leave the file
once per sync, not once per page (each purge VACUUMs, rewriting the whole file). A real
server on 127.0.0.1; the rep's pull is cut into one-change pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from sync_server import Rep, Server

from crm_tui.api import Crm

pytestmark = pytest.mark.slow

NAMES = ("公孙止", "裘千尺", "樊一翁")
MOBILES = ("13611110001", "13611110002", "13611110003")


@pytest.fixture
def server(tmp_path: Path):
    srv = Server(f"sqlite:///{tmp_path / 'server.db'}")
    yield srv
    srv.stop()


def test_a_pull_that_erases_on_several_pages_purges_once(server: Server, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    boss, wang = Rep(tmp_path, "boss"), Rep(tmp_path, "wang")
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    ids = [boss.json("customers", "add", "--name", name, "--mobile", mobile, "--territory", "east")["id"]
           for name, mobile in zip(NAMES, MOBILES, strict=True)]
    boss.crm("sync")
    wang.crm("sync")
    for cid in ids:
        boss.crm("customers", "erase", cid, "--yes", "--reason", "PIPL")
    boss.crm("sync")

    monkeypatch.setenv("CRM_CONFIG", wang.env["CRM_CONFIG"])
    db = Path(wang.env["CRM_DB"])
    with Crm(db) as crm:
        statements: list[str] = []
        crm.conn.set_trace_callback(statements.append)
        report = crm.sync.run(pull_limit=1)
        crm.conn.set_trace_callback(None)
        assert [crm.customers.get(cid)["name"] for cid in ids] == ["[erased]"] * 3
    assert len(report.erased) == 3
    assert [s.strip().upper() for s in statements].count("VACUUM") == 1
    data = b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())
    assert [n for n in (*NAMES, *MOBILES) if n.encode() in data] == []
