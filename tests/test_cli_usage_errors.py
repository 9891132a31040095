"""A Chinese-speaking rep mistypes a command (issue 14, item 2): typer's and click's
own messages (an unknown option or command, a bad or missing value, extra words, a
file that is not there) and their frame ("Usage:", "Try ... for help", the panel
titles) come from the catalog in Chinese, with the exit code 2 of a usage error; the
English messages still name the option and the value."""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import Annotated

import pytest
import typer
from test_zh_everywhere import CJK, english_fragments_in, without, zh_cli
from typer.testing import CliRunner

from crm_tui import i18n
from crm_tui.api import Crm
from crm_tui.cli import app as cli
from crm_tui.cli.common import CrmGroup

# The English texts of click and typer, none of which may show under zh.
CLICK_ENGLISH = ["Usage", "Try ", "for help", "Error", "No such", "Did you mean", "Invalid value", "Missing",
                 "is not", "Got unexpected", "requires", "does not", "Possible options", "OPTIONS", "COMMAND",
                 "Choose from", "Could not open", "directory"]

# (arguments, exit code, what the English message must name)
MISTAKES = [
    (["customers", "lst"], 2, ["lst", "list", "No such command"]),
    # a command word that is an option of the group: named as that option
    (["sync", "status"], 2, ["No such command 'status'", "Did you mean root sync --status?"]),
    (["customers", "import"], 2, ["Missing argument", "file"]),
    (["customers", "list", "--limit", "abc"], 2, ["Invalid value", "--limit", "abc"]),
    (["customers", "list", "--limit", "-5"], 2, ["--limit", "-5", "range"]),
    (["customers", "list", "--bogus"], 2, ["No such option", "--bogus"]),
    (["customers", "list", "--since", "2026-01-01"], 2, ["--since", "--tier"]),
    (["--bogus"], 2, ["No such option", "--bogus"]),
    (["customers", "list", "extra", "words"], 2, ["unexpected extra", "extra words"]),
    (["customers", "list", "--tier"], 2, ["--tier", "requires an argument"]),
    (["targets", "set", "--team", "--amount", "1000"], 2, ["Missing option", "--period"]),
    (["server", "serve", "--workers", "0"], 2, ["--workers", "0"]),
    (["customers", "list", "--tier", "Z"], 1, ["tier", "Z"]),
    (["report", "--period", "2026-11", "--format", "pdf"], 1, ["--format", "pdf"]),
    (["customers", "import", "nowhere/customers.csv"], 1, ["nowhere/customers.csv", "No such file or directory"]),
]


