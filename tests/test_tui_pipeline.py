"""The Pipeline screen driven with Pilot at 80x24, in English and Chinese: create an
opportunity, move it through the stages, lose one with its reason, win one and
create its order; then the customer's Opportunities tab. The database is checked
after each step."""

from __future__ import annotations

import datetime as dt

import pytest
from pilot_steps import settle
from textual.widgets import DataTable, OptionList, TabbedContent

from crm_tui.api import Crm, Filter
from crm_tui.app import CrmApp
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.form import FormScreen
from crm_tui.screens.modals import ChoiceScreen, CustomerPicker
from crm_tui.screens.pipeline import PipelineScreen, PromptScreen

NOW = dt.datetime(2026, 9, 15, 9, 0)
SIZE = (80, 24)

pytestmark = pytest.mark.anyio


def deals(crm: Crm) -> dict[str, dict]:
    return {d["title"]: d for d in crm.opportunities.find()}


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_create_move_lose_and_win_with_the_order(crm: Crm, lang: str) -> None:
    crm.now = lambda: NOW
    cid = crm.customers.create({"name": "王芳", "company": "北方机械"})["id"]
    other = crm.customers.create({"name": "Zhang Wei", "company": "Acme"})["id"]
    crm.opportunities.create({"customer_id": other, "title": "Support", "amount": 8000, "stage": "negotiation",
                              "close_date": "2026-09-01"})
    app = CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen)
        # the overdue deal is on the board, marked
        cards = screen.board["negotiation"]
        assert [c["title"] for c in cards] == ["Support"] and cards[0]["overdue"]

        # create: n, pick the customer, fill the form
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, CustomerPicker)
        await pilot.press(*"王芳")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"ERP", "tab", *"120000", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, PipelineScreen)
        erp = deals(crm)["ERP"]
        assert (erp["customer_id"], erp["amount"], erp["stage"]) == (cid, 120000.0, "lead")
        assert screen.selected()["id"] == erp["id"]  # the new card is selected

        # move it forward twice and back once
        await pilot.press("full_stop")
        await settle(pilot)
        await pilot.press("full_stop")
        await settle(pilot)
        await pilot.press("comma")
        await settle(pilot)
        assert deals(crm)["ERP"]["stage"] == "qualified"
        assert [m["to_stage"] for m in crm.pipeline.history(erp["id"])] == ["qualified", "proposal", "qualified"]
        assert screen.selected()["id"] == erp["id"]

        # lose it: the reason is asked, an empty one is refused
        await pilot.press("l")
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert deals(crm)["ERP"]["stage"] == "qualified"  # refused: no reason
        await pilot.press("l")
        await settle(pilot)
        await pilot.press(*"价格太高", "enter")
        await settle(pilot)
        lost = deals(crm)["ERP"]
        assert (lost["stage"], lost["lost_reason"], lost["closed_on"]) == ("lost", "价格太高", "2026-09-15")
        assert all(c["id"] != erp["id"] for cards in screen.board.values() for c in cards)

        # win the other one and create its order
        screen.query_one("#cards-negotiation", OptionList).focus()
        await pilot.pause()
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("y")
        await settle(pilot)
        won = deals(crm)["Support"]
        assert won["stage"] == "won" and won["order_id"]
        order = crm.orders.get(won["order_id"])
        assert (order["amount"], order["customer_id"], order["ordered_at"]) == (8000.0, other, "2026-09-15")
        assert screen.board["negotiation"] == []

        # the customer's Opportunities tab lists the lost deal with its reason
        app.open_customer(cid)
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, CustomerScreen)
        detail.query_one(TabbedContent).active = "opportunities"
        await settle(pilot)
        table = detail.query_one("#opportunities-table", DataTable)
        assert table.row_count == 1
        row = [str(c) for c in table.get_row_at(0)]
        assert row[0] == "ERP" and "价格太高" in row
        assert row[1] == ("Lost" if lang == "en" else "输单")


