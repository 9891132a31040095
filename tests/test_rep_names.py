"""A rep's name can be the owner of their records and travel in every change they
push: `crm server add-rep` refuses one that could not (a 150-character name was
added, and that rep's every sync failed with "changes.0.rep: must have at most 100
characters"; a line break or a tab was added as well)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from crm_tui.cli import app

runner = CliRunner()


@pytest.mark.parametrize("name", ["y" * 101, "王\n芳", "a\tb", "x\x00"])
def test_a_name_no_record_could_be_owned_by_is_refused(server_db: str, name: str) -> None:
    result = runner.invoke(app, ["server", "add-rep", name, "--db", server_db])
    assert result.exit_code == 1, result.output
    assert "cannot be a rep's name" in result.stderr
    listed = runner.invoke(app, ["server", "list-reps", "--db", server_db, "--json"])
    assert listed.exit_code == 0 and listed.stdout.strip() == "[]"


def test_a_hundred_characters_and_any_script_are_a_name(server_db: str) -> None:
    for name in ("y" * 100, "王芳", "li-2 (华东)"):
        result = runner.invoke(app, ["server", "add-rep", name, "--db", server_db])
        assert result.exit_code == 0, result.output
