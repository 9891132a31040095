"""What a record holds is shown as it is by the CLI, never read as rich markup: a
customer whose notes were '[/]' (typed, imported, or pulled from a colleague) made
`crm customers show` and `list` end in a traceback, and '[link=…]点我[/link]' became
a link to somewhere else."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

runner = CliRunner()
NAME = "[bold red]王[/bold red] [link=http://evil.example]点我[/link]"


def run(db: Path, *args: str, code: int = 0):
    result = runner.invoke(app, ["--db", str(db), *args])
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    return result


def test_names_and_notes_are_shown_as_typed(crm: Crm) -> None:
    customer = crm.customers.create({"name": NAME, "notes": "[/] 客户说：[急]"})
    shown = run(crm.path, "customers", "show", customer["id"]).stdout
    assert "[/] 客户说：[急]" in shown and "[link=http://evil.example]点我[/link]" in shown
    listed = run(crm.path, "customers", "list", "--where", "notes~[/]").stdout
    assert "[bold" in listed  # the name's first characters, as typed, not a style


def test_an_import_reject_quoting_markup_is_reported_as_it_is(crm: Crm, tmp_path: Path) -> None:
    source = tmp_path / "客户.csv"
    source.write_text("姓名,生日\n[/],[/]\n", encoding="utf-8")
    result = run(crm.path, "customers", "import", str(source), code=1)
    assert "birthday: '[/]' is not a date" in result.stderr
    assert json.loads(run(crm.path, "customers", "list", "--json").stdout) == []
