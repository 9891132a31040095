"""The line-API record table: Chinese text lines up by terminal cells, and pages of a
long list are fetched only when scrolled to."""

from __future__ import annotations

import pytest
from pilot_steps import workers_done
from rich.cells import cell_len

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.db.connection import transaction
from crm_tui.widgets.record_table import RecordTable, fit

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("text", ["张伟", "欧阳娜娜国际贸易有限公司", "Li Na", "混合 mixed 文本", ""])
@pytest.mark.parametrize("width", [1, 2, 5, 8, 13])
def test_fit_gives_exact_cell_width(text: str, width: int) -> None:
    assert cell_len(fit(text, width)) == width
    assert cell_len(fit(text, width, "right")) == width


def test_fit_marks_cut_text() -> None:
    assert fit("南方食品集团", 7) == "南方食…"
    assert fit("张伟", 6) == "张伟  "


async def test_pages_load_on_demand(crm: Crm) -> None:
    records = [crm.customers.prepare({"name": f"客户{i:04d}", "company": "华东贸易"}) for i in range(450)]
    with crm.lock, transaction(crm.conn):
        crm.customers.insert_prepared(records)
    fetched: list[int] = []
    app = CrmApp(crm=crm, config={}, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await workers_done(app)
            await pilot.pause()
        table = app.screen.query_one(RecordTable)
        assert table.total == 450 and sorted(table._pages) == [0]  # only the first page was read
        original = table._fetch
        assert original is not None

        def counting(offset: int, limit: int) -> list[dict]:
            fetched.append(offset)
            return original(offset, limit)

        table._fetch = counting
        table.focus()
        await pilot.press("end")
        for _ in range(3):
            await workers_done(app)
            await pilot.pause()
        assert fetched == [400]  # the last page only, not the ones in between
        assert table.cursor == 449 and table.cursor_record["name"] == "客户0449"
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_record["name"] == "客户0000"
