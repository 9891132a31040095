"""The CLI's yes/no questions in the user's language (issue 14, item 2): deleting a
record, a quotation, erasing a person or restoring a backup asks "[是(y)/否(N)]" under
CRM_LANG=zh (click's own confirm says "[y/N]", "Error: invalid input" and "Aborted!"
in English whatever the language), and an answer in either language is understood."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_zh_everywhere import CJK
from typer.testing import CliRunner

from crm_tui.api import Crm, NotFound
from crm_tui.api.records import Records
from crm_tui.cli import app

runner = CliRunner()


def customer(db: Path, name: str = "张伟") -> str:
    with Crm(db, create=True) as crm:
        return crm.customers.create({"name": name, "mobile": "13812345678"})["id"]


def exists(db: Path, record_id: str) -> bool:
    with Crm(db) as crm:
        try:
            crm.customers.get(record_id)
        except NotFound:
            return False
        return True


def delete(db: Path, record_id: str, answer: str, lang: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CRM_LANG", lang)
    return runner.invoke(app, ["customers", "delete", record_id, "--db", str(db)], input=answer)


def test_the_question_and_its_choices_are_chinese_and_a_chinese_no_keeps_the_record(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = customer(db_path)
    result = delete(db_path, cid, "也许\n否\n", "zh", monkeypatch)
    assert result.exit_code == 1
    assert f"删除客户 {cid} 张伟？ [是(y)/否(N)]：" in result.output
    assert "请回答 是（y）或 否（n）。" in result.output  # an answer it does not know: asked again
    assert "[y/N]" not in result.output and "invalid input" not in result.output
    assert exists(db_path, cid)


@pytest.mark.parametrize(("lang", "answer"), [("zh", "是"), ("zh", "y"), ("zh", "YES"), ("en", "是的"), ("en", "y")])
def test_yes_in_either_language_deletes(lang: str, answer: str, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = customer(db_path)
    result = delete(db_path, cid, f"{answer}\n", lang, monkeypatch)
    assert result.exit_code == 0, result.output
    assert not exists(db_path, cid)


@pytest.mark.parametrize(("lang", "answer"), [("zh", "n"), ("zh", "不"), ("en", "no"), ("en", "否"), ("zh", "")])
def test_no_or_enter_in_either_language_keeps(lang: str, answer: str, db_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cid = customer(db_path)
    result = delete(db_path, cid, f"{answer}\n", lang, monkeypatch)
    assert result.exit_code == 1, result.output
    assert exists(db_path, cid)


def test_english_asks_as_before(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = customer(db_path)
    result = delete(db_path, cid, "maybe\nn\n", "en", monkeypatch)
    assert f"Delete customer {cid} 张伟? [y/N]: " in result.output
    assert "Please answer y (yes) or n (no)." in result.output
    assert not CJK.search(result.output.replace("张伟", ""))


def test_the_end_of_the_input_aborts_in_chinese(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = customer(db_path)
    result = delete(db_path, cid, "", "zh", monkeypatch)
    assert result.exit_code == 1
    assert "已中止。" in result.output and "Abort" not in result.output
    assert exists(db_path, cid)


def test_ctrl_c_in_the_middle_of_a_command_says_nothing_in_english(db_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl+C while a command works (not at a question) stops it with the shell's code
    and no English word (typer prints nothing then)."""
    customer(db_path)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Records, "find", interrupted)
    monkeypatch.setenv("CRM_LANG", "zh")
    result = runner.invoke(app, ["customers", "list", "--db", str(db_path)])
    assert result.exit_code == 130  # the shell's code for a command stopped by Ctrl+C
    assert "Abort" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", [["quotes", "delete"], ["customers", "erase"], ["restore"]])
def test_every_question_of_the_cli_is_chinese(command: list[str], db_path: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The other commands that ask (a quotation, an erase, a restore) ask the same way."""
    cid = customer(db_path)
    target = cid
    if command == ["quotes", "delete"]:
        added = runner.invoke(app, ["quotes", "add", "--customer", cid, "--line", "安装调试费:1:800", "--json",
                                    "--db", str(db_path)])
        assert added.exit_code == 0, added.output
        target = json.loads(added.stdout)["id"]
    if command == ["restore"]:
        backup = tmp_path / "crm.backup"
        assert runner.invoke(app, ["backup", "-o", str(backup), "--db", str(db_path)]).exit_code == 0
        target = str(backup)
    monkeypatch.setenv("CRM_LANG", "zh")
    result = runner.invoke(app, [*command, target, "--db", str(db_path)], input="嗯\n否\n")
    assert result.exit_code == 1, result.output
    assert "[是(y)/否(N)]：" in result.output and "请回答" in result.output, result.output
    assert "[y/N]" not in result.output and "Error" not in result.output
    assert exists(db_path, cid)
