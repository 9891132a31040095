"""One-line fields hold one line: a name, a company, a phone, a region or a title with a
line break, a tab or another control character is refused on every path, naming the
field (and the row of a file), and the invisible characters a paste brings along
(zero-width space, BOM, word joiner) are dropped, so that 张\u200b伟 is stored, shown
and found as 张伟. Long text (notes, a complaint's description) keeps its line
breaks. A server refuses the same in a pushed change, and a laptop pulling such a
change from an older server sets it aside and goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_steps import invoke, refused
from pilot_steps import settle
from sync_server import Rep, Server
from test_sync_poison import inject
from test_sync_trust import Hand
from textual import events
from textual.widgets import Input, Static

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.domain.entities import CUSTOMER, ENTITIES
from crm_tui.domain.validation import ValidationError, clean
from crm_tui.i18n import t
from crm_tui.screens.detail import CustomerScreen
from crm_tui.screens.form import FormScreen

pytestmark = pytest.mark.usefixtures("wide_terminal")


# -- the rule --------------------------------------------------------------------------


@pytest.mark.parametrize("pasted", ["张\u200b伟", "\ufeff张伟", "张\u2060伟", " 张伟\u200d ", "\u200b 张伟",
                                    "张\u200e伟", "\u202e张伟"])
def test_invisible_characters_are_dropped_from_a_one_line_field(pasted: str) -> None:
    assert clean(CUSTOMER, {"name": pasted})["name"] == "张伟"


@pytest.mark.parametrize(("typed", "reason"), [
    ("张\n伟", "line break"), ("张\r\n伟", "line break"), ("张\u2028伟", "line break"), ("张\x85伟", "line break"),
    ("张\t伟", "tab"), ("张\x07伟", "U+0007"), ("张\x9b伟", "U+009B"), ("张\ufff9伟", "U+FFF9")])
def test_a_line_break_or_control_character_in_a_one_line_field_is_refused(typed: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        clean(CUSTOMER, {"name": "李娜", "company": typed})
    assert [e.field for e in caught.value.errors] == ["company"]
    assert reason in caught.value.errors[0].reason


def test_every_field_but_long_text_is_one_line() -> None:
    """Every kind of field refuses a line break inside its value, but the long text
    fields, which keep theirs (and tabs); surrounding line breaks are trimmed."""
    for ent in ENTITIES.values():
        for f in ent.fields:
            if f.computed:
                continue
            if f.multiline:
                assert clean(ent, {f.name: "第一行\n\t第二行\n"}, partial=True)[f.name] == "第一行\n\t第二行"
            else:
                with pytest.raises(ValidationError, match="line break"):
                    clean(ent, {f.name: "1\n2"}, partial=True)
    assert {f.name for f in CUSTOMER.fields if f.multiline} == {"notes"}
    assert {f.name for f in ENTITIES["complaints"].fields if f.multiline} == {"description", "resolution",
                                                                              "root_cause"}


def test_one_line_text_is_stored_composed_and_full_width_as_typed() -> None:
    assert clean(CUSTOMER, {"name": "Jose\u0301"})["name"] == "Jos\u00e9"  # NFC
    assert clean(CUSTOMER, {"name": "ＡＢＣ公司"})["name"] == "ＡＢＣ公司"  # no NFKC
    assert clean(CUSTOMER, {"name": "张\u3000伟"})["name"] == "张\u3000伟"  # a full-width space is a space
    # a phone pasted with a zero-width space is the number
    assert clean(CUSTOMER, {"name": "x", "mobile": "138\u200b1234\u200b5678"})["mobile"] == "+8613812345678"


# -- every write path --------------------------------------------------------------------


def test_cli_add_and_edit_refuse_a_line_break_and_drop_a_zero_width_space(crm: Crm, db_path: Path) -> None:
    refused(invoke(db_path, "customers", "add", "--name", "张\n伟"), "name", "line break")
    assert crm.customers.count() == 0
    added = json.loads(invoke(db_path, "customers", "add", "--name", "张\u200b伟", "--json").stdout)
    assert added["name"] == "张伟"
    assert [c["id"] for c in crm.customers.search("张伟")] == [added["id"]]
    refused(invoke(db_path, "customers", "edit", added["id"], "--region", "华\t东"), "region", "tab")
    assert invoke(db_path, "customers", "edit", added["id"], "--notes", "第一次拜访\n第二次拜访").exit_code == 0
    shown = crm.customers.get(added["id"])
    assert shown["region"] is None and shown["notes"] == "第一次拜访\n第二次拜访"


def test_a_csv_import_names_the_row_and_field_and_writes_nothing(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "客户.csv"
    path.write_text('姓名,公司,备注\n李娜,腾讯,"两行\n备注"\n"张\n伟",华为,\n王芳,\u200b阿里\u200b,\n',
                    encoding="utf-8")
    refused(invoke(db_path, "customers", "import", str(path)), "line 4", "name", "line break")
    assert crm.customers.count() == 0
    path.write_text('姓名,公司,备注\n李娜,腾讯,"两行\n备注"\n王芳,\u200b阿里\u200b,\n', encoding="utf-8")
    assert invoke(db_path, "customers", "import", str(path)).exit_code == 0
    stored = {c["name"]: c for c in crm.customers.find()}
    assert stored["王芳"]["company"] == "阿里" and stored["李娜"]["notes"] == "两行\n备注"


def test_a_json_import_is_held_to_the_same_rule(crm: Crm, db_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "customers.json"
    path.write_text(json.dumps([{"name": "李娜"}, {"name": "王芳", "title": "采购\n总监"}]), encoding="utf-8")
    refused(invoke(db_path, "customers", "import", str(path)), "title", "line break")
    assert crm.customers.count() == 0


async def paste(pilot, text: str) -> None:
    """What a terminal sends when the rep pastes `text` into the focused field."""
    pilot.app.focused.post_message(events.Paste(text))
    await settle(pilot)


@pytest.mark.anyio
@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_customer_form_drops_a_pasted_zero_width_space_and_refuses_a_tab(crm: Crm, lang: str) -> None:
    """The form at 80x24, as a rep fills it: a name pasted from a web page with a
    zero-width space in it, a company pasted from a spreadsheet with a tab. The save
    is refused beside the company, saying it holds a tab, with nothing written; once
    the company is typed again, the name is stored and found as 张伟."""
    app = CrmApp(crm=crm, config={}, lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen) and app.focused is form.query_one("#field-name", Input)
        await pilot.press("张")
        await paste(pilot, "\u200b伟")
        assert form.query_one("#field-name", Input).value == "张\u200b伟"  # the form holds what was pasted
        form.query_one("#field-company", Input).focus()
        await pilot.pause()
        await paste(pilot, "华东\t贸易")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form
        errors = form.errors_shown()
        assert list(errors) == ["company"] and t("validation.one_line.tab") in errors["company"], errors
        error = form.query_one("#error-company", Static)
        assert error.region.height and form.query_one("#form-fields").region.contains_region(error.region)
        assert crm.customers.count() == 0

        company = form.query_one("#field-company", Input)
        company.value = ""
        await pilot.press(*"华东贸易", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
    [stored] = crm.customers.find()
    assert (stored["name"], stored["company"]) == ("张伟", "华东贸易")
    assert [c["id"] for c in crm.customers.search("张伟")] == [stored["id"]]


@pytest.mark.anyio
async def test_a_paste_of_two_lines_into_a_one_line_box_is_refused_not_cut(crm: Crm) -> None:
    """Textual's Input kept the first line of a paste and dropped the rest: 张\n伟
    pasted into the name was saved as 张 without a word. The box now refuses it with
    the field's reason and keeps what it held; a paste ending in a line break (a
    spreadsheet's cell) is one line."""
    app = CrmApp(crm=crm, config={}, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormScreen)
        await pilot.press(*"Li ")
        await paste(pilot, "张\n伟")
        assert form.query_one("#field-name", Input).value == "Li "
        assert form.errors_shown() == {"name": f"⚠ {t('validation.one_line.line_break')}"}
        await paste(pilot, "Na\n")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
    assert [c["name"] for c in crm.customers.find()] == ["Li Na"]


