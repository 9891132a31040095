"""Defects found by using the terminal UI as a rep does (a field trial in tmux at
80x24 and large, in English and Chinese), each driven here with Pilot as the rep met
it, then checked on the screen and in the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from laptops import sync, two_laptops
from pilot_steps import settle, top_bar
from rich.cells import cell_len
from textual.widgets import DataTable, Input, Label, OptionList, Select, Static, TabbedContent, TextArea
from textual.widgets._footer import FooterKey

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.domain.orders import parse_lines
from crm_tui.domain.times import shown_time
from crm_tui.screens.conflicts import ConflictsScreen
from crm_tui.screens.dashboard import DashboardScreen
from crm_tui.screens.form import FormScreen
from crm_tui.screens.merge import MergeScreen
from crm_tui.screens.orders import OrdersScreen
from crm_tui.screens.pipeline import PipelineScreen, PromptScreen
from crm_tui.widgets.footer import CrmFooter
from crm_tui.widgets.record_table import RecordTable

NOW = dt.datetime(2026, 3, 2, 9, 0)
SMALL = (80, 24)

pytestmark = pytest.mark.anyio


async def merge_view(pilot) -> None:
    """Open the first customer of the list, then its merge view (M)."""
    await settle(pilot)
    pilot.app.screen.query_one("#customers").focus()
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("M")
    await settle(pilot)


async def pipeline_board(pilot) -> tuple[PipelineScreen, Input]:
    """Open the sales pipeline (F8): the board and its search box."""
    await settle(pilot)
    await pilot.press("f8")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, PipelineScreen)
    return screen, screen.query_one("#pipeline-search", Input)


async def edit_form(pilot, key: str, table: object, *, screen: type | None = None) -> FormScreen:
    """Open a screen by its key, focus its list (`table`: a selector or a widget type)
    and press e: the edit form of the record under the cursor."""
    app = pilot.app
    await pilot.press(key)
    await settle(pilot)
    if screen is not None:
        assert isinstance(app.screen, screen)
    app.screen.query_one(table).focus()
    await pilot.press("e")
    await settle(pilot)
    form = app.screen
    assert isinstance(form, FormScreen)
    return form


def make_app(crm: Crm, lang: str = "en") -> CrmApp:
    return CrmApp(crm=crm, config={}, lang=lang, now=lambda: NOW)


async def test_an_order_edit_refused_for_its_date_keeps_the_old_lines(crm: Crm) -> None:
    """Editing an order's lines and mistyping its date: the form says what is wrong
    with the date, and nothing is written (the lines were saved on their own before,
    so leaving the form kept half of the edit)."""
    customer = crm.customers.create({"name": "李娜", "company": "南方食品"})
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
    order = crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-03-01"}, parse_lines("GT-1:4"))
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        form = await edit_form(pilot, "f5", "#orders-table", screen=OrdersScreen)
        form.query_one("#field-lines").text = "GT-1:9"
        form.query_one("#field-ordered_at").value = "2026-13-45"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form, "a refused edit keeps the form open"
        assert "2026-13-45" in form.errors_shown()["ordered_at"]
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("y")  # discard the edit
        await settle(pilot)
    kept = crm.orders.get(order["id"])
    assert (kept["ordered_at"], kept["quantity"], kept["amount"]) == ("2026-03-01", 4, 1280.0)
    assert [line["quantity"] for line in crm.order_book.lines(order["id"])] == [4.0]


async def test_an_order_edit_names_a_bad_line_and_a_bad_date_together(crm: Crm) -> None:
    """Both mistakes of one save are shown at once, each under its field."""
    customer = crm.customers.create({"name": "李娜"})
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
    crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-03-01"}, parse_lines("GT-1:4"))
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        form = await edit_form(pilot, "f5", "#orders-table")
        form.query_one("#field-lines").text = "NOSUCH:1"
        form.query_one("#field-ordered_at").value = "2026-13-45"
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = form.errors_shown()
        assert "2026-13-45" in shown["ordered_at"] and "NOSUCH" in shown["lines"]


async def test_the_pipeline_search_lets_the_rep_out_with_escape_and_down(crm: Crm) -> None:
    """After searching the board, Esc clears the box, Esc again (or ↓) goes back to
    the cards, so w / l / n / e act on a card again instead of typing into the box."""
    customer = crm.customers.create({"name": "王芳", "company": "北方机械"})
    deal = crm.opportunities.create({"customer_id": customer["id"], "title": "ERP 升级", "amount": 1000,
                                     "stage": "lead"})
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        screen, box = await pipeline_board(pilot)
        await pilot.press("slash", *"ERP")
        await settle(pilot)
        assert screen.focused is box and box.value == "ERP"
        await pilot.press("escape")
        await settle(pilot)
        assert box.value == "" and screen.focused is box
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(screen.focused, OptionList), screen.focused
        await pilot.press("slash", *"王")
        await pilot.press("down")
        await settle(pilot)
        assert isinstance(screen.focused, OptionList) and box.value == "王"
        assert screen.selected() is not None and screen.selected()["id"] == deal["id"]
        await pilot.press("l")  # lose: asks the reason, typed nowhere else
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen) and box.value == "王"


def conflict_on_purchasing_power(tmp: Path) -> Crm:
    """Two laptops set one customer's purchasing power apart; the second to sync holds
    the conflict (and a refused new customer of another territory)."""
    a, b, http = two_laptops(tmp)
    cid = a.customers.create({"name": "张伟", "territory": "east"})["id"]
    vid = a.visits.create({"customer_id": cid, "channel": "phone", "purpose": "visit",
                           "visited_at": "2026-03-01 10:00"})["id"]
    sync(a, http), sync(b, http)
    a.customers.update(cid, {"purchasing_power": "high"})
    b.customers.update(cid, {"purchasing_power": "low"})
    a.visits.update(vid, {"outcome": "下周再谈"})
    b.visits.update(vid, {"outcome": "已签约"})
    b.customers.create({"name": "西部客户", "territory": "west"})  # not li's territory: refused
    sync(a, http), sync(b, http)
    return b


async def test_conflicts_name_the_field_and_its_values_in_the_reps_language(tmp_path: Path) -> None:
    """On F7 in Chinese, a conflict reads 购买力 低 / 高, not purchasing_power low /
    high, and a refused change names its kind and fields in Chinese too."""
    crm = conflict_on_purchasing_power(tmp_path)
    app = make_app(crm, lang="zh")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen) and screen.rows and screen.rejected
        conflicts = screen.query_one("#conflicts-table", DataTable)
        rows = sorted([str(cell) for cell in conflicts.get_row_at(i)][1:5] for i in range(conflicts.row_count))
        assert rows == [["张伟", "购买力", "低", "高"], ["拜访 张伟", "结果", "已签约", "下周再谈"]], rows
        refused = [str(cell) for cell in screen.query_one("#rejected-table", DataTable).get_row_at(0)]
        assert refused[1] == "西部客户" and refused[2] == "新增", refused
        assert "姓名" in refused[3] and "name" not in refused[3], refused
        conflicts.move_cursor(row=[r["field"] for r in screen.rows].index("purchasing_power"))
        await pilot.press("m")  # keep mine
        await settle(pilot)
        assert [r["field"] for r in screen.rows] == ["outcome"]
    assert [c["purchasing_power"] for c in crm.customers.find() if c["name"] == "张伟"] == ["low"]


async def test_the_merge_view_keeps_every_screen_key_in_its_top_bar_at_80x24(crm: Crm) -> None:
    """The merge view's title names the customer once loaded; the keys beside it are
    fitted again then, so F9 and ? are not cut off the top bar of a small terminal."""
    crm.customers.create({"name": "David Evans", "company": "Acme Trading Co."})
    crm.customers.create({"name": "David Evans", "company": "Acme Trading Co.", "phone": "13900001111"})
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await merge_view(pilot)
        assert isinstance(app.screen, MergeScreen)
        title = str(app.screen.query_one("#title", Static).render())
        assert "David Evans" in title, title
        shown = top_bar(app)
        assert "f9" in shown and "?" in shown, shown


async def test_the_dashboard_shows_todays_figures_again_when_the_rep_comes_back(crm: Crm) -> None:
    """A complaint opened on another screen counts on the dashboard as soon as F6 shows
    it again, as every list reloads when shown: not only after r."""
    customer = crm.customers.create({"name": "王芳"})
    app = make_app(crm)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.workflow.open({"customer_id": customer["id"], "type": "delivery", "priority": "high",
                           "description": "晚到三天"})
        await pilot.press("f6")
        await settle(pilot)
        assert "Complaints open: 1" in str(app.screen.query_one("#dashboard-agenda", Static).render())
        await pilot.press("f2")
        await settle(pilot)
        app.screen.query_one("#customers").focus()
        await pilot.press("c")  # a second complaint, through the form
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        form.query_one("#field-type", Select).value = "price"
        form.query_one("#field-description", TextArea).text = "发票价格不对"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        assert "Complaints open: 2" in str(app.screen.query_one("#dashboard-agenda", Static).render())
        screen = app.screen
        assert isinstance(screen, DashboardScreen) and screen.data is not None
        screen.show({**screen.data, "agenda": {**screen.data["agenda"], "contacts_overdue": 14674}})
        assert "Customers past max. contact gap: 14,674" in str(screen.query_one("#dashboard-agenda", Static).render())


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_quote_forms_labels_stay_whole_at_80x24(crm: Crm, lang: str) -> None:
    """The quotation form's labels each fit their column on a small terminal: the
    lines' format is shown inside the box, as on the order form, not in a label
    broken mid-word ("(SKU:QTY[:PRICE[:DI" / "SCOUNT%]]...")."""
    customer = crm.customers.create({"name": "王芳"})
    crm.opportunities.create({"customer_id": customer["id"], "title": "ERP", "amount": 5000, "stage": "lead"})
    app = make_app(crm, lang=lang)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        app.screen.query_one("#cards-lead", OptionList).focus()
        await pilot.press("q")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        for label in form.query(".form-label").results(Label):
            assert label.size.height == 1, str(label.render())


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_a_small_footer_gives_its_room_to_the_keys_that_apply(crm: Crm, lang: str) -> None:
    """At 80x24 the footer cannot show every key of the complaints queue; the greyed
    ones (acknowledge, for a complaint already in progress) leave first, so the keys
    that apply to the selected complaint are the ones shown."""
    customer = crm.customers.create({"name": "王芳"})
    workflow = crm.complaint_workflow
    complaint = workflow.open({"customer_id": customer["id"], "type": "delivery", "priority": "high",
                               "description": "晚到三天"})
    workflow.assign(complaint["id"], "zhaomin")
    app = make_app(crm, lang=lang)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        app.screen.query_one("#complaints-table").focus()
        await settle(pilot)
        footer = app.screen.query_one(CrmFooter)
        shown = [k for k in footer.query(FooterKey) if k.display]
        left_out = {b.binding.action for b in app.screen.active_bindings.values()
                    if b.binding.show and b.enabled} - {k.action for k in shown}
        greyed = [k.action for k in shown if k.has_class("-disabled")]
        assert not (greyed and left_out), (greyed, left_out)
        assert "first_response" in {k.action for k in shown}


async def test_the_merge_view_shows_a_name_with_brackets_as_typed(crm: Crm) -> None:
    """A name holding brackets ("[VIP] 王[/b]芳") is text, not markup: the merge view
    names it whole and shows its fields to choose from (the markup error stopped it)."""
    name = "[VIP] 王[/b]芳"
    crm.customers.create({"name": name, "company": "北方机械"})
    crm.customers.create({"name": name, "company": "北方机械", "phone": "13900001111"})
    app = make_app(crm)
    async with app.run_test(size=(120, 40)) as pilot:
        await merge_view(pilot)
        screen = app.screen
        assert isinstance(screen, MergeScreen) and screen.candidates
        screen.query_one("#merge-candidates", DataTable).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert name in str(screen.query_one("#merge-hint", Static).render())
        assert screen.query_one("#merge-fields", DataTable).row_count > 0
        await pilot.press("ctrl+s", "y")
        await settle(pilot)
    assert [c["name"] for c in crm.customers.find()] == [name]


async def test_enter_on_a_tab_reached_with_brackets_edits_the_record_under_the_cursor(crm: Crm) -> None:
    """] moves to the next tab of a customer and its list takes the keys: Enter there
    opens the visit under the cursor (the tab bar kept the focus, so Enter did nothing)."""
    customer = crm.customers.create({"name": "张伟"})
    crm.visits.create({"customer_id": customer["id"], "channel": "phone", "purpose": "visit",
                       "visited_at": "2026-03-01 10:00", "notes": "谈了价格"})
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        app.screen.query_one("#customers").focus()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")  # contacts, then visits
        await settle(pilot)
        assert app.screen.query_one("#tabs", TabbedContent).active == "visits"
        await pilot.press("enter")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen) and form.query_one("#field-notes", TextArea).text == "谈了价格"
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("left_square_bracket", "left_square_bracket")  # back to the profile
        await settle(pilot)
        assert app.screen.query_one("#tabs", TabbedContent).active == "profile"
        await pilot.press("e")  # the customer's own edit still answers there
        await settle(pilot)
        assert isinstance(app.screen, FormScreen) and app.screen.query_one("#field-name", Input).value == "张伟"


async def test_a_slash_pressed_in_a_search_box_that_has_the_focus_starts_the_search(crm: Crm) -> None:
    """The footer says "/ Search"; the customer and product lists open with the focus
    already in their search box, so a rep pressing / then 张伟 searched for "/张伟" and
    found nothing. A / typed into an empty search box only means "search"."""
    crm.customers.create({"name": "张伟", "company": "华为技术"})
    crm.customers.create({"name": "李娜"})
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
    crm.opportunities.create({"customer_id": crm.customers.find(search="张伟")[0]["id"], "title": "ERP",
                              "amount": 100, "stage": "lead"})
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"张伟")
        await settle(pilot)
        assert app.screen.query_one("#search", Input).value == "张伟"
        assert [r["name"] for r in app.screen.query_one("#customers", RecordTable).rows_loaded()] == ["张伟"]
        for key, box_id, text in (("f5", "#orders-search", "zw"), ("f10", "#products-filter", "GT"),
                                  ("f8", "#pipeline-search", "ERP")):
            await pilot.press(key)
            await settle(pilot)
            box = app.screen.query_one(box_id, Input)
            await pilot.press("slash", "slash", *text)  # to the box, and again in it
            await settle(pilot)
            assert box.value == text, (key, box.value)


async def test_the_merge_view_says_why_two_customers_look_alike_in_chinese(crm: Crm) -> None:
    """The reasons beside a probable duplicate are in the rep's language (同名同公司),
    not English ("same name and company")."""
    crm.customers.create({"name": "David Evans", "company": "Acme", "mobile": "13900001111"})
    crm.customers.create({"name": "David Evans", "company": "Acme", "mobile": "13900001111"})
    app = make_app(crm, lang="zh")
    async with app.run_test(size=(120, 40)) as pilot:
        await merge_view(pilot)
        screen = app.screen
        assert isinstance(screen, MergeScreen) and screen.candidates
        why = str(screen.query_one("#merge-candidates", DataTable).get_row_at(0)[2])
        assert "same" not in why and "电话相同" in why and "姓名和公司相同" in why, why


@pytest.mark.parametrize(("lang", "yes", "no"), [("en", "Yes", "No"), ("zh", "是", "否")])
async def test_a_products_active_flag_is_a_yes_or_no_choice(crm: Crm, lang: str, yes: str, no: str) -> None:
    """The product form offers Active as Yes / No (是 / 否), as the list shows it, not a
    box holding "1"; a product taken off sale through it reads No in the list."""
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320, "active": 1})
    app = make_app(crm, lang=lang)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        form = await edit_form(pilot, "f10", RecordTable)
        active = form.query_one("#field-active")
        assert isinstance(active, Select), active
        assert [str(label) for label, value in active._options if value in ("1", "0")] == [yes, no]
        assert active.value == "1"
        active.value = "0"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, FormScreen)
    assert crm.products.find()[0]["active"] == 0


async def test_a_complaints_due_time_reads_in_its_form_as_in_the_queue(crm: Crm) -> None:
    """The edit form shows the due time as the queue does (2026-03-04 10:00), not the
    stored text (2026-03-04T10:00:00); left as it is, nothing is written."""
    customer = crm.customers.create({"name": "王芳"})
    complaint = crm.complaint_workflow.open({"customer_id": customer["id"], "type": "delivery", "priority": "high",
                                             "description": "晚到三天", "received_at": "2026-03-02 09:00"})
    before = crm.complaints.get(complaint["id"])
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        form = await edit_form(pilot, "f4", "#complaints-table")
        due = form.query_one("#field-due_at", Input).value
        assert due == shown_time(before["due_at"]) and "T" not in due, due
        form.query_one("#field-priority", Select).value = "urgent"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, FormScreen)
    after = crm.complaints.get(complaint["id"])
    assert after["priority"] == "urgent" and after["due_at"] == before["due_at"]


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_customer_lists_count_line_is_read_whole_at_80x24(crm: Crm, lang: str) -> None:
    """A new user's empty list says how to add customers, and a search that finds
    nothing says how to clear it: at 80x24 the line takes a second row rather than
    cutting the hint off ("… `crm customers import")."""
    app = make_app(crm, lang=lang)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        status = app.screen.query_one("#status-line", Static)
        text = str(status.render())
        assert "import" in text
        assert cell_len(text) <= status.content_region.width * status.content_region.height, text
        crm.customers.create({"name": "张伟"})
        await pilot.press(*"nosuchname")
        await settle(pilot)
        text = str(status.render())
        assert cell_len(text) <= status.content_region.width * status.content_region.height, text
        await pilot.press("escape")  # clears the search: one row again
        await settle(pilot)
        assert status.content_region.height == 1, str(status.render())


async def test_an_order_with_a_refund_is_not_deleted_from_under_it(crm: Crm) -> None:
    """Delete on a sale that has a refund is refused, said in the rep's language: the
    refund left alone would take from net sales a sale no longer there. Deleting the
    refund first, then the sale, works."""
    customer = crm.customers.create({"name": "李娜"})
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
    sale = crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-03-01"}, parse_lines("GT-1:4"))
    refund = crm.order_book.refund(sale["id"], parse_lines("GT-1:1"), ordered_at="2026-03-02")
    app = make_app(crm, lang="zh")
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        table = app.screen.query_one(RecordTable)
        table.focus()
        assert [r["id"] for r in table.rows_loaded()] == [refund["id"], sale["id"]]  # newest first
        table.cursor = 1
        await pilot.press("delete", "y")
        await settle(pilot)
        said = [n.message for n in app._notifications]
        assert any("退款" in m and refund["id"] in m and "refund" not in m for m in said), said
        assert crm.orders.get(sale["id"])["amount"] == 1280.0
        table.cursor = 0
        await pilot.press("delete", "y")  # the refund first
        await settle(pilot)
        table.cursor = 0
        await pilot.press("delete", "y")  # then the sale
        await settle(pilot)
    assert crm.orders.count() == 0


async def test_the_orders_list_shows_a_refund_negative_and_a_cancelled_order_as_such(crm: Crm) -> None:
    """On F5 a refund reads as it counts in the sales figures, negative, as on the
    customer's Orders tab (it read exactly like a second sale), and each order says
    its status (a cancelled one read like a sale too)."""
    customer = crm.customers.create({"name": "李娜"})
    crm.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
    sale = crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-03-01"}, parse_lines("GT-1:4"))
    crm.order_book.refund(sale["id"], parse_lines("GT-1:1"), ordered_at="2026-03-02")
    crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-02-01", "status": "cancelled"},
                       parse_lines("GT-1:2"))
    app = make_app(crm, lang="zh")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        table = app.screen.query_one(RecordTable)
        lines = ["".join(seg.text for seg in table.render_line(y)) for y in range(1, 4)]
        assert "-320.00" in lines[0] and "1,280.00" in lines[1] and "已取消" in lines[2], lines


async def test_the_conflicts_footer_offers_keys_only_for_what_there_is_to_act_on(tmp_path: Path,
                                                                                  crm: Crm) -> None:
    """F7 with nothing to review showed keep mine / theirs, retry and discard, keys
    that did nothing; they come with a conflict or a refused change, at 80x24 too."""

    def footer_actions() -> set[str]:
        return {k.action for k in app.screen.query(FooterKey) if k.display}

    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen) and not app.screen.rows
        assert not footer_actions() & {"keep('mine')", "keep('theirs')", "retry", "discard"}, footer_actions()
        assert {"refresh", "help"} <= footer_actions()
    app = make_app(conflict_on_purchasing_power(tmp_path))
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        assert app.screen.rows and app.screen.rejected
        assert {"keep('mine')", "keep('theirs')", "retry", "discard"} <= footer_actions(), footer_actions()


async def test_the_pipeline_search_finds_customers_by_pinyin_as_every_list_does(crm: Crm) -> None:
    """F8's search matched only typed text; a customer is found by pinyin in full or
    by initials (zhangwei, zw) everywhere else. The board uses the customer list's own
    search now: the cards and the columns' counts, at 80x24."""
    zhang = crm.customers.create({"name": "张伟", "company": "华信"})
    wang = crm.customers.create({"name": "王芳", "company": "北方机械", "mobile": "13900001111"})
    deal = crm.opportunities.create({"customer_id": zhang["id"], "title": "ERP 升级", "amount": 1000, "stage": "lead"})
    crm.opportunities.create({"customer_id": wang["id"], "title": "CRM 部署", "amount": 500, "stage": "lead"})
    app = make_app(crm)
    async with app.run_test(size=SMALL) as pilot:
        screen, box = await pipeline_board(pilot)
        for typed, found in (("zw", [deal["title"]]), ("zhangwei", [deal["title"]]), ("wf", ["CRM 部署"]),
                             ("华信", [deal["title"]]), ("erp", [deal["title"]]), ("139 0000", ["CRM 部署"]),
                             ("", ["ERP 升级", "CRM 部署"])):
            box.value = ""
            await pilot.press("slash", *typed) if typed else None
            await settle(pilot)
            shown = [c["title"] for cards in screen.board.values() for c in cards]
            assert sorted(shown) == sorted(found), (typed, shown)
            lead = next(s for s in screen.totals["stages"] if s["stage"] == "lead")
            assert lead["count"] == len(found), (typed, lead)
