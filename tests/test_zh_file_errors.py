"""A file that is no database, or no backup, refused in Chinese without English inside
(found by x-trial): `crm customers list --db 客户.csv` read '不是 crm_tui 数据库（file
is not a database）', SQLite's own words, and `crm restore` '错误：文件（file）：…', the
name of no field a user types beside the word for file."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_zh_everywhere import chinese_only
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app

NAMES = ["crm_tui", "SQLite"]  # names, the same in every language


def zh(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"CRM_LANG": "zh"})
    return result.exit_code, result.output


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "客户.csv"
    path.write_text("姓名,手机\n张伟,13812345678\n" * 50, encoding="utf-8")
    return path


def test_a_csv_given_as_the_database_is_refused_in_chinese(csv_file: Path) -> None:
    code, said = zh("customers", "list", "--db", str(csv_file))
    assert code == 1 and "不是 crm_tui 数据库（不是 SQLite 数据库文件）" in said, said
    assert chinese_only(said.replace(str(csv_file), ""), NAMES) == [], said


def test_a_folder_given_as_the_database_is_refused_in_chinese(tmp_path: Path) -> None:
    folder = tmp_path / "文件夹"
    folder.mkdir()
    code, said = zh("customers", "list", "--db", str(folder))
    assert code == 1 and "无法打开数据库（这是一个文件夹）" in said, said
    assert chinese_only(said.replace(str(folder), ""), NAMES) == [], said


def test_restore_refuses_what_is_no_backup_in_chinese(tmp_path: Path, csv_file: Path) -> None:
    db = tmp_path / "crm.db"
    Crm(db).close()
    for file, reason in ((csv_file, "不是 SQLite 数据库文件"), (tmp_path / "无.bak", "文件不存在"),
                         (db, "就是数据库本身")):
        code, said = zh("restore", str(file), "--db", str(db), "--yes")
        assert code == 1 and reason in said and "错误：文件：" in said, said
        assert chinese_only(said.replace(str(file), ""), NAMES) == [], said


def test_in_english_the_same_refusals_keep_their_words(csv_file: Path) -> None:
    result = CliRunner().invoke(app, ["customers", "list", "--db", str(csv_file)], env={"CRM_LANG": "en"})
    assert result.exit_code == 1 and "not a crm_tui database (file is not a database)" in result.output