def test_a_conflict_is_not_resolved_to_a_value_of_two_lines(crm: Crm) -> None:
    """Conflict resolution writes through the same funnel (Records.settle)."""
    record = crm.customers.create({"name": "张伟"})
    with pytest.raises(ValidationError, match="line break"):
        crm.customers.settle(record["id"], "company", "华为\n技术", allowed=())
    assert crm.customers.settle(record["id"], "company", "华为\ufeff技术", allowed=())["company"] == "华为技术"


# -- the server and the pull ------------------------------------------------------------


def test_the_server_refuses_a_pushed_one_line_value_a_laptop_would_not_store(server: Server,
                                                                            tmp_path: Path) -> None:
    token = server.add_rep("wang", "--role", "manager")
    hand = Hand(server, token, "hand-node")
    stamp = {"owner": "wang", "created_at": "2026-11-30T10:00:00.000Z", "updated_at": "2026-11-30T10:00:00.000Z"}
    broken = hand.push("customers", "C-break", "insert", {"name": "张\n伟", **stamp})
    assert broken["code"] == "invalid" and broken["reason"].startswith("name: holds a line break"), broken
    hidden = hand.push("customers", "C-zwsp", "insert", {"name": "张\u200b伟", **stamp})
    assert hidden["code"] == "invalid" and hidden["reason"].startswith("name: "), hidden
    assert "stored form '张伟'" in hidden["reason"]
    tab = hand.push("customers", "C-ok", "insert", {"name": "张伟", "notes": "一\n\t二", **stamp})
    assert tab == {"code": "ok"}
    assert hand.push("customers", "C-ok", "update", {"company": "华为\t技术"})["reason"].startswith(
        "company: holds a tab")
    rep = Rep(tmp_path, "wang")
    rep.crm("login", "--server", server.url, "--token", token)
    rep.crm("sync")
    assert [(c["id"], c["name"], c["notes"]) for c in rep.json("customers", "list")] == [("C-ok", "张伟", "一\n\t二")]


def test_a_pulled_name_of_two_lines_is_set_aside_and_the_pull_goes_on(server: Server, tmp_path: Path) -> None:
    """As an older server stored it: the laptop sets the change aside with the field
    and the reason, and applies the changes around it."""
    rep = Rep(tmp_path, "wang")
    rep.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--role", "manager"))
    rep.crm("customers", "add", "--name", "钱进")
    rep.crm("sync")  # past the first sync, which takes the server's live records, not its log
    now = "2026-11-30T10:00:00.000Z"

    def customer(name: str) -> str:
        return json.dumps({"name": name, "owner": "wang", "created_at": now, "updated_at": now})

    inject(server.url_db, [("customers", "C-1", "insert", customer("李娜")),
                           ("customers", "C-2", "insert", customer("张\n伟")),
                           ("customers", "C-3", "insert", customer("王\u200b芳")),
                           ("customers", "C-4", "insert", customer("赵敏"))])
    report = rep.json("sync")
    assert report["set_aside"] == 2
    aside = {r["row_id"]: r["reason"] for r in rep.json("sync", "set-aside")}
    assert aside["C-2"].startswith("name: holds a line break") and aside["C-3"].startswith("name: ")
    assert sorted(c["name"] for c in rep.json("customers", "list")) == sorted(["钱进", "李娜", "赵敏"])
