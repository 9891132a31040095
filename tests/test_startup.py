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
from crm_tui.cli import main
sys.argv = ["crm", *sys.argv[2:]]
try:
    main()
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
