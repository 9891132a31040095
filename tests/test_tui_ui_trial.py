"""Defects of the terminal UI found by using it (the top bar, record names shown as
markup, Chinese wrapping, the pipeline's figures under a search), each driven with
Pilot as the rep met it, in English and Chinese, at 80x24 and on a large terminal."""

from __future__ import annotations

import ast
import datetime as dt
import html
import importlib.util
import re
from pathlib import Path

import pytest
from laptops import sync, two_laptops
from pilot_steps import settle, top_bar
from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets._data_table import default_cell_formatter
from textual.widgets._toast import Toast

import crm_tui
from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.i18n import t
from crm_tui.widgets.record_table import RecordTable
from crm_tui.widgets.wrap import CLOSING, OPENING, line_spans

NOW = dt.datetime(2026, 3, 2, 9, 0)
SMALL, LARGE = (80, 24), (200, 50)

pytestmark = pytest.mark.anyio


def make_app(crm: Crm, lang: str = "en") -> CrmApp:
    return CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "200x50"])
async def test_every_screen_is_reached_by_its_key_and_listed_in_the_top_bar(crm: Crm, lang: str, size) -> None:
    """Each top-level screen (F10 Products too) opens by its key and is listed in the
    top bar of every screen beside the others, named on a large terminal."""
    crm.customers.create({"name": "张伟"})
    app = make_app(crm, lang)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        opened = {b.action: app.get_key_display(b) for _, b in app._bindings if b.action.startswith("open(")}
        assert {f"open('{mode}')" for mode in app.MODES} <= set(opened), opened
        for action, key in opened.items():
            mode = action[len("open('"):-2]
            await pilot.press(key.lower())
            await settle(pilot)
            assert app.current_mode == mode and len(app.screen_stack) == 1, (key, app.current_mode)
            shown = top_bar(app)
            for other_key in opened.values():
                assert other_key in shown.split(), (mode, other_key, shown)
            if size == LARGE:
                for _, binding in app._bindings:
                    if binding.action in opened:
                        assert binding.description in shown, (mode, binding.description, shown)


# -- record names and values are shown as typed, never read as markup ----------------------

MARKUP_NAMES = ("[b]ACME[/b]", "Foo [/]", "[link=http://x][@click=app.quit]报价[/]")


def toasts(app: CrmApp) -> list[str]:
    """The text of the notifications on the screen, as the rep reads it."""
    return [toast.render().plain for toast in app.screen.query(Toast)]


def cells(table: DataTable) -> list[str]:
    """What each cell of a DataTable shows (a str cell is rendered as the table does)."""
    shown = []
    for row in range(table.row_count):
        for cell in table.get_row_at(row):
            shown.append(cell.plain if isinstance(cell, Text) else default_cell_formatter(cell).plain)
    return shown


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_a_deal_won_is_announced_by_its_title_as_typed(crm: Crm, name: str) -> None:
    """The notification of a won deal names it as the rep typed it: no bold ACME, no
    crash on a stray [/], no link."""
    cid = crm.customers.create({"name": name})["id"]
    deal = crm.opportunities.create({"customer_id": cid, "title": name, "amount": 500, "stage": "negotiation"})
    app = make_app(crm)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        app.screen.query_one("#cards-negotiation", OptionList).focus()
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert crm.opportunities.get(deal["id"])["stage"] == "won"
        assert any(name in shown for shown in toasts(app)), toasts(app)


@pytest.mark.parametrize("name", MARKUP_NAMES)
async def test_a_quotation_is_listed_by_its_title_as_typed(crm: Crm, name: str) -> None:
    cid = crm.customers.create({"name": "李娜"})["id"]
    deal = crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": 500, "stage": "proposal"})
    crm.quote_book.add({"opportunity_id": deal["id"], "title": name})
    app = make_app(crm)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        app.screen.query_one("#cards-proposal", OptionList).focus()
        await pilot.press("q")
        await settle(pilot)
        assert name in cells(app.screen.query_one(DataTable)), cells(app.screen.query_one(DataTable))


def conflict_on_outcome(tmp: Path, mine: str, theirs: str) -> Crm:
    """Two laptops write a visit's outcome apart; the second to sync holds the conflict."""
    a, b, http = two_laptops(tmp)
    cid = a.customers.create({"name": "张伟", "territory": "east"})["id"]
    vid = a.visits.create({"customer_id": cid, "channel": "phone", "purpose": "visit",
                           "visited_at": "2026-03-01 10:00"})["id"]
    sync(a, http), sync(b, http)
    a.visits.update(vid, {"outcome": theirs})
    b.visits.update(vid, {"outcome": mine})
    sync(a, http), sync(b, http)
    a.close()
    return b


