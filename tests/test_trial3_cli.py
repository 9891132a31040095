"""Small things of the CLI that x-trial found in a fresh clone (3 December): each
test drives the real command and fails on the code before the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app


@pytest.fixture(autouse=True)
def console_width(monkeypatch: pytest.MonkeyPatch):
    """rich fixes a console's width from COLUMNS when it is made: the CLI's console was
    made by whichever test of this process imported it first, so `run` sets its width."""
    from crm_tui.cli import common

    monkeypatch.setattr(common.console, "_width", common.console._width)
    return common.console


def run(*args: str, lang: str = "en", columns: int = 80) -> str:
    from crm_tui.cli import common

    common.console._width = columns
    result = CliRunner().invoke(app, list(args), env={"CRM_LANG": lang, "COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("lang", "heads"), [("en", ("status", "tier", "owner")), ("zh", ("状态", "价值等级", "业务员"))])
def test_the_customer_list_keeps_status_tier_and_owner_before_region_and_industry(db_path: Path, lang: str,
                                                                                  heads: tuple[str, ...]) -> None:
    """At 80 columns it left out status, tier and owner for width ('因宽度未显示：状态，
    价值等级，业务员') and kept region and industry, empty for a list imported with five
    columns; the UI's list keeps status, tier and owner (README). A table too wide
    leaves out its last columns: the classes now come before region and industry."""
    with Crm(db_path, rep="wang") as crm:
        crm.customers.create({"name": "张伟", "company": "华信科技", "mobile": "13812345678", "region": "华东"})
    for columns, shown in ((80, heads[:1]), (100, heads)):
        out = run("customers", "list", "--db", str(db_path), lang=lang, columns=columns)
        header = next(line for line in out.splitlines() if line.startswith("┃"))
        assert all(head in header for head in shown), out
        assert columns > 80 or ("region" if lang == "en" else "地区") not in header, out


@pytest.mark.parametrize(("lang", "none"), [("en", "n/a"), ("zh", "无")])
def test_kpi_says_n_a_for_a_rate_with_nothing_to_divide_by(db_path: Path, lang: str, none: str) -> None:
    """docs/analytics.md: 'A rate with nothing to divide by is shown as n/a', as the
    report does; crm kpi left the cell blank."""
    Crm(db_path).close()
    out = run("kpi", "--db", str(db_path), "--period", "2026-11", lang=lang, columns=120)
    growth = next(line for line in out.splitlines() if ("growth rate" if lang == "en" else "增长率") in line)
    assert none in growth, out


def test_login_says_where_it_saved_on_one_line(tmp_path: Path, console_width) -> None:
    console_width._width = 80
    config = tmp_path / "a-rather-long-folder-name-for-the-config" / "crm-config-of-this-laptop.toml"
    result = CliRunner().invoke(app, ["login", "--server", "http://127.0.0.1:9", "--token", "t"],
                                env={"CRM_CONFIG": str(config), "COLUMNS": "80", "CRM_LANG": "en"})
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("logged in"))
    assert line.endswith(str(config)), result.stdout
