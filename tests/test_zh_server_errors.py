"""The sync server's refusals reach an administrator with CRM_LANG=zh in Chinese
(issue 14, item 2): a backup of a file that is no store, a restore of a missing or
foreign file, TLS with one file of two, several workers on SQLite, a store URL of an
unknown kind; each through the real `crm server` command, and each still naming the
file, option or URL it is about (and in English under CRM_LANG=en)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_zh_everywhere import CJK, english_fragments_in, without, zh_cli
from typer.testing import CliRunner

from crm_tui.cli import app as cli


def refusals(tmp: Path) -> list[tuple[list[str], str]]:
    """(command, what the message must name) for each refusal an administrator can meet."""
    foreign = tmp / "notes.txt"
    foreign.write_text("not a backup\n", encoding="utf-8")
    store = f"sqlite:///{tmp / 'server.db'}"
    return [
        (["server", "backup", "-o", str(tmp / "out.backup"), "--db", f"sqlite:///{tmp / 'missing.db'}"],
         str(tmp / "missing.db")),
        (["server", "restore", str(tmp / "nowhere.backup"), "--db", store], str(tmp / "nowhere.backup")),
        (["server", "restore", str(foreign), "--db", store], str(foreign)),
        (["server", "serve", "--ssl-keyfile", str(tmp / "key.pem"), "--db", store], "--ssl-certfile"),
        (["server", "serve", "--workers", "2", "--db", store], "--workers 2"),
        (["server", "list-reps", "--db", "mysql://crm@127.0.0.1/crm"], "mysql://crm@127.0.0.1/crm"),
        # port 1 on loopback: nothing listens, the refusal is immediate
        (["server", "list-reps", "--db", "postgresql://crm@127.0.0.1:1/crm"], "postgresql://crm@127.0.0.1:1/crm"),
    ]


# What a message may show that is no English text: the paths, URLs and commands in it.
OWN = ["crm_tui", "postgresql://crm@127.0.0.1:1/crm", "SQLite", "PostgreSQL", "pg_dump", "TLS", "sqlite:///", "postgresql://", "--ssl-keyfile",
       "--ssl-certfile", "--workers", "--db", "mysql", "crm@127.0.0.1"]


def test_server_refusals_are_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    for args, named in refusals(tmp_path):
        result = zh_cli(tmp_path / "crm.db", *args, monkeypatch=monkeypatch)
        assert result.exit_code == 1, (args, result.output)
        error = [line for line in result.output.splitlines() if line.startswith("错误")]
        assert error and CJK.search(error[0].removeprefix("错误")), (args, result.output)
        assert named in error[0], (args, result.output)
        assert english_fragments_in(without(error[0], [str(tmp_path), *OWN, *args])) == [], (args, result.output)


def test_server_refusals_in_english_name_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("CRM_LANG", "en")
    expected = ["is not a crm_tui server store", "no backup file", "is not a backup of a crm_tui server store (SQLite)",
                "TLS needs both --ssl-keyfile and --ssl-certfile", "the SQLite store has one writer",
                "unknown store URL 'mysql://crm@127.0.0.1/crm'", "is PostgreSQL running on that host and port?"]
    for (args, named), text in zip(refusals(tmp_path), expected, strict=True):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert named in result.output and text in result.output, (args, result.output)
        assert not CJK.search(result.output)


@pytest.mark.skipif(not os.environ.get("CRM_TEST_PG_URL"), reason="needs CRM_TEST_PG_URL (a PostgreSQL server)")
def test_a_database_that_is_not_there_is_named_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq's reason (a database or user the server does not have) is the catalog's,
    given at once rather than after the pool's retries."""
    url = os.environ["CRM_TEST_PG_URL"].split("?")[0].rsplit("/", 1)[0] + "/no_such_crm_db"
    result = zh_cli(tmp_path / "crm.db", "server", "list-reps", "--db", url, monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert "没有数据库 no_such_crm_db" in result.output, result.output