async def test_conflicting_values_are_shown_and_announced_as_typed(tmp_path: Path) -> None:
    """F7 lists both values as written, and keeping one names it as written (a stray
    [/] in it no longer stops the app)."""
    mine, theirs = "Foo [/] 已签约", "[b]下周再谈[/b]"
    crm = conflict_on_outcome(tmp_path, mine, theirs)
    app = make_app(crm)
    try:
        async with app.run_test(size=LARGE, notifications=True) as pilot:
            await pilot.press("f7")
            await settle(pilot)
            table = app.screen.query_one("#conflicts-table", DataTable)
            shown = cells(table)
            assert mine in shown and theirs in shown, shown
            table.focus()
            await pilot.press("m")  # keep mine
            await settle(pilot)
            assert any(mine in toast for toast in toasts(app)), toasts(app)
    finally:
        crm.close()


def test_every_notification_goes_through_the_one_helper_that_keeps_user_data_literal() -> None:
    """A notification names records, values, paths and server answers: each is sent by
    `tell`, which never reads its message as markup (no `.notify(` of its own)."""
    root = Path(crm_tui.__file__).parent
    helper = root / "widgets" / "literal.py"
    found = []
    for path in root.rglob("*.py"):
        if path == helper:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "notify":
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not found, found


# -- the pipeline's figures are those of the cards it shows ------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_pipeline_columns_count_and_weigh_the_deals_the_search_shows(crm: Crm, lang: str) -> None:
    """Searching the board for 王芳: each stage's count and weighted amount, and the open
    and weighted totals above, are those of 王芳's deals, as the cards are."""
    wang = crm.customers.create({"name": "王芳", "company": "北方机械"})["id"]
    li = crm.customers.create({"name": "李娜", "company": "南方食品"})["id"]
    for cid, title, amount, stage in ((wang, "ERP 升级", 10000, "lead"), (wang, "传感器", 20000, "lead"),
                                      (wang, "培训", 40000, "qualified"), (li, "年度耗材", 500000, "lead"),
                                      (li, "数据中心", 700000, "qualified")):
        crm.opportunities.create({"customer_id": cid, "title": title, "amount": amount, "stage": stage,
                                  "probability": 50})
    app = make_app(crm, lang)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen

        def head(stage: str) -> str:
            return str(screen.query_one(f"#stage-{stage} .stage-head", Static).render())

        def summary() -> str:
            return str(screen.query_one("#pipeline-summary", Static).render())

        assert t("pipeline.column_count", count=3) in head("lead") and "1,270,000" in summary()  # every deal
        await pilot.press("slash", *"王芳")
        await settle(pilot)
        assert [len(screen.board[s]) for s in ("lead", "qualified")] == [2, 1]
        lead, qualified = head("lead"), head("qualified")
        assert t("pipeline.column_count", count=2) in lead and "15k" in lead, lead
        assert t("pipeline.column_count", count=1) in qualified and "20k" in qualified, qualified
        assert "70,000" in summary() and "35,000" in summary(), summary()


# -- Chinese text wraps between characters, not only at spaces ----------------------------

