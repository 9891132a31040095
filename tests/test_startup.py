"""A CLI that starts fast: the everyday commands import neither the server (FastAPI,
uvicorn), nor the terminal UI (textual), nor pypinyin's phrase dictionary, nor the
analytics, nor the reports. Checked in a fresh interpreter, as a shell script runs
`crm`, by looking at `sys.modules` after the command (harlequin does the same)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crm_tui.api import Crm

# Top-level packages (and crm_tui modules) an everyday command must not load.
HEAVY = (
    "fastapi", "uvicorn", "starlette", "pydantic", "httpx", "textual", "pypinyin",
    "crm_tui.sync.server", "crm_tui.api.analytics", "crm_tui.domain.analytics", "crm_tui.report",
    "crm_tui.app", "crm_tui.screens",
)

# Runs `crm ARGS...` in this interpreter, then writes the loaded modules to a file.
RUNNER = """
import json, sys
from crm_tui.cli import run
sys.argv = ["crm", *sys.argv[2:]]
try:
    run()
except SystemExit:
    pass
with open(OUT, "w") as fh:
    json.dump(sorted(sys.modules), fh)
"""


def loaded_after(args: list[str], tmp_path: Path) -> set[str]:
    out = tmp_path / "modules.json"
    code = RUNNER.replace("OUT", repr(str(out)))
    result = subprocess.run([sys.executable, "-c", code, "-", *args], capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "100"}, timeout=120)
    assert out.exists(), result.stderr
    return set(json.loads(out.read_text()))


# The typed config holds the analytics' settings (plain dataclasses), not their rules.
# A customer list after a write recomputes the customers' classes (docs/analytics.md,
# "Where classes live"): the classification rules and facts load, nothing else.
LIGHT = ("crm_tui.domain.analytics", "crm_tui.domain.analytics.settings",
         "crm_tui.domain.analytics.classification", "crm_tui.domain.analytics.facts")


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m not in LIGHT and any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("args", [["--help"], ["customers", "--help"], ["customers", "list", "--json"],
                                  ["customers", "list"], ["customers", "show", "01"]])
def test_everyday_commands_load_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    db = tmp_path / "crm.db"
    with Crm(db, rep="wang") as crm:
        crm.customers.create({"name": "张伟", "company": "华为", "mobile": "13812345678"})
    modules = loaded_after([*args, "--db", str(db)] if args[-1] != "--help" else args, tmp_path)
    assert "crm_tui.cli" in modules  # the command did run in that interpreter
    assert heavy(modules) == []


def test_the_check_sees_a_heavy_command(tmp_path: Path) -> None:
    """The report command does load the reports: the check above can fail."""
    db = tmp_path / "crm.db"
    Crm(db, rep="wang").close()
    modules = loaded_after(["report", "--period", "2026", "--db", str(db)], tmp_path)
    assert "crm_tui.report" in heavy(modules)


def test_command_modules_keep_their_annotations_as_objects() -> None:
    """typer reads every command's annotations at every start; as strings (`from
    __future__ import annotations`) each is `eval`ed again, which doubled the time
    of building the command tree."""
    import crm_tui.cli as cli

    stringly = [p.name for p in sorted(Path(cli.__file__).parent.glob("*.py"))
                if "\nfrom __future__ import annotations" in (text := p.read_text(encoding="utf-8"))
                and ".command(" in text]
    assert stringly == []


def test_a_command_that_prints_no_text_loads_no_catalog(tmp_path: Path) -> None:
    """`crm customers list --json` prints JSON only: the catalog (a TOML file of some
    thousand texts) is parsed only by a command that shows some of it, or a help."""
    db = tmp_path / "crm.db"
    Crm(db, rep="wang").close()
    code = RUNNER.replace("json.dump(sorted(sys.modules), fh)",
                          "from crm_tui import i18n; json.dump(i18n.catalog.cache_info().currsize, fh)")
    for args, loaded in ((["customers", "list", "--json", "--db", str(db)], 0), (["--help"], 1)):
        out = tmp_path / "catalogs.json"
        subprocess.run([sys.executable, "-c", code.replace("OUT", repr(str(out))), "-", *args],
                       capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"}, timeout=120)
        assert json.loads(out.read_text()) == loaded, args


@pytest.mark.parametrize("args", [["customers", "list", "--json"], ["customers", "list"], ["customers", "show", "01"]])
def test_a_command_that_shows_no_help_loads_no_help_renderer(args: list[str], tmp_path: Path) -> None:
    """typer's help and error renderer imports rich's Markdown (markdown-it, ~55 ms):
    only a help or an error loads it."""
    db = tmp_path / "crm.db"
    with Crm(db, rep="wang") as crm:
        crm.customers.create({"name": "张伟", "company": "华为", "mobile": "13812345678"})
    modules = loaded_after([*args, "--db", str(db)], tmp_path)
    assert "crm_tui.cli" in modules and "typer.rich_utils" not in modules and "rich.markdown" not in modules
    assert "typer.rich_utils" in loaded_after(["customers", "--bogus"], tmp_path)  # an error draws its frame


# What typer's help renderer would load for the Markdown markup mode and pretty
# tracebacks, neither of which `crm` uses (crm_tui.cli.usage.help_renderer).
MARKDOWN = ("rich.markdown", "markdown_it", "rich.traceback", "rich.syntax", "pygments")


@pytest.mark.parametrize("args", [["--help"], ["customers", "add", "--help"], ["customers", "--bogus"]])
def test_a_help_or_an_error_loads_no_markdown(args: list[str], tmp_path: Path) -> None:
    """typer's renderer imports rich's Markdown (markdown-it, ~45 ms of CPU) and
    Traceback (pygments) at its top; `crm` renders its help with rich markup only."""
    modules = loaded_after(args, tmp_path)
    assert "typer.rich_utils" in modules  # the help (or the error's frame) was drawn
    assert sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in MARKDOWN)) == []


@pytest.mark.parametrize("args", [["--help"], ["customers", "add", "--help"], ["customers", "--bogus"]])
def test_the_help_is_drawn_as_with_the_real_markdown_module(args: list[str]) -> None:
    """The stand-ins change nothing a user sees: with rich.markdown and rich.traceback
    loaded before (typer then takes the real ones), the output is the same."""
    def run(preload: str) -> tuple[str, str]:
        code = f"import sys{preload}; sys.argv = ['crm', *sys.argv[1:]]\nfrom crm_tui.cli import main\nmain()"
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                                env={**os.environ, "COLUMNS": "100", "CRM_LANG": "zh"}, timeout=120)
        return result.stdout, result.stderr

    drawn = run("")
    assert drawn[0] or drawn[1]
    assert run(", rich.markdown, rich.traceback") == drawn


def test_a_stand_in_makes_the_real_object_if_ever_used() -> None:
    from rich.markdown import Markdown

    from crm_tui.cli.usage import _deferred

    assert isinstance(_deferred("rich.markdown", "Markdown")("*text*"), Markdown)


GROUPS_MADE = """
import json, sys
from crm_tui.cli import run
from crm_tui.cli.common import LazyGroup
groups = []  # every group of the run, kept here (the command tree is let go when main returns)
init = LazyGroup.__init__
def keep(self, *args, **kwargs):
    init(self, *args, **kwargs)
    groups.append(self)
LazyGroup.__init__ = keep
sys.argv = ["crm", *sys.argv[2:]]
try:
    run()
except SystemExit:
    pass
with open(OUT, "w") as fh:
    json.dump({g.name: g.is_made for g in groups}, fh)
"""


@pytest.mark.parametrize(("args", "made"), [(["--help"], []), (["customers", "list", "--json"], ["customers"]),
                                            (["visits", "--help"], ["visits"])])
def test_a_command_makes_the_commands_of_its_group_only(args: list[str], made: list[str], tmp_path: Path) -> None:
    """typer reads every command's signature to make it (127 commands); `crm --help`
    needs only the groups' names and `crm customers list` only the customers' commands."""
    from crm_tui.cli.records import KINDS

    db = tmp_path / "crm.db"
    Crm(db, rep="wang").close()
    out = tmp_path / "groups.json"
    args = [*args, "--db", str(db)] if args[-1] != "--help" else args
    result = subprocess.run([sys.executable, "-c", GROUPS_MADE.replace("OUT", repr(str(out))), "-", *args],
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"}, timeout=120)
    groups = json.loads(out.read_text())
    assert sorted(groups) == sorted(KINDS), result.stderr
    assert sorted(name for name, is_made in groups.items() if is_made) == made


def test_help_keeps_the_parsed_catalog_in_the_user_cache(tmp_path: Path) -> None:
    """`crm --help` parses the catalog once; later starts read it from the cache
    (tests/test_catalog_cache.py shows when it is parsed again)."""
    cache = tmp_path / "cache"
    for lang in ("en", "zh"):
        subprocess.run([sys.executable, "-m", "crm_tui", "--help"], capture_output=True, timeout=120,
                       env={**os.environ, "XDG_CACHE_HOME": str(cache), "CRM_LANG": lang, "COLUMNS": "100"})
    assert sorted(p.name.split("-")[1] for p in (cache / "crm_tui").glob("catalog-*.marshal")) == ["en", "zh"]