@pytest.fixture
def book(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    Crm(db_path, rep="wang", create=True).close()
    monkeypatch.setenv("COLUMNS", "200")  # one line per message: a wrapped panel would hide a fragment
    return db_path


def chinese_error(output: str, *data: str) -> list[str]:
    """The English left in a Chinese error: catalog fragments and click's own words."""
    rest = without(output, ["crm", "root", *data])
    return english_fragments_in(rest) + [w for w in CLICK_ENGLISH if w in rest]


@pytest.mark.parametrize(("args", "code", "named"), MISTAKES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_mistyped_command_is_explained_in_chinese(book: Path, monkeypatch: pytest.MonkeyPatch, args: list[str],
                                                     code: int, named: list[str]) -> None:
    result = zh_cli(book, *args, monkeypatch=monkeypatch)
    assert result.exit_code == code, result.output
    assert CJK.search(result.output), result.output
    assert chinese_error(result.output, *args) == [], result.output
    if code == 2:  # the frame of a usage error (its "Usage:" line and "Try ..." when click knows the command)
        assert "─ 错误 ─" in result.output


@pytest.mark.parametrize(("args", "code", "named"), MISTAKES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_the_same_mistake_in_english_names_option_and_value(book: Path, monkeypatch: pytest.MonkeyPatch,
                                                           args: list[str], code: int, named: list[str]) -> None:
    monkeypatch.setenv("CRM_LANG", "en")
    result = CliRunner().invoke(cli, ["--db", str(book), *args])
    assert result.exit_code == code, result.output
    assert not CJK.search(result.output), result.output
    assert [n for n in named if n not in result.output] == [], result.output
    if code == 2:
        assert "─ Error ─" in result.output


def test_a_close_command_is_suggested_in_chinese(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = zh_cli(book, "customers", "lst", monkeypatch=monkeypatch)
    assert "没有这个命令：'lst'。你是不是想输入 'list'？" in result.output
    assert "用法：root customers [选项] 命令 [参数]...\n运行 'root customers --help' 查看帮助。" in result.output


def test_the_help_screen_frame_is_chinese(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The panel titles and tags of a help screen (the help texts themselves are the
    commands' own, in the catalog of their own)."""
    result = zh_cli(book, "customers", "import", "--help", monkeypatch=monkeypatch)
    assert result.exit_code == 0
    out = result.output
    assert "用法：root customers import [选项]" in out and "─ 参数 ─" in out and "─ 选项 ─" in out and "[必填]" in out
    assert "─ 命令 ─" in zh_cli(book, "customers", "--help", monkeypatch=monkeypatch).output
    assert "[默认：127.0.0.1]" in zh_cli(book, "server", "serve", "--help", monkeypatch=monkeypatch).output
    for english in ("Usage:", "─ Arguments", "─ Options", "[required]", "[default:", "[OPTIONS]"):
        assert english not in out
    monkeypatch.setenv("CRM_LANG", "en")  # and back: the frame follows the language of each run
    out = CliRunner().invoke(cli, ["--db", str(book), "customers", "import", "--help"]).output
    assert "Usage: root customers import [OPTIONS]" in out and "─ Arguments ─" in out and "[required]" in out


# -- the parameter types the crm commands do not use (yet) -------------------------------
# A small app on the same group class, so that each of click's and typer's value
# errors goes through the real parser.

class Color(enum.StrEnum):
    red = "red"
    green = "green"


mini = typer.Typer(cls=CrmGroup, rich_markup_mode="rich", pretty_exceptions_enable=False)


@mini.command()
def paint(color: Annotated[Color, typer.Option()],
          source: Annotated[Path, typer.Option(exists=True, dir_okay=False)] = Path("."),
          folder: Annotated[Path, typer.Option(exists=True, file_okay=False)] = Path("."),
          when: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"])] = dt.datetime(2026, 1, 1),
          ratio: Annotated[float, typer.Option()] = 0.5,
          sure: Annotated[bool, typer.Option("--sure/--not-sure")] = True,
          point: Annotated[tuple[int, int], typer.Option()] = (0, 0)) -> None:
    """Paints."""


@mini.command()
def pick(name: Annotated[Color, typer.Argument()]) -> None:
    """Picks."""


VALUE_MISTAKES = [
    (["paint", "--color", "blue"], ["'blue'", "'red'", "--color"]),
    (["paint"], ["--color", "red"]),
    (["pick"], ["'name'", "red, green"]),
    (["paint", "--color", "red", "--source", "nowhere.csv"], ["nowhere.csv", "does not exist"]),
    (["paint", "--color", "red", "--source", "."], ["'.'", "is a directory"]),
    (["paint", "--color", "red", "--folder", __file__], ["is a file"]),
    (["paint", "--color", "red", "--when", "2026-13-45"], ["2026-13-45", "%Y-%m-%d"]),
    (["paint", "--color", "red", "--ratio", "half"], ["half", "not a valid number"]),
    (["paint", "--color", "red", "--point", "1"], ["--point", "2 arguments"]),
    (["paint", "--color", "red", "--sure=yes"], ["--sure", "does not take a value"]),
]


@pytest.mark.parametrize(("args", "named"), VALUE_MISTAKES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_kind_of_bad_value_is_explained_in_chinese(monkeypatch: pytest.MonkeyPatch, args: list[str],
                                                         named: list[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("CRM_LANG", "en")
    english = CliRunner().invoke(mini, args)
    assert english.exit_code == 2, english.output
    assert [n for n in named if n not in english.output] == [], english.output
    monkeypatch.setenv("CRM_LANG", "zh")
    chinese = CliRunner().invoke(mini, args)
    assert chinese.exit_code == 2, chinese.output
    assert CJK.search(chinese.output)
    assert chinese_error(chinese.output, *args, __file__, "%Y-%m-%d") == [], chinese.output


def test_an_unknown_message_keeps_its_own_text_in_the_chinese_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message raised by a command in the user's language already is not lost."""
    app = typer.Typer(cls=CrmGroup, rich_markup_mode="rich")

    @app.command()
    def one(n: int) -> None:
        raise typer.BadParameter(i18n.t("cli.usage.not_iterable"), param_hint="'n'")

    @app.command()
    def two() -> None:
        raise typer.BadParameter("自己的话")

    monkeypatch.setenv("CRM_LANG", "zh")
    assert "'n' 的值无效：值必须是一组值。" in CliRunner().invoke(app, ["one", "1"]).output
    assert "值无效：自己的话" in CliRunner().invoke(app, ["two"]).output


def test_a_system_reason_for_a_file_is_in_the_users_language() -> None:
    i18n.set_language("zh")
    try:
        assert i18n.os_reason(FileNotFoundError(2, "No such file or directory")) == "文件或文件夹不存在"
        assert i18n.os_reason("Permission denied") == "没有权限"
        assert i18n.os_reason("Something else") == "Something else"
    finally:
        i18n.set_language("en")
    assert i18n.os_reason(FileNotFoundError(2, "No such file or directory")) == "No such file or directory"