def screen_lines(app: CrmApp) -> list[str]:
    """The terminal's lines as the rep sees them."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


LONG_OUTCOME = "客户对新型号的工业传感器很感兴趣但是担心价格偏高希望我们下周再提供一份详细的报价单和安装方案"
LONG_NEXT = "准备报价单并联系技术部门确认安装调试的时间安排以及现场勘察需要的人员名单"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "200x50"])
async def test_a_long_chinese_visit_note_reads_whole_on_the_customers_visits_tab(crm: Crm, lang: str, size) -> None:
    """The outcome and next action of a visit, long and without a space, wrap in their
    columns: nothing runs past the edge of the tab, the ends of both are on screen."""
    cid = crm.customers.create({"name": "欧阳娜娜"})["id"]
    crm.visits.create({"customer_id": cid, "channel": "face_to_face", "purpose": "visit",
                       "visited_at": "2026-03-01 10:00", "outcome": LONG_OUTCOME, "next_action": LONG_NEXT,
                       "next_action_date": "2026-03-08"})
    app = make_app(crm, lang)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        app.open_customer(cid)
        await settle(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")  # profile, contacts, visits
        await settle(pilot)
        table = app.screen.query_one("#visits-table", DataTable)
        assert table.virtual_size.width <= table.size.width, (table.virtual_size, table.size)
        shown = "\n".join(screen_lines(app))
        columns = list(table.columns.values())
        row = table.get_row_at(0)
        height = next(iter(table.rows.values())).height
        for index, note in ((3, LONG_OUTCOME), (4, LONG_NEXT)):
            lines = app.console.render_lines(row[index], app.console.options.update_width(columns[index].width))
            read = ["".join(segment.text for segment in line).strip() for line in lines]
            assert "".join(read) == note and len(read) <= height, (read, height)
            assert read[0] in shown and read[-1] in shown, (read, shown)  # its first and last line on screen


async def test_a_chinese_address_after_a_label_goes_on_beside_it_in_the_profile(crm: Crm) -> None:
    """'总部： 北京市…': the address goes on beside 总部： up to the edge, as Chinese
    is written, instead of leaving 总部： alone on its line (a break at spaces only)."""
    address = "总部： 北京市朝阳区建国路八十八号现代城五号楼二十三层二三零一室靠近地铁站东南出口"
    cid = crm.customers.create({"name": "欧阳娜娜", "address": address})["id"]
    app = make_app(crm, "zh")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.open_customer(cid)
        await settle(pilot)
        line = next(line for line in screen_lines(app) if "总部：" in line)
        assert "总部： 北京市" in line, line


def test_chinese_lines_break_between_characters_and_keep_marks_with_their_words() -> None:
    """No line begins with a closing mark (，。）) or ends with an opening one (（「);
    every character is kept, in order; a word of Latin letters is not broken."""
    text = "客户（王经理）说：“价格偏高，”希望下周提供报价单。ERP 系统于 2026.12 上线，培训三天！"
    for width in range(8, 40):
        spans = line_spans(text, width)
        lines = [text[start:end] for start, end in spans]
        assert "".join(lines).replace(" ", "") == text.replace(" ", ""), (width, lines)
        assert all(cell_len(line) <= width for line in lines), (width, lines)
        assert not any(line[:1] in CLOSING for line in lines[1:]), (width, lines)
        assert not any(line[-1:] in OPENING for line in lines), (width, lines)
        assert not any(line.endswith("ER") or line.startswith("P ") for line in lines), (width, lines)


def test_a_word_written_as_one_is_never_broken_while_it_fits_a_line() -> None:
    """A span given as whole (a label of the catalog, 已逾期) moves to the next line
    whole where the rest of the Chinese text breaks between any two characters; one
    wider than the line is still cut, and every character is kept."""
    text = "80 ⚠2026-09-01 已逾期，无预计成交日期"
    words = [(15, 18), (19, 26)]
    for width in range(1, 40):
        lines = [text[start:end] for start, end in line_spans(text, width, words)]
        assert "".join(lines).replace(" ", "") == text.replace(" ", ""), (width, lines)
        for start, end in words:
            word = text[start:end]
            if cell_len(word) + (1 if end < len(text) and text[end] in CLOSING else 0) <= width:
                assert any(word in line for line in lines), (width, word, lines)
    # at a card's width on 80x24: the characters' rule alone broke the word
    assert [text[s:e] for s, e in line_spans(text, 19)] == ["80 ⚠2026-09-01 已逾", "期，无预计成交日期"]
    assert [text[s:e] for s, e in line_spans(text, 19, words)] == ["80 ⚠2026-09-01", "已逾期，", "无预计成交日期"]


async def test_a_long_chinese_deal_title_fills_its_card_line_by_line(crm: Crm) -> None:
    """On the board at 80x24 a title 'ERP 项目 上海浦东…' goes on beside 项目 to the
    column's edge instead of leaving 'ERP 项目' alone on a line; all of it is shown."""
    cid = crm.customers.create({"name": "欧阳娜娜"})["id"]
    title = "ERP 项目 上海浦东新区张江高科技园区智能工厂二期工业传感器采购"
    crm.opportunities.create({"customer_id": cid, "title": title, "amount": 880000, "stage": "lead"})
    app = make_app(crm, "zh")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        column = app.screen.query_one("#stage-lead")
        lines = [line.split("▕")[0].strip() for line in screen_lines(app)[column.region.y:column.region.bottom]]
        first = next(i for i, line in enumerate(lines) if line.startswith("ERP"))
        assert "上海" in lines[first], lines
        assert "".join(lines[first:]).replace(" ", "").startswith(title.replace(" ", "")), lines


