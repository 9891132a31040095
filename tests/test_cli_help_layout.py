"""Every `crm ... --help` whole and in the user's language at 80 columns (issue 14,
item 2): the placeholders of the values options and arguments take (`<path>`,
`<str>`, an argument's name) come from the catalog, and no line of any help is cut
with "…" in either language, however narrow the column rich gives the text."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import typer.testing
from test_zh_everywhere import CJK
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.cli import helptext as h

runner = CliRunner()


@pytest.fixture
def one_tree(monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.core.TyperGroup]:
    """One command tree for every command line of a test, as a long-lived process
    would have (building it takes typer 0.2 s; each command line localizes it anew)."""
    tree = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: tree)
    yield tree


def helps(tree: typer.core.TyperGroup, lang: str, columns: int,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every command's --help (the root's too) in `lang` at `columns` columns."""
    monkeypatch.setenv("CRM_LANG", lang)
    monkeypatch.setenv("COLUMNS", str(columns))
    out = {}
    for path, _command in h.walk(tree):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output
        out[" ".join(path) or "crm"] = result.stdout
    return out


BOX = re.compile(r"[\s│╭╮╰╯─]")


def shown(text: str) -> Counter[str]:
    """The characters a help shows, whatever the lines it is wrapped into."""
    return Counter(BOX.sub("", text))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_help_at_80_columns_shows_its_whole_text(lang: str, one_tree: typer.core.TyperGroup,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """At 80 columns each help shows every character it shows on a wide terminal,
    only wrapped onto more lines: a line cut with "…" loses the rest of its text."""
    narrow = helps(one_tree, lang, 80, monkeypatch)
    wide = helps(one_tree, lang, 1000, monkeypatch)
    cut = {name: [line for line in text.splitlines() if "…" in line and line not in wide[name]]
           for name, text in narrow.items() if shown(text) != shown(wide[name])}
    assert cut == {}
    assert all(max(len(line) for line in text.splitlines()) <= 80 for text in narrow.values())


def test_the_whole_text_check_sees_a_cut_line(one_tree: typer.core.TyperGroup,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above fails on a cut: rich's own console (its tables cut a
    line that does not fit with "…") loses text of Chinese help at 80 columns."""
    from rich.console import Console
    from typer import rich_utils

    from crm_tui.cli import usage

    monkeypatch.setattr(usage, "WrappingConsole", Console)
    monkeypatch.setattr(rich_utils, "Console", Console)
    monkeypatch.setenv("CRM_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "80")
    narrow = runner.invoke(app, ["customers", "list", "--help"]).stdout
    monkeypatch.setenv("COLUMNS", "1000")
    wide = runner.invoke(app, ["customers", "list", "--help"]).stdout
    assert "…" in narrow and shown(narrow) != shown(wide)


# A full-width mark the help shows with a space after it, before more of its text
# (typer's tags, "[必填]", come after a space of their own); a closing mark at the
# start of a line or of a table cell's line.
SPACED_MARK = re.compile(r"[，、；：。！？）」』】》] (?=[^\s│\[])")
CLOSING_FIRST = re.compile(r"(?:^|│| {2})\s?[，、；：。！？）」』】》]")


@pytest.mark.parametrize("columns", [80, 60])
def test_chinese_help_breaks_lines_as_chinese_is_written(columns: int, one_tree: typer.core.TyperGroup,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Chinese help shows its texts as the catalog writes them, with no space after a
    full-width comma or colon ("客户：新增", not "客户： 新增"), and breaks its lines
    between characters, never before a closing mark (no line starts with "，" or
    "。"), as the UI's long texts do (widgets/wrap)."""
    zh = helps(one_tree, "zh", columns, monkeypatch)
    spaced = {name: SPACED_MARK.findall(text) for name, text in zh.items() if SPACED_MARK.search(text)}
    assert spaced == {}
    closing_first = {name: [line for line in text.splitlines() if CLOSING_FIRST.search(line)]
                     for name, text in zh.items()}
    assert {name: lines for name, lines in closing_first.items() if lines} == {}
    assert "客户：新增、查找、修改、导入和导出。" in zh["crm"]


def usage_arguments(help_text: str) -> list[str]:
    """The arguments the usage line of a help names, after its [OPTIONS] / [选项]."""
    usage = next(line for line in help_text.splitlines() if line.strip())
    return re.split(r"\[(?:OPTIONS|选项)\]", usage, maxsplit=1)[1].split()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_usage_line_names_each_argument_as_click_does(lang: str, one_tree: typer.core.TyperGroup,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every usage line names its arguments alone, upper case (FILE, COMPLAINT_ID, 文件),
    an optional one in brackets: typer wrote a required one {file} / {文件}."""
    texts = helps(one_tree, lang, 80, monkeypatch)
    named = {name: usage_arguments(text) for name, text in texts.items()}
    assert {name: args for name, args in named.items() if any(re.search(r"[{}]|[a-z]", a) for a in args)} == {}
    if lang == "en":
        assert named["customers merge"] == ["KEEP", "OTHER"] and named["complaints assign"] == ["COMPLAINT_ID", "HANDLER"]
        assert named["sync rejected retry"] == ["[REJECTED_ID]"]
    else:
        assert named["customers import"] == ["文件"] and named["sync rejected retry"] == ["[编号]"]


ENGLISH_PLACEHOLDER = re.compile(r"<(str|path|int|float|int range|float range)>")


def test_placeholders_are_chinese_under_crm_lang_zh(one_tree: typer.core.TyperGroup,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """No help shows click's English type names (<str>, <path>, <int>, <int range>,
    <float>) or an argument named by its name in the code (FILE, complaint_id):
    the placeholders are the catalog's (<文本>, <路径>, <整数>, 文件, 投诉ID)."""
    zh = helps(one_tree, "zh", 200, monkeypatch)
    english = {name: sorted(set(ENGLISH_PLACEHOLDER.findall(text)) | set(re.findall(r"\b[a-z_]+_id\b|\bFILE\b", text)))
               for name, text in zh.items()}
    assert {name: found for name, found in english.items() if found} == {}
    assert "<路径>" in zh["customers import"] and usage_arguments(zh["customers import"]) == ["文件"]
    assert "<文本>" in zh["customers add"] and "<整数>" in zh["customers list"]
    assert "<数字>" in zh["server serve"]
    assert re.search(r"\*\s+投诉ID\s+<文本>", zh["complaints assign"])
    assert usage_arguments(zh["complaints assign"]) == ["投诉ID", "处理人"]
    assert "字段=other|keep" in zh["customers merge"]
    # every argument's name is Chinese or a symbol its help texts use (ID, KEEP, MERGE_ID)
    names = {name.strip("[].") for text in zh.values() for name in usage_arguments(text)}
    assert "KEEP" in names and "编号" in names
    assert [n for n in names if not CJK.search(n) and not re.fullmatch(r"[A-Z_]+", n)] == []


def test_english_keeps_its_placeholders(one_tree: typer.core.TyperGroup, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same process, after Chinese help, answers English help as before."""
    helps(one_tree, "zh", 200, monkeypatch)
    en = helps(one_tree, "en", 200, monkeypatch)
    assert not any(CJK.search(re.sub(r"(Example|Examples): .*|\(.*?\)", "", text)) and "<文本>" in text
                   for text in en.values())
    assert usage_arguments(en["customers import"]) == ["FILE"] and "<path>" in en["customers import"]
    assert "<str>" in en["customers add"] and "<int range>" in en["customers list"]
    assert re.search(r"\*\s+complaint_id\s+<str>", en["complaints assign"])
    assert "FIELD=other|keep" in en["customers merge"] and "<float range>" in en["server serve"]
    assert not any("<文本>" in text or "<路径>" in text or "文件" in text.split("\n")[1] for text in en.values())


def test_a_usage_error_names_the_argument_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["complaints", "assign", "01JB2X"])
    assert result.exit_code == 2
    assert "缺少参数 '处理人'" in result.output and "[选项] 投诉ID 处理人\n" in result.output
    result = runner.invoke(app, ["sync", "rejected", "retry", "abc"])
    assert result.exit_code == 2 and "'编号' 的值无效：'abc' 不是有效的整数" in result.output
    monkeypatch.setenv("CRM_LANG", "en")
    result = runner.invoke(app, ["complaints", "assign", "01JB2X"])
    assert "Missing argument 'handler'" in result.output and "[OPTIONS] COMPLAINT_ID HANDLER\n" in result.output


def test_arguments_still_convert_after_their_help_was_shown(tmp_path: Path, one_tree: typer.core.TyperGroup,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An argument's type is a copy that only shows another placeholder: after the
    Chinese help of `customers import` the same tree imports a file (a path) and
    refuses a number that is none, as before."""
    monkeypatch.setenv("CRM_LANG", "zh")
    assert usage_arguments(runner.invoke(app, ["customers", "import", "--help"]).stdout) == ["文件"]
    assert usage_arguments(runner.invoke(app, ["sync", "rejected", "discard", "--help"]).stdout) == ["编号"]
    csv = tmp_path / "客户.csv"
    csv.write_text("姓名,手机\n张伟,13812345678\n", encoding="utf-8")
    db = tmp_path / "crm.db"
    result = runner.invoke(app, ["customers", "import", str(csv), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with Crm(db) as crm:
        assert [c["name"] for c in crm.customers.find()] == ["张伟"]
    result = runner.invoke(app, ["sync", "rejected", "discard", "x1", "--db", str(db)])
    assert result.exit_code == 2 and "不是有效的整数" in result.output