async def test_rep_filter_and_search_narrow_the_board(crm: Crm) -> None:
    cid = crm.customers.create({"name": "李娜", "company": "南方食品"})["id"]
    crm.opportunities.create({"customer_id": cid, "title": "Mine", "amount": 10, "stage": "lead"})
    crm.opportunities.create({"customer_id": cid, "title": "Theirs", "amount": 20, "stage": "lead"}, owner="li")
    app = CrmApp(crm=crm, config={}, lang="en", now=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert [c["title"] for c in screen.board["lead"]] == ["Mine", "Theirs"]
        await pilot.press("r")
        await settle(pilot)
        await pilot.press(*"li", "enter")
        await settle(pilot)
        assert [c["title"] for c in screen.board["lead"]] == ["Theirs"]
        await pilot.press("r", "ctrl+u", "enter")  # empty: all reps again
        await settle(pilot)
        await pilot.press("slash", *"mine")
        await settle(pilot)
        assert [c["title"] for c in screen.board["lead"]] == ["Mine"]
        assert crm.opportunities.count([Filter("stage", "=", "lead")]) == 2  # nothing changed


async def test_stale_deals_in_the_agenda(crm: Crm) -> None:
    cid = crm.customers.create({"name": "李娜"})["id"]
    deal = crm.opportunities.create({"customer_id": cid, "title": "Late deal", "amount": 10,
                                     "close_date": "2026-09-01"})
    app = CrmApp(crm=crm, config={}, lang="zh", now=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await settle(pilot)
        table = app.screen.query_one("#agenda-table")
        rows = table.rows_loaded()
        assert [r["id"] for r in rows] == [deal["id"]]
        assert "Late deal" in rows[0]["next_action"] and "预计成交" in rows[0]["next_action"]
        await pilot.press("n")  # a stale deal is edited: set its close date
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)


CUSTOM_STAGES = {"pipeline": {"stages": [
    {"id": "lead", "en": "First call", "zh": "首次接触", "probability": 5, "order": 1},
    {"id": "demo", "en": "Demo done", "zh": "已演示", "probability": 40, "order": 2},
    {"id": "won", "en": "Signed", "zh": "签约", "probability": 100, "order": 3},
    {"id": "lost", "en": "Dropped", "zh": "放弃", "probability": 0, "order": 4}]}}


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_escape_on_the_win_question_cancels_the_move(crm: Crm, lang: str) -> None:
    """Escape on "won: create the order?" decides nothing: the deal stays where it was;
    n wins it without an order, only when pressed."""
    from textual.widgets import Button

    cid = crm.customers.create({"name": "王芳"})["id"]
    deal = crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": 500, "stage": "negotiation"})
    app = CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#cards-negotiation", OptionList).focus()
        await pilot.pause()
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen
        kept = crm.opportunities.get(deal["id"])
        assert (kept["stage"], kept["order_id"], kept["closed_on"]) == ("negotiation", None, None)
        assert crm.pipeline.history(deal["id"]) == [] and crm.orders.count() == 0
        # Enter on the focused button is the cancel too
        await pilot.press("w")
        await settle(pilot)
        assert app.screen.focused is app.screen.query_one("#cancel", Button)
        await pilot.press("enter")
        await settle(pilot)
        assert crm.opportunities.get(deal["id"])["stage"] == "negotiation"
        # n: won, no order
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        won = crm.opportunities.get(deal["id"])
        assert (won["stage"], won["order_id"]) == ("won", None) and crm.orders.count() == 0


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_form_offers_the_configured_open_stages_by_their_labels(db_path, lang: str) -> None:
    from textual.widgets import Select

    from crm_tui.config import Config

    crm = Crm(db_path, rep="wang", config=Config.from_mapping(CUSTOM_STAGES))
    try:
        cid = crm.customers.create({"name": "王芳"})["id"]
        crm.opportunities.create({"customer_id": cid, "title": "Pumps", "amount": 10, "stage": "demo"})
        app = CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("f8")
            await settle(pilot)
            screen = app.screen
            heads = [str(c.query_one(".stage-head").render()).splitlines()[0].split(" · ")[0]  # then the count
                     for c in screen.query("StageColumn")]
            assert heads == (["First call", "Demo done"] if lang == "en" else ["首次接触", "已演示"])
            screen.query_one("#cards-demo", OptionList).focus()
            await pilot.pause()
            await pilot.press("e")
            await settle(pilot)
            form = app.screen
            assert isinstance(form, FormScreen)
            select = form.query_one("#field-stage", Select)
            labels = [str(prompt) for prompt, _ in select._options if _ is not Select.NULL]
            # open stages only, by their configured labels: won and lost go through the board
            assert labels == (["First call", "Demo done"] if lang == "en" else ["首次接触", "已演示"])
            select.value = "lead"
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert deals(crm)["Pumps"]["stage"] == "lead"
    finally:
        crm.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [(64, 24), (80, 24), (200, 50)])
