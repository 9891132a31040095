"""The terminal UI driven as a rep drives it: Pilot key presses on a real database,
then a look at the screen and at the data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pilot_steps import pick_from_palette, settle

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.domain.search import pinyin_key
from crm_tui.screens.agenda import AgendaScreen
from crm_tui.screens.complaints import ComplaintsScreen
from crm_tui.screens.customers import CustomersScreen
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.form import FormScreen
from crm_tui.screens.modals import ConfirmScreen, CustomerPicker, HelpScreen
from crm_tui.screens.orders import OrdersScreen
from crm_tui.widgets.record_table import RecordTable

NOW = dt.datetime(2026, 3, 2, 9, 0)
SIZE = (120, 40)

# anyio's pytest plugin runs the async tests (anyio comes with httpx).
pytestmark = pytest.mark.anyio


def fixed_now() -> dt.datetime:
    return NOW


@pytest.fixture
def seeded(crm: Crm) -> Crm:
    for name, company, phone in (("王芳", "北方机械", "13900001111"), ("李娜", "南方食品", "13700002222"),
                                 ("Zhang Wei", "Acme", "13600003333")):
        crm.customers.create({"name": name, "company": company, "phone": phone})
    return crm


def make_app(crm: Crm, **kw) -> CrmApp:
    return CrmApp(crm=crm, config=kw.pop("config", {}), lang=kw.pop("lang", "en"), now=fixed_now, **kw)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*text)


def table(app: CrmApp) -> RecordTable:
    return app.screen.query_one(RecordTable)


async def search(pilot, text: str) -> list[str]:
    app = pilot.app
    search_box = app.screen.query_one("#search")
    search_box.focus()
    search_box.value = ""
    await settle(pilot)
    await type_text(pilot, text)
    await settle(pilot)
    return [r["name"] for r in table(app).rows_loaded()]


async def test_add_customer_then_find_by_chinese_name_and_pinyin(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen) and table(app).total == 3
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        await type_text(pilot, "张伟")
        app.screen.query_one("#field-company").focus()
        await type_text(pilot, "华东贸易")
        app.screen.query_one("#field-mobile").focus()
        await type_text(pilot, "138 1234 5678")
        await pilot.press("ctrl+s")
        await settle(pilot)
        # saving a new customer opens it
        assert isinstance(app.screen, CustomerScreen)
        stored = seeded.customers.find(search="张伟")
        assert [(c["name"], c["mobile"]) for c in stored] == [("张伟", "+8613812345678")]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen)
        assert await search(pilot, "张伟") == ["张伟"]
        assert await search(pilot, "zw") == ["张伟"]  # initials; "Zhang Wei" has no Han characters
        assert await search(pilot, "zhangwei") == ["张伟"]
        assert "1 of 4" in str(app.screen.query_one("#status-line").render())


async def test_log_visit_shows_in_agenda_and_can_be_done(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await search(pilot, "王芳")
        await pilot.press("enter")  # from the search box to the list
        await pilot.press("v")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen) and form.title_text == "Log a visit"
        form.query_one("#field-notes").focus()
        await type_text(pilot, "谈了新报价")
        form.query_one("#field-next_action").focus()
        await type_text(pilot, "send samples")
        form.query_one("#field-next_action_date").focus()
        await type_text(pilot, "2026-03-02")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen)
        await pilot.press("f3")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
        rows = table(app).rows_loaded()
        assert [(r["customer_name"], r["bucket"], r["next_action"]) for r in rows] == [("王芳", "today", "send samples")]
        assert "Today 1" in str(app.screen.query_one("#agenda-counts").render())
        await pilot.press("d")
        await settle(pilot)
        assert table(app).total == 0
        assert seeded.visits.find()[0]["follow_up_done"] == 1


async def _open_complaint(crm: Crm) -> dict:
    customer = crm.customers.find(search="李娜")[0]
    app_flow = make_app(crm).workflow
    return app_flow.open({"customer_id": customer["id"], "type": "delivery", "priority": "high",
                          "description": "货物迟到"})


async def test_complaint_from_new_to_closed(seeded: Crm) -> None:
    complaint = await _open_complaint(seeded)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert isinstance(app.screen, ComplaintsScreen)
        assert [r["id"] for r in table(app).rows_loaded()] == [complaint["id"]]

        def status() -> str:
            return seeded.complaints.get(complaint["id"])["status"]

        await pilot.press("x")  # close is not allowed for a new complaint: the key does nothing
        await settle(pilot)
        assert status() == "new"
        await pilot.press("a")
        await settle(pilot)
        assert status() == "acknowledged"
        await pilot.press("h")
        await pilot.pause()
        await type_text(pilot, "Mia")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert (status(), seeded.complaints.get(complaint["id"])["handler"]) == ("in_progress", "Mia")
        await pilot.press("f")
        await settle(pilot)
        assert seeded.complaints.get(complaint["id"])["first_response_at"] == "2026-03-02T09:00:00"
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("ctrl+s")  # resolution and root cause are required
        await settle(pilot)
        assert set(app.screen.errors_shown()) == {"resolution", "root_cause"}
        await type_text(pilot, "resent")
        app.screen.query_one("#field-root_cause").focus()
        await type_text(pilot, "late truck")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert status() == "resolved"
        assert table(app).total == 0  # no longer open
        for _ in range(4):  # open -> new -> acknowledged -> in progress -> resolved
            await pilot.press("tab")
        await settle(pilot)
        assert app.screen.view == "resolved"
        await pilot.press("x")
        await settle(pilot)
        assert status() == "closed"
        assert seeded.complaints.get(complaint["id"])["closed_at"] == "2026-03-02T09:00:00"


async def test_enter_on_a_complaint_opens_the_complaint_and_c_its_customer(seeded: Crm) -> None:
    """As in the orders and the pipeline, Enter opens what the row is (the complaint's
    form); c opens its customer. Enter used to open the customer's profile."""
    complaint = await _open_complaint(seeded)
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        table(app).focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FormScreen)
        assert app.screen.query_one("#field-description").text == complaint["description"]
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ComplaintsScreen)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == complaint["customer_id"]


