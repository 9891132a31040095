"""Every `crm ... --help` in the user's language (issue 14, item 2): each command, option
and argument a user can see has its text in the catalog in English and Chinese, and a
rep with CRM_LANG=zh reads every help in Chinese, in one process that also serves
English (the language is decided per command line, not at import)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import typer.testing
from test_zh_everywhere import english_words
from typer.testing import CliRunner

from crm_tui import i18n
from crm_tui.cli import app
from crm_tui.cli import helptext as h

runner = CliRunner()
ROOT = typer.main.get_command(app)
CTX = ROOT.make_context("crm", [], resilient_parsing=True)


def shown() -> Iterator[tuple[str, list[str]]]:
    """Every command and each of its options and arguments ('customers list --search'),
    with the catalog keys its text may come from."""
    for path, command in h.walk(ROOT):
        yield " ".join(path), h.command_keys(path)
        for param in h.visible_params(command, CTX):
            yield " ".join((*path, param.opts[0] if param.opts[0].startswith("-") else param.name or "")), \
                h.param_keys(path, param)


def missing(lang: str) -> list[str]:
    """What a user can see whose text `lang`'s catalog lacks."""
    cat = i18n.catalog(lang)
    return [name for name, keys in shown() if not any(k in cat for k in keys)]


def test_every_command_option_and_argument_has_its_text_in_english_and_chinese() -> None:
    assert len(list(shown())) > 900  # the walk sees the whole tree: ~145 commands and their options
    assert missing("en") == []
    assert missing("zh") == []


