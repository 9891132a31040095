"""Steps the CLI tests take through typer's CliRunner, in one place: run a command on a
book, read its --json, and check a refusal as a user sees it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from crm_tui.cli import app

runner = CliRunner()


def invoke(db: Path, *args: str, input: str | None = None) -> Result:
    """`crm --db DB ARGS…`, whatever it answers."""
    return runner.invoke(app, ["--db", str(db), *args], input=input)


def run(db: Path, *args: str, ok: bool = True, input: str | None = None) -> Result:
    """`crm --db DB ARGS…`; with `ok`, it must exit 0."""
    result = invoke(db, *args, input=input)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def run_json(db: Path, *args: str) -> Any:
    return json.loads(run(db, *args, "--json").stdout)


def refused(result: Result, *words: str) -> None:
    """Exit 1 with a message on stderr holding `words`, and no traceback."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr, result.stderr