async def test_invalid_phone_shows_error_next_to_field(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        await type_text(pilot, "Bob")
        app.screen.query_one("#field-phone").focus()
        await type_text(pilot, "12345")
        await pilot.press("ctrl+s")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        errors = form.errors_shown()
        assert list(errors) == ["phone"] and "not a valid phone number" in errors["phone"]
        assert form.query_one("#error-phone").region.y > form.query_one("#field-phone").region.y
        assert seeded.customers.count() == 3


async def test_leaving_a_form_with_unsaved_changes_asks_first(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        await type_text(pilot, "Half typed")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # keep editing
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert app.screen.query_one("#field-name").value == "Half typed"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # discard
        await pilot.pause()
        assert isinstance(app.screen, CustomersScreen)
        assert seeded.customers.count() == 3
        # an untouched form leaves without asking
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CustomersScreen)


async def test_add_and_edit_an_order(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, CustomerPicker)
        await type_text(pilot, "lina")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        # Two lines: a product of the catalogue at its list price, 10 % off, and one
        # typed with its price.
        seeded.products.create({"sku": "GT-1", "name": "绿茶", "list_price": 320})
        form.query_one("#field-lines").focus()
        await type_text(pilot, "GT-1:4::10")
        await pilot.press("enter")
        await type_text(pilot, "茶具:1:128.5")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, OrdersScreen)
        rows = table(app).rows_loaded()
        assert [(r["customer_name"], r["product"], r["amount"], r["ordered_at"], r["status"]) for r in rows] == [
            ("李娜", "绿茶 +1", 1280.5, "2026-03-02", "confirmed")]  # 4 × 320 × 0.9 + 128.50
        lines = seeded.order_book.lines(rows[0]["id"])
        assert [(x["sku"], x["product"], x["quantity"], x["unit_price"], x["discount"], x["amount"]) for x in lines] == [
            ("GT-1", "绿茶", 4.0, 320.0, 10.0, 1152.0), (None, "茶具", 1.0, 128.5, None, 128.5)]
        await pilot.press("e")
        await settle(pilot)
        assert app.screen.query_one("#field-lines").text == "GT-1:4:320:10\n茶具:1:128.50"
        app.screen.query_one("#field-lines").text = "GT-1:5"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert (seeded.orders.find()[0]["quantity"], seeded.orders.find()[0]["amount"]) == (5, 1600.0)
        assert len(seeded.order_book.lines(rows[0]["id"])) == 1


async def test_help_lists_the_screen_keys_and_keymap_rebinds(seeded: Crm) -> None:
    app = make_app(seeded, config={"keys": {"customers.new": "ctrl+b"}})
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause()
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        described = {b.binding.description: app.get_key_display(b.binding) for b in help_screen.bindings}
        assert described["New customer"] == "^b"
        assert "Filters" in described and "Agenda" in described
        await pilot.press("escape")
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)