def test_the_key_check_sees_a_command_without_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a command whose key is gone from the catalog is named."""
    cat = {k: v for k, v in i18n.catalog("en").items() if not k.startswith("cmd.customers.erase.")}
    monkeypatch.setattr(i18n, "catalog", lambda lang: cat)
    assert "customers erase" in missing("en")
    assert "customers erase --reason" in missing("en")


def test_no_help_text_is_left_in_the_code() -> None:
    """The English lives in en.toml only: a help= or docstring left in code would be a
    second copy (and shown when the catalog lacks its key)."""
    root = typer.main.get_command(app)  # a fresh tree, as the code builds it, before any localize
    typers_own = {"install_completion", "show_completion"}  # typer's, translated all the same
    texts = [(" ".join(p), c.help) for p, c in h.walk(root) if c.help] + \
            [(" ".join(p), prm.help) for p, c in h.walk(root) for prm in c.params  # type: ignore[attr-defined]
             if getattr(prm, "help", None) and prm.name not in typers_own]
    assert texts == []


def plain(output: str) -> str:
    """The help's prose: no usage line, no example, no names of commands, options and
    arguments (the first word of a panel's row), none of typer's own marks."""
    lines = []
    for line in output.splitlines():
        if re.match(r"\s*(Usage|用法)|\s*(Examples?:|示例：)", line):
            continue
        lines.append(re.sub(r"^│\s*\*?\s*[\w-]+", " ", line) if line.startswith("│") else line)
    text = re.sub(r"[│╭╮╰╯─]", " ", "\n".join(lines))
    text = re.sub(r"`[^`]*`|\bcrm(?: [a-z-]+)+", " ", text)
    return re.sub(r"--?[a-z][a-z-]*|<\w+>|\b[A-Z_]{2,}\b|\[(default|env var): [^\]]*\]|\[\w+\]", " ", text)


def english_of(path: tuple[str, ...], command: object) -> set[str]:
    """The English words of the help texts of `command` that no Chinese text of it has."""
    en, zh = [], []
    for lang, bucket in (("en", en), ("zh", zh)):
        i18n.set_language(lang)
        bucket.append(h.command_help(path) or "")
        bucket += [h.param_help(path, p) or "" for p in h.visible_params(command, CTX)]  # type: ignore[arg-type]
        bucket += [h.command_help((*path, name)) or "" for name in getattr(command, "commands", {})]
    i18n.set_language("en")
    zh_words = {w.lower() for w in english_words(" ".join(zh))}
    return {w for w in english_words(" ".join(en)) if w.lower() not in zh_words and len(w) > 2}


COMMANDS = [(path, command) for path, command in h.walk(ROOT)]


def test_every_help_is_chinese_under_crm_lang_zh(monkeypatch: pytest.MonkeyPatch) -> None:
    """One `crm <command> --help` per command with CRM_LANG=zh: the Chinese text of the
    command and of each option is shown, and no English word of its English texts."""
    monkeypatch.setenv("COLUMNS", "200")
    # one tree for all the command lines, as a long-lived process would (building it
    # takes typer 0.2 s, a minute over 145 commands); each command line localizes it anew
    tree = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: tree)
    failures = []
    for path, command in COMMANDS:
        monkeypatch.setenv("CRM_LANG", "zh")
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, result.output
        words = plain(result.stdout)
        english = sorted(w for w in english_of(path, command) if re.search(rf"\b{w}\b", words))
        i18n.set_language("zh")
        first = " ".join(re.split(r"[，。：；]", h.command_help(path) or "")[0].split())
        i18n.set_language("en")
        if english or not first or first not in " ".join(result.stdout.split()):
            failures.append((" ".join(path) or "crm", english[:5]))
    assert failures == []


def test_the_same_process_answers_english_then_chinese_then_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    outputs = []
    for lang in ("en", "zh", "en"):
        monkeypatch.setenv("CRM_LANG", lang)
        outputs.append(runner.invoke(app, ["customers", "import", "--help"]).stdout)
    assert "Import customers from CSV" in outputs[0] and "Import the good rows" in outputs[0]
    assert "从 CSV、JSON 或 Excel（.xlsx）导入客户" in outputs[1] and "导入正确的行" in outputs[1]
    assert "示例：crm customers import 客户.csv --dry-run" in outputs[1]
    assert outputs[2] == outputs[0]


def test_a_chinese_system_locale_gets_chinese_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_LANG", raising=False)
    monkeypatch.setenv("LC_ALL", "zh_CN.UTF-8")
    result = runner.invoke(app, ["--help"])
    assert "面向外勤销售代表的本地优先 CRM" in result.stdout
    assert "拜访" in result.stdout  # the list of commands is Chinese too: visits


def test_the_configs_language_gets_its_help(monkeypatch: pytest.MonkeyPatch) -> None:
    """`lang = "zh"` in the config file gives Chinese help; CRM_LANG=en still wins over it."""
    monkeypatch.delenv("CRM_LANG", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.setenv("LANG", "C")
    Path(os.environ["CRM_CONFIG"]).write_text('lang = "zh"\n', encoding="utf-8")
    assert "新增一条客户记录" in runner.invoke(app, ["customers", "add", "--help"]).stdout
    monkeypatch.setenv("CRM_LANG", "en")
    assert "Add a new customer" in runner.invoke(app, ["customers", "add", "--help"]).stdout


def test_rich_markup_in_help_texts_survives() -> None:
    """A literal [ is escaped in the catalog: `[company]` and the required mark are shown."""
    out = runner.invoke(app, ["quotes", "render", "--help"], env={"CRM_LANG": "en", "COLUMNS": "200"}).stdout
    assert "[company]" in out
    out = runner.invoke(app, ["customers", "add", "--help"], env={"CRM_LANG": "zh", "COLUMNS": "200"}).stdout
    assert "姓名 [必填]" in out


def test_the_help_check_sees_english(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan above finds an English help: with the Chinese text of one option gone
    (it falls back to English), the scan of that command's help names its words."""
    path = ("customers", "import")
    command = dict(COMMANDS)[path]
    zh = {k: v for k, v in i18n.catalog("zh").items() if k != "cmd.records.import.opt.skip-invalid"}
    real = i18n.catalog
    monkeypatch.setattr(i18n, "catalog", lambda lang: zh if lang == "zh" else real(lang))
    monkeypatch.setenv("CRM_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "200")
    words = plain(runner.invoke(app, [*path, "--help"]).stdout)
    monkeypatch.setattr(i18n, "catalog", real)
    assert {"Import", "good", "rows"} <= {w for w in english_of(path, command) if re.search(rf"\b{w}\b", words)}


def test_shell_completion_describes_options_in_the_users_language() -> None:
    """zsh shows each option's help beside it while completing `crm customers list --`."""
    env = {"_CRM_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "crm customers list --"}
    zh = runner.invoke(app, [], prog_name="crm", env={**env, "CRM_LANG": "zh"}).output
    assert '"--search":"姓名、公司、电话、邮箱或拼音的任意部分' in zh
    en = runner.invoke(app, [], prog_name="crm", env={**env, "CRM_LANG": "en"}).output
    assert '"--search":"Any part of name, company, phone, email or pinyin' in en


def test_the_roots_help_lists_its_commands_in_panels_the_records_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """`crm --help` shows its commands in titled panels, the records first and the
    customers at their head, in either language; every command has a panel (one left
    out would stand alone under an untitled "Commands" above the records)."""
    panelled = [name for _, names in h.PANELS for name in names]
    visible = [name for name, c in ROOT.commands.items() if not c.hidden]  # type: ignore[attr-defined]
    assert sorted(panelled) == sorted(visible) and len(set(panelled)) == len(panelled)
    for lang, titles in (("en", ["Records", "Sales and analysis", "Sync and the team's server", "Your database"]),
                         ("zh", ["记录", "销售与分析", "同步与团队服务器", "数据库"])):
        monkeypatch.setenv("CRM_LANG", lang)
        out = runner.invoke(app, ["--help"], env={"COLUMNS": "100"}).stdout
        at = [out.index(f"─ {title} ─") for title in titles]
        assert at == sorted(at), out
        commands = [m.group(1) for m in re.finditer(r"^│ ([a-z][a-z-]+) ", out, re.M)]
        assert commands[0] == "customers" and commands.index("customers") < commands.index("rfm"), commands
        assert sorted(commands) == sorted(visible)
