"""Made-up records never reach a team's server: `crm seed` marks its database, `crm
sync` refuses a marked one (as it refuses the demo), and `crm seed` refuses a
database that has synced. Before, a manager's laptop seeded by mistake sent its fake
customers, seven fake products and a target to every rep at the next sync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_server import Rep, Server
from typer.testing import CliRunner

from crm_tui.cli import app

runner = CliRunner()


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(f"sqlite:///{tmp_path / 'server.db'}")
    yield server
    server.stop()


def test_a_seeded_laptop_never_sends_its_made_up_records(sqlite_server: Server, tmp_path: Path) -> None:
    boss, wang = Rep(tmp_path, "boss"), Rep(tmp_path, "wang")
    boss.crm("login", "--server", sqlite_server.url, "--token", sqlite_server.add_rep("boss", "--role", "manager"))
    wang.crm("login", "--server", sqlite_server.url, "--token", sqlite_server.add_rep("wang", "--role", "manager"))
    seeded = runner.invoke(app, ["seed", "--customers", "3"], env=boss.env)
    assert seeded.exit_code == 0, seeded.output
    assert "now holds made-up records" in seeded.stderr
    refused = runner.invoke(app, ["sync"], env=boss.env)
    assert refused.exit_code == 1
    assert "holds made-up records from `crm seed`, so it never syncs" in refused.stderr
    report = wang.json("sync")
    assert report["pulled"] == 0, report
    assert wang.json("products", "list") == [] and wang.json("customers", "list") == []


def test_a_database_that_has_synced_is_not_seeded(sqlite_server: Server, tmp_path: Path) -> None:
    li = Rep(tmp_path, "li")
    li.crm("login", "--server", sqlite_server.url, "--token", sqlite_server.add_rep("li", "--role", "manager"))
    li.json("customers", "add", "--name", "真客户")
    li.crm("sync")
    refused = runner.invoke(app, ["seed", "--customers", "3"], env=li.env)
    assert refused.exit_code == 1
    assert "syncs with your team's server: made-up customers, products and targets would reach every rep" \
        in refused.stderr
    assert [c["name"] for c in li.json("customers", "list")] == ["真客户"]
    assert li.json("products", "list") == []
    assert li.json("sync")["pushed"] == 0  # and it still syncs