async def test_palette_jumps_to_a_customer_by_pinyin(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pick_from_palette(pilot, "wangfang", "王芳")
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.file is not None and app.screen.file.customer["name"] == "王芳"


async def test_chinese_ui_from_config(seeded: Crm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_LANG")
    app = CrmApp(crm=seeded, config={"lang": "zh"}, now=fixed_now)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert str(app.screen.query_one("#title").render()) == "客户"
        described = {b.binding.description for b in app.screen.active_bindings.values()}
        assert {"新建客户", "筛选", "日程"} <= described
        assert "3 / 3 位客户" in str(app.screen.query_one("#status-line").render())


async def test_filters_and_sorting(seeded: Crm) -> None:
    seeded.customers.update(seeded.customers.find(search="李娜")[0]["id"], {"region": "华南"})
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await pilot.pause()
        app.screen.query_one("#filter-region").focus()
        await type_text(pilot, "华南")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert [r["name"] for r in table(app).rows_loaded()] == ["李娜"]
        assert "1 of 3" in str(app.screen.query_one("#status-line").render())
        await pilot.press("ctrl+f")
        await pilot.pause()
        await pilot.press("ctrl+l")  # clear
        await settle(pilot)
        assert table(app).total == 3
        await pilot.press("ctrl+r")  # name, descending
        await settle(pilot)
        names = [r["name"] for r in table(app).rows_loaded()]
        # Chinese names sort by their pinyin among the English ones
        assert names == sorted(names, key=lambda n: pinyin_key(n) or n.lower(), reverse=True)


async def test_errors_become_notifications_not_tracebacks(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        screen.run_db(lambda: seeded.customers.get("NO-SUCH-ID"))
        await settle(pilot)
        assert any("NO-SUCH-ID" in n.message for n in app._notifications)
        assert app.is_running


async def test_external_editor_without_a_terminal_is_a_warning(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press("ctrl+o")  # headless: no terminal to hand to $EDITOR
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert any(n.message == "No external editor in this terminal" for n in app._notifications)


async def test_dashboard_and_conflicts_are_reachable(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        assert type(app.screen).__name__ == "DashboardScreen"
        await pilot.press("f7")
        await settle(pilot)
        assert type(app.screen).__name__ == "ConflictsScreen"
        await pilot.press("escape", "f2")
        await settle(pilot)
        assert isinstance(app.screen, CustomersScreen)


async def test_delete_customer_asks_then_deletes(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await search(pilot, "王芳")
        await pilot.press("enter", "delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(pilot)
        assert seeded.customers.count() == 3
        await pilot.press("delete")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert seeded.customers.count() == 2 and not seeded.customers.find(search="王芳")
        assert table(app).total == 0


async def test_brackets_in_user_text_are_shown_not_parsed(crm: Crm) -> None:
    odd = crm.customers.create({"name": "[b]Bad[/", "company": "[/x] Co", "notes": "[red]"})
    crm.orders.create({"customer_id": odd["id"], "ordered_at": "2026-01-02", "product": "[i]tea", "amount": 1})
    app = make_app(crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).cursor_record["name"] == "[b]Bad[/"
        await pilot.press("ctrl+f")
        await pilot.pause()
        app.screen.query_one("#filter-region").focus()
        await type_text(pilot, "[x")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "[x" in str(app.screen.query_one("#status-line").render())
        await pilot.press("ctrl+f")
        await pilot.pause()
        await pilot.press("ctrl+l")
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert str(app.screen.query_one("#title").render()) == "[b]Bad[/ · [/x] Co"
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket", "f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "e")
        await pilot.pause()
        app.screen.query_one("#field-phone").focus()
        await type_text(pilot, "[oops")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "phone" in app.screen.errors_shown()
        assert app.is_running


async def test_mouse_sorts_selects_and_opens(seeded: Crm) -> None:
    app = make_app(seeded)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        grid = table(app)
        # the Company column starts after " " + Name (14 cells) + " "
        await pilot.click(RecordTable, offset=(17, 0))
        await settle(pilot)
        assert app.screen.sort == "company"
        assert [r["company"] for r in grid.rows_loaded()] == ["Acme", "北方机械", "南方食品"]
        await pilot.click(RecordTable, offset=(3, 2))
        await pilot.pause()
        assert grid.cursor == 1
        await pilot.double_click(RecordTable, offset=(3, 3))
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.file is not None and app.screen.file.customer["company"] == "南方食品"