async def test_each_stage_head_keeps_its_amount_line_at_any_width(crm: Crm, lang: str, size: tuple[int, int]) -> None:
    """Below 80 columns a stage's name and count wrapped onto the head's second line
    and pushed the weighted amount out of its two lines: each line now stays on its
    line (the name cut with an ellipsis), and a column too narrow for the words keeps
    the amount alone."""
    from textual.geometry import Region
    from textual.widgets import Static

    from crm_tui.screens.pipeline import StageColumn, short_money

    crm.now = lambda: NOW
    cid = crm.customers.create({"name": "王芳"})["id"]
    for stage, amount in (("lead", 1_234_567), ("qualified", 98_000), ("proposal", 32_300_000),
                          ("negotiation", 4_500)):
        for i in range(3):
            crm.opportunities.create({"customer_id": cid, "title": f"{stage} {i}", "amount": amount, "stage": stage})
    app = CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=size) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen) and screen.totals is not None
        weighted = {s["stage"]: s["weighted"] for s in screen.totals["stages"]}
        columns = list(screen.query(StageColumn))
        assert [c.stage_id for c in columns] == ["lead", "qualified", "proposal", "negotiation"]
        for column in columns:
            head = column.query_one(".stage-head", Static)
            drawn = [strip.text.strip() for strip in head.render_lines(Region(0, 0, *head.size))]
            assert len(drawn) == 2 and drawn[0], drawn
            assert short_money(weighted[column.stage_id]) in drawn[1], (column.stage_id, drawn)
            if size[0] >= 80:  # room for the stage's count and the words too
                assert drawn[0].endswith("3" if lang == "en" else "3 个"), drawn
                assert ("weighted" if lang == "en" else "加权") in drawn[1], drawn



@pytest.mark.parametrize("amount", [80, 800])
@pytest.mark.parametrize(("lang", "word"), [("en", "overdue"), ("zh", "已逾期")])
async def test_an_overdue_cards_word_stays_whole_at_80x24(crm: Crm, lang: str, word: str, amount: int) -> None:
    """The Chinese cards broke 已逾期 as 已逾 / 期 (a deal of 80) or 已 / 逾期 (of 800):
    their text breaks between any two Chinese characters, as a title must, where
    'overdue' stayed whole. A word the catalog wrote as one is now kept whole by the
    same line breaking (widgets/wrap.line_spans, which the CLI's help uses too)."""
    from textual.geometry import Region

    from crm_tui.screens.pipeline import StageColumn

    crm.now = lambda: NOW
    cid = crm.customers.create({"name": "王芳"})["id"]
    crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": amount, "stage": "negotiation",
                              "close_date": "2026-09-01"})
    app = CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen)
        column = next(c for c in screen.query(StageColumn) if c.stage_id == "negotiation")
        options = column.query_one(OptionList)
        drawn = [strip.text.strip() for strip in options.render_lines(Region(0, 0, *options.size))]
    card = [line for line in drawn if line]
    assert card[:2] == ["王芳", "ERP"], card
    assert f"{amount} ⚠2026-09-01" in card[2], card
    assert word in card[2].split() or card[3] == word, card
