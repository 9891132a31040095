"""A number option out of what the command can use is a usage error naming it, not a
traceback: `--limit 99999999999999999999` (SQLite's integers are 64-bit), `crm
server serve --port 99999`, `--rate nan` or `inf`; and a server is not started with
a rate of 0 or a negative clock offset, at which no rep could sync."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

runner = CliRunner()


def no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@pytest.mark.parametrize("args", [["customers", "list", "--limit", "99999999999999999999"],
                                  ["changes", "list", "--since", "99999999999999999999"],
                                  ["quotes", "list", "--limit", "99999999999999999999"]])
def test_a_limit_beyond_what_sqlite_counts_is_a_usage_error(crm: Crm, args: list[str]) -> None:
    result = runner.invoke(app, ["--db", str(crm.path), *args])
    assert result.exit_code == 2, result.output
    no_traceback(result)


@pytest.mark.parametrize("option, value, code", [("--port", "99999", 2), ("--rate", "0", 2), ("--rate", "-1", 2),
                                                 ("--rate", "inf", 2), ("--rate", "nan", 1),
                                                 ("--max-clock-offset", "-5", 2), ("--max-clock-offset", "nan", 1)])
def test_a_server_is_not_started_on_numbers_it_cannot_use(tmp_path: Path, option: str, value: str, code: int) -> None:
    result = runner.invoke(app, ["server", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}", option, value])
    assert result.exit_code == code, result.output
    no_traceback(result)
    if code == 1:
        assert f"{option}: nan is not a number" in result.stderr
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize("args, said", [(["sync", "rejected", "discard"], "no rejected change with id"),
                                        (["sync", "rejected", "retry"], "no rejected change with id"),
                                        (["conflicts", "resolve", "--keep", "mine"], "no conflict with id")])
def test_an_id_beyond_what_sqlite_counts_is_no_record(crm: Crm, args: list[str], said: str) -> None:
    result = runner.invoke(app, ["--db", str(crm.path), *args, "99999999999999999999"])
    assert result.exit_code == 1, result.output
    no_traceback(result)
    assert f"{said} 99999999999999999999" in result.stderr
