"""Find a customer by the phone as reps type it, and read phones as people write them
(issue 14, item 4): `021-29950969`, `02129950969`, `(021) 2995 0969` and `+86 21 …`
all find the Shanghai landline; lists show `021 2995 0969` and `138 1234 5678`,
while storage, --json and exports keep E.164. Through the real CLI and the UI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pilot_steps import workers_done
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app as cli
from crm_tui.widgets.record_table import RecordTable

runner = CliRunner()
TYPED = ["021-29950969", "02129950969", "(021) 2995 0969", "+86 21 2995 0969", "0086 21 2995 0969",
         "2995 0969", "021-2995"]


@pytest.fixture
def book(crm: Crm) -> Crm:
    crm.customers.create({"name": "王芳", "phone": "021-29950969", "mobile": "13812345678"})
    crm.customers.create({"name": "李娜", "phone": "010 6552 9988"})
    crm.customers.create({"name": "赵磊", "mobile": "159 0000 1111"})
    return crm


@pytest.mark.parametrize("typed", TYPED)
def test_the_cli_finds_a_landline_however_it_is_typed(book: Crm, db_path: Path, typed: str) -> None:
    result = runner.invoke(cli, ["customers", "list", "--search", typed, "--json", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in json.loads(result.stdout)] == ["王芳"]


def test_lists_show_national_format_and_json_keeps_e164(book: Crm, db_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    table = runner.invoke(cli, ["customers", "list", "--db", str(db_path)]).stdout
    assert "021 2995 0969" in table and "010 6552 9988" in table and "+86" not in table
    data = json.loads(runner.invoke(cli, ["customers", "list", "--json", "--db", str(db_path)]).stdout)
    assert {c["phone"] for c in data} == {"+862129950969", "+861065529988", None}
    exported = runner.invoke(cli, ["customers", "export", "--db", str(db_path)]).stdout
    assert "+862129950969" in exported and "021 2995 0969" not in exported
    assert book.conn.execute("SELECT phone FROM customers WHERE name = '王芳'").fetchone()[0] == "+862129950969"



@pytest.mark.anyio
@pytest.mark.parametrize("typed", ["(021) 2995 0969", "021-29950969"])
async def test_the_customer_list_finds_and_shows_the_landline(book: Crm, typed: str) -> None:
    app = CrmApp(crm=book, config={}, lang="en", now=lambda: dt.datetime(2026, 12, 1, 10, 0))
    async with app.run_test(size=(120, 40)) as pilot:
        await workers_done(app)
        await pilot.pause()
        app.screen.query_one("#search").focus()
        await pilot.press(*typed)
        for _ in range(100):  # bounded: 5 s
            await workers_done(app)
            await pilot.pause(0.05)
            grid = app.screen.query_one(RecordTable)
            if [r["name"] for r in grid.rows_loaded()] == ["王芳"]:
                break
        [row] = grid.rows_loaded()
        phone = next(c for c in grid.columns if c.key == "phone")
        assert phone.text(row) == "021 2995 0969"
        assert phone.text({"mobile": "+8615900001111"}) == "159 0000 1111"  # no landline: the mobile