# -- the screenshots in the docs are those of the current app -----------------------------

def svg_text(path: Path) -> str:
    svg = path.read_text(encoding="utf-8")
    return " ".join(html.unescape(body) for body in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S))


def test_the_docs_screenshots_are_drawn_by_the_script_and_show_every_screen_key() -> None:
    """scripts/screenshots.py runs (it had stopped importing, so the pictures went
    stale), each picture it draws is in docs/screenshots and named in docs/tui.md, and
    each shows the top bar of today's app: F10 Products beside the other screens."""
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("screenshots", root / "scripts" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    listed = (root / "docs" / "tui.md").read_text(encoding="utf-8")
    drawn = {f"{lang}-{name}.svg" for name, _, _ in script.SCREENS for lang in ("en", "zh")}
    assert drawn == {p.name for p in (root / "docs" / "screenshots").glob("*.svg")}
    for name in sorted(drawn):
        assert f"(screenshots/{name})" in listed, name
        words = svg_text(root / "docs" / "screenshots" / name).replace("\xa0", " ")
        for key in ("f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10"):
            assert key in words, (name, key)


# -- found in the trial (tmux, 80x24 and 200x50, en and zh) ---------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_long_customer_title_gives_way_to_the_screen_keys_at_80x24(crm: Crm, lang: str) -> None:
    """A customer with a long company name: the top bar shortens the title (…) so the
    keys stay whole beside it, F9, F10 and ? too (they ran off the edge)."""
    cid = crm.customers.create({"name": "欧阳娜娜", "company": "上海浦东新区张江高科技园区国际贸易有限责任公司"})["id"]
    app = make_app(crm, lang)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.open_customer(cid)
        await settle(pilot)
        shown = top_bar(app).split()
        assert {"f9", "f10", "?"} <= set(shown), shown
        title = app.screen.query_one("#title", Static)
        assert str(title.render()).startswith("欧阳娜娜 · 上海") and str(title.render()).endswith("…")
        assert title.region.right <= app.screen.query_one("#nav", Static).region.x


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_agenda_names_each_kind_of_row_whole_on_a_large_terminal(crm: Crm, lang: str) -> None:
    """On 200 columns the When column is as wide as its longest label ('Stale deals'
    read 'Stale d…'), and a stale deal's next action reads whole."""
    cid = crm.customers.create({"name": "王芳"})["id"]
    crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": 100, "stage": "lead",
                              "close_date": "2026-02-01"})
    app = make_app(crm, lang)
    async with app.run_test(size=LARGE) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        table = app.screen.query_one(RecordTable)
        rows = ["".join(segment.text for segment in table.render_line(y)) for y in range(1, 1 + table.total)]
        stale = next(row for row in rows if "2026-02-01" in row)
        assert stale.strip().startswith(t("agenda.stale") + " "), stale
        assert t("agenda.stale_overdue", title="ERP") in stale, stale  # the next action too


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_filters_that_match_nobody_say_how_to_clear_them_not_the_search(crm: Crm, lang: str) -> None:
    """A filter (region) that no customer matches, with the search box empty: the
    line above the list says the filters match nobody and which keys clear them; it
    said 'Esc clears the search', and Esc did nothing for the filters."""
    crm.customers.create({"name": "张伟", "region": "华东"})
    app = make_app(crm, lang)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        app.screen.query_one("#filter-region", Input).value = "[b]西北"
        await pilot.press("ctrl+s")
        await settle(pilot)
        line = str(app.screen.query_one("#status-line", Static).render())
        assert t("find.filters.no_match", filters="^f", clear="^l") in line, line
        assert t("find.no_match") not in line and "[b]西北" in line, line
        await pilot.press("ctrl+f")
        await settle(pilot)
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert "张伟" in "\n".join(screen_lines(app))


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_an_empty_catalogue_says_how_to_fill_it(crm: Crm, lang: str) -> None:
    """F10 on a new book: not a bare '0 of 0 products' but how to add one or import
    a price list, as the empty customer and order lists say."""
    app = make_app(crm, lang)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.press("f10")
        await settle(pilot)
        count = app.screen.query_one("#products-count", Static)
        assert t("find.empty.products") in str(count.render()), count.render()
        shown = "".join(line.strip() for line in screen_lines(app))
        assert t("find.empty.products").replace(" ", "") in shown.replace(" ", ""), shown  # whole at 80x24
