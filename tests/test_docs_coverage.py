"""Docs that cannot drift (as sqlite-utils tests its own): every `crm` command is
named in docs/cli.md, and its --help ends with an example of its use, in English and Chinese."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.testing
from typer.testing import CliRunner

from crm_tui.cli import app

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
runner = CliRunner()


def commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command a user can run, as 'customers add'; a group that runs by itself
    (`crm classify`) is one too. (typer runs on its own copy of click: groups are
    recognised by their commands, not by click's class.)"""
    if hasattr(command, "commands"):
        if path and command.invoke_without_command:
            yield " ".join(path)
        for name, sub in command.commands.items():
            if not sub.hidden:
                yield from commands(sub, (*path, name))
    elif not command.hidden:
        yield " ".join(path)


ALL = sorted(commands(typer.main.get_command(app)))


def test_the_walk_finds_the_commands() -> None:
    assert {"customers add", "report", "classify", "classify override", "server serve"} <= set(ALL)


def test_every_command_is_named_in_docs_cli_md() -> None:
    text = DOCS.read_text(encoding="utf-8")
    # in a table (`crm customers add`) or at the start of a line of an example block
    missing = [c for c in ALL if not re.search(rf"(^|`)crm {re.escape(c)}(`|\s|$)", text, re.MULTILINE)]
    assert missing == [], f"docs/cli.md does not name: {', '.join(missing)}"


TREE = typer.main.get_command(app)  # built once: typer takes 0.2 s a build, every command line localizes it anew


@pytest.mark.parametrize("command", ALL)
def test_every_command_help_has_an_example(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In English and in Chinese (示例：), with the same command line."""
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: TREE)
    for lang, heading in (("en", "Examples?: "), ("zh", "示例：")):
        monkeypatch.setenv("CRM_LANG", lang)
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, result.output
        text = " ".join(result.stdout.split())
        assert re.search(rf"{heading}.*\bcrm {re.escape(command)}\b", text), \
            f"`CRM_LANG={lang} crm {command} --help` has no '{heading}crm {command} ...'"


def test_every_command_but_login_takes_db_as_the_docs_say() -> None:
    # README said every command takes --db; crm login does not (it writes the config
    # file only). The walk finds the commands without it; the docs name exactly those.
    def without_db(command: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from without_db(sub, (*path, name))
        elif not any("--db" in getattr(p, "opts", ()) for p in command.params):
            yield " ".join(path)

    assert sorted(without_db(typer.main.get_command(app))) == ["login"]
    for doc in (DOCS.parent.parent / "README.md", DOCS):
        said = " ".join(doc.read_text(encoding="utf-8").split())
        assert "Every command takes `--db PATH`" in said and "but `crm login`, which writes only your config" in said
