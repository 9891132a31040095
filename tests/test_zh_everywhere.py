"""Chinese everywhere (issue 14, item 2), as a rep with CRM_LANG=zh meets it: every key
of the catalog has its Chinese text, and every screen, every report format and the
CLI's errors, sync and login messages show no English text of the catalog.

How "no English" is checked: the English catalog values are cut at their placeholders
into fragments that carry an English word (words that are the same in both catalogs,
such as RFM or SLA, do not count); a Chinese screen or report that shows one of these
fragments as a whole word shows a text that was not translated."""

from __future__ import annotations

import getpass
import html
import json
import re
from pathlib import Path

import pytest
from analytics_fixture import add_deals, analytics, build
from pilot_steps import workers_done
from test_tui_snapshots import NOW, seed
from typer.testing import CliRunner

from crm_tui import i18n
from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app as cli
from crm_tui.domain.analytics.rfm import SEGMENTS
from crm_tui.domain.orders import parse_line
from crm_tui.report import FORMATS, render
from crm_tui.screens.customers import CustomersScreen

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Words the same in both languages: acronyms, formats, command words.
SAME_WORDS = {"rfm", "sla", "kpi", "id", "ids", "url", "csv", "json", "token", "nan", "hh", "mm", "yyyy", "dd",
              "erp", "cny", "sku", "wechat", "pinyin", "tsv", "xlsx", "html", "md", "ok", "vip", "it"}


def english_words(text: str) -> list[str]:
    """The English words of a catalog text, leaving out placeholders, markup, code and
    `crm ...` commands, which are the same in Chinese."""
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]|`[^`]*`|\bcrm(?: [a-z-]+)+", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w.lower() not in SAME_WORDS]


def untranslated(en: dict[str, str], zh: dict[str, str]) -> list[str]:
    """Keys whose Chinese text has no Chinese in it while the English one has words."""
    return [k for k in en if english_words(en[k]) and not CJK.search(zh[k])]


def test_every_catalog_key_has_its_english_and_chinese_text() -> None:
    en, zh = i18n.catalog("en"), i18n.catalog("zh")
    assert sorted(set(en) - set(zh)) == [], "keys without Chinese text"
    assert sorted(set(zh) - set(en)) == [], "keys without English text"
    assert [k for k in en if not en[k].strip() or not zh[k].strip()] == [], "empty texts"
    assert untranslated(en, zh) == [], "Chinese texts that are still English"
    # Placeholders must agree, or a text fails (KeyError) in one language only.
    names = re.compile(r"\{(\w*)[^}]*\}")
    assert [k for k in en if set(names.findall(en[k])) != set(names.findall(zh[k]))] == []


def test_the_catalog_check_finds_a_missing_chinese_text() -> None:
    """The check above is not vacuous: an English text left in zh.toml is caught."""
    zh = {**i18n.catalog("zh"), "report.h.key_figures": "Key figures"}
    assert untranslated(i18n.catalog("en"), zh) == ["report.h.key_figures"]


def _fragments() -> list[str]:
    """Fragments of English catalog texts (cut at placeholders and markup) that carry
    an English word and appear in no Chinese text."""
    zh_text = "\n".join(i18n.catalog("zh").values())
    out: set[str] = set()
    for value in i18n.catalog("en").values():
        for part in re.split(r"\{[^}]*\}|\[[^\]]*\]|`[^`]*`|\n", value):
            part = part.strip(" .,:;()·…-—/=+|#*_\"'")
            if english_words(part) and part not in zh_text and len(part) >= 3:
                out.add(part)
    return sorted(out, key=len, reverse=True)


FRAGMENTS: list[str] = []


def english_fragments_in(leftovers: str) -> list[str]:
    """The English catalog fragments shown in `leftovers` as whole words."""
    if not FRAGMENTS:
        FRAGMENTS.extend(_fragments())
    found = []
    for frag in FRAGMENTS:
        if re.search(r"(?<![A-Za-z0-9_])" + re.escape(frag) + r"(?![A-Za-z0-9_])", leftovers):
            found.append(frag)
    return found


def without(text: str, data: list[str]) -> str:
    """`text` without the records' own values (names, notes typed in English)."""
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return text


# -- reports in every format --------------------------------------------------------------

def page_text(page: str) -> str:
    """The text a browser shows of an HTML page: no tags, no style sheet."""
    return html.unescape(re.sub(r"<[^>]+>", "\n", re.sub(r"<style>.*?</style>", "", page, flags=re.S)))


REPORT_DATA = ["Sensors", "Sensor", "SN-1", "A Co", "B Co", "C Co", "D Co", "E Co", "F Co", "Widget", "Gadget", "ERP", "courier delay",
               "defect", "wrong address", "too high", "price", "wang", "li", "CRM", "Evil"]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_report_format_is_chinese(crm: Crm, fmt: str) -> None:
    ids = build(crm)
    ids |= add_deals(crm, ids)
    add_product_sales(crm, ids)
    i18n.set_language("zh")
    data = analytics(crm).report_data("2026-Q3")
    assert data["products"]["returns"]["refunds"] > 0 and any(
        r["category"] == "(unknown)" for r in data["products"]["by_category"])
    out = render(data, fmt)
    if isinstance(out, bytes):  # a workbook: its cells' text
        import io

        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(out))
        out = "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row
                        if c.value is not None) + "\n" + "\n".join(ws.title for ws in book.worksheets)
    text = page_text(out) if fmt == "html" else out
    assert ("销售与分析报表" in text or "报表,期间" in text) and "产品质量" in text and "紧急" in text
    # the Products section (issue 13) is there, in Chinese: a product without a category reads 未知
    assert "产品销售" in text and "退货率" in text and "（未知）" in text
    assert english_fragments_in(without(text, REPORT_DATA)) == []


def add_product_sales(crm: Crm, ids: dict[str, str]) -> None:
    """A catalogue product sold in 2026-Q3 on an order with lines, and part of it refunded:
    the report's Products section has every table filled (the book's orders are free text)."""
    from crm_tui.domain.orders import LineSpec

    crm.products.create({"sku": "SN-1", "name": "Sensor", "category": "Sensors", "list_price": 100})
    order = crm.order_book.add({"customer_id": ids["A"], "ordered_at": "2026-08-03"}, [LineSpec("SN-1", "3")])
    crm.order_book.refund(order["id"], [LineSpec("SN-1", "1")], ordered_at="2026-08-20")


def test_the_english_report_still_reads_english(crm: Crm) -> None:
    """The check is two-sided: the same scan finds the English headings in English."""
    ids = build(crm)
    ids |= add_deals(crm, ids)
    text = render(analytics(crm).report_data("2026-Q3"), "md")
    assert {"Key figures", "Sales by month", "Win-back queue"} <= set(english_fragments_in(text))


# -- the CLI -------------------------------------------------------------------------------

def zh_cli(db: Path, *args: str, monkeypatch: pytest.MonkeyPatch, lang_var: str = "CRM_LANG"):
    if lang_var != "CRM_LANG":
        monkeypatch.delenv("CRM_LANG")
    monkeypatch.setenv(lang_var, "zh_CN.UTF-8")
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def test_cli_errors_and_texts_written_into_records_are_chinese(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No CRM_LANG: the system locale says Chinese.
    monkeypatch.setenv("LC_ALL", "")
    bad = zh_cli(db_path, "customers", "add", "--name", "张伟", "--phone", "12345", monkeypatch=monkeypatch,
                 lang_var="LANG")
    assert bad.exit_code == 1
    assert "电话（phone）：'12345' 不是有效的电话号码" in bad.output and "错误" in bad.output
    assert english_fragments_in(bad.output) == []

    added = zh_cli(db_path, "customers", "add", "--name", "张伟", "--phone", "13812345678", "--json",
                   monkeypatch=monkeypatch)
    assert added.exit_code == 0, added.output
    with Crm(db_path) as crm:
        cid = crm.customers.find()[0]["id"]
        opened = crm.complaint_workflow.open({"customer_id": cid, "type": "delivery", "priority": "high",
                                             "description": "发货晚了"})
    wrong = zh_cli(db_path, "complaints", "close", opened["id"], monkeypatch=monkeypatch)
    assert wrong.exit_code == 1 and "不能从“新建”变为“已关闭”" in wrong.output, wrong.output
    assert english_fragments_in(wrong.output) == []
    for step in (["resolve", opened["id"], "--resolution", "已补发", "--root-cause", "物流"], ["close", opened["id"]]):
        assert zh_cli(db_path, "complaints", *step, monkeypatch=monkeypatch).exit_code == 0
    # the satisfaction follow-up it plans, on the agenda (no visit: tests/test_complaint_follow_up.py)
    agenda = zh_cli(db_path, "agenda", "--days", "30", "--json", monkeypatch=monkeypatch)
    assert [r["next_action"] for r in json.loads(agenda.stdout)] == ["投诉处理后的满意度回访"]


def test_sync_and_login_messages_are_chinese(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad_url = zh_cli(db_path, "login", "--server", "ftp://x", "--token", "t", monkeypatch=monkeypatch)
    assert bad_url.exit_code == 1 and "必须是以 http:// 或 https:// 开头的网址" in bad_url.output
    # A port nothing listens on (loopback): the sync cannot reach it.
    saved = zh_cli(db_path, "login", "--server", "http://127.0.0.1:9", "--token", "t", monkeypatch=monkeypatch)
    assert saved.exit_code == 0 and "无法连接同步服务器" in saved.output and "已登录" in saved.output
    assert "警告：" in saved.output and "警告:" not in saved.output  # punctuated the Chinese way
    failed = zh_cli(db_path, "sync", monkeypatch=monkeypatch)
    assert failed.exit_code == 1 and "同步失败：无法连接同步服务器" in failed.output
    status = zh_cli(db_path, "sync", "--status", monkeypatch=monkeypatch)
    assert "待同步修改" in status.output and "上次错误" in status.output
    for result in (bad_url, saved, failed, status):
        assert english_fragments_in(result.output) == [], result.output


@pytest.mark.parametrize("fmt", ["md", "html", "csv"])
def test_crm_report_under_crm_lang_zh(db_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    with Crm(db_path, rep="wang", create=True) as crm:
        build(crm)
    result = zh_cli(db_path, "report", "--period", "2026-Q3", "--today", "2026-10-01", "--format", fmt,
                    monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert "销售与分析报表" in result.output or "报表,期间" in result.output
    text = page_text(result.output)
    assert english_fragments_in(without(text, REPORT_DATA)) == []


# -- every screen --------------------------------------------------------------------------

SCREEN_DATA = ["Li Na", "Acme Ltd", "IT", "expo", "Call back", "Wrong invoice", "Green tea", "ok", "vip", "Bob"]


def screen_text(app: CrmApp) -> str:
    """The text on screen, line by line, from Textual's own screenshot."""
    svg = app.export_screenshot()
    lines: dict[float, list[tuple[float, str]]] = {}
    for x, y, body in re.findall(r'<text[^>]*?x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg, re.S):
        lines.setdefault(float(y), []).append((float(x), html.unescape(body).replace("\xa0", " ")))
    return "\n".join("".join(part for _, part in sorted(parts)) for _, parts in sorted(lines.items()))


async def tour_lists_and_forms(pilot, look, back_to_list) -> None:
    await look("customers")
    await look("filters", "ctrl+f")
    await look("customers again", "escape", "down")
    await look("customer form", "ctrl+n")
    await pilot.press(*"Bob")
    pilot.app.screen.query_one("#field-phone").focus()
    await look("form error", *"12345", "ctrl+s")
    assert "不是有效的电话号码" in screen_text(pilot.app)
    await look("leave form", "escape")
    await back_to_list()
    await look("delete question", "down", "delete")


async def tour_customer(pilot, look, back_to_list) -> None:
    await look("customer", "down", "enter")
    for tab in range(6):
        await look(f"customer tab {tab}", "right_square_bracket")
    await look("merge view", "M")  # its probable duplicates, or the hint to pick any customer
    assert type(pilot.app.screen).__name__ == "MergeScreen" and "合并" in screen_text(pilot.app)
    await look("merge pick", "a")
    await back_to_list()
    await look("customer again", "down", "enter")
    await look("visit form", "v")
    await back_to_list()
    await look("complaint form", "c")


async def tour_screens(pilot, look, back_to_list) -> None:
    for key, name in (("f3", "agenda"), ("f4", "complaints"), ("f5", "orders"), ("f6", "dashboard"),
                      ("f7", "conflicts"), ("f8", "pipeline"), ("f10", "products"), ("f1", "help")):
        await look(name, key)
        if name == "products":
            assert type(pilot.app.screen).__name__ == "ProductsScreen"
    await look("palette", "escape", "ctrl+p")


@pytest.mark.anyio
@pytest.mark.parametrize("tour", [tour_lists_and_forms, tour_customer, tour_screens])
async def test_every_screen_is_chinese(crm: Crm, tour) -> None:
    seed(crm)
    app = CrmApp(crm=crm, config={}, lang="zh", now=lambda: NOW)
    seen: dict[str, str] = {}

    async with app.run_test(size=(120, 40)) as pilot:
        async def settle() -> None:
            for _ in range(2):
                await workers_done(pilot.app)
                await pilot.pause()

        async def look(name: str, *keys: str) -> None:
            for key in keys:
                await pilot.press(key)
            await settle()
            seen[name] = screen_text(pilot.app)

        async def back_to_list() -> None:
            while not isinstance(pilot.app.screen, CustomersScreen):
                pilot.app.pop_screen()
            await settle()

        await settle()
        await tour(pilot, look, back_to_list)

    assert len(seen) >= 4 and all(CJK.search(text) for text in seen.values())
    # Binding ids (`customers.new`, the help's last column) name keys in the config file in any language.
    english = {name: english_fragments_in(re.sub(r"\b[a-z_]+\.[a-z_.]+\b", " ", without(text, SCREEN_DATA)))
               for name, text in seen.items()}
    assert {name: found for name, found in english.items() if found} == {}


def test_the_screen_scan_finds_english_on_an_english_screen() -> None:
    """The scan is not blind to what a screen shows: an English label is found."""
    assert "Sales by month" in english_fragments_in("│ 客户  Sales by month │")



def test_analytics_commands_print_chinese_tables(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Crm(db_path, rep="wang", create=True) as crm:
        ids = build(crm)
        add_deals(crm, ids)
        crm.pipeline.set_target("2026-Q3", 50000.0, rep="wang")
        crm.pipeline.set_target("2026-Q3", 90000.0)
    monkeypatch.setenv("COLUMNS", "160")
    for command in (["classify"], ["rfm"], ["kpi", "--period", "2026-Q3"], ["pipeline"],
                    ["funnel", "--period", "2026-Q3"], ["customers", "list"], ["complaints", "list"],
                    ["targets", "list"], ["forecast", "--period", "2026-Q3"]):
        result = zh_cli(db_path, *command, "--today", "2026-10-01", monkeypatch=monkeypatch) \
            if command[0] in ("classify", "rfm", "kpi") else zh_cli(db_path, *command, monkeypatch=monkeypatch)
        assert result.exit_code == 0, (command, result.output)
        assert CJK.search(result.output), command
        assert english_fragments_in(without(result.output, REPORT_DATA)) == [], (command, result.output)


def test_what_commands_say_after_they_act_is_chinese(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lines a command prints about what it did or why it refused (a deal won and its
    order, a target set, an RFM explanation, complaint times, the win-back queue, the
    surveys, the conflicts list), not only its tables, are in the user's language."""
    with Crm(db_path, rep="wang", create=True) as crm:
        ids = build(crm)
        deals = add_deals(crm, ids)
        open_complaint = next(c for c in crm.complaints.find() if c["status"] == "new")
    monkeypatch.setenv("COLUMNS", "160")
    commands = [
        ["opportunities", "move", deals["O1"], "--stage", "won", "--create-order"],
        ["targets", "set", "--team", "--period", "2026-Q3", "--amount", "90000"],
        ["forecast", "--period", "2026-Q3"],
        ["rfm", "--explain", ids["A"], "--today", "2026-10-01"],
        ["complaint-stats", "--period", "2026-Q3"],
        ["complaints", "acknowledge", open_complaint["id"]],
        ["winback", "--today", "2026-10-01"],
        ["surveys", "list"],
        ["conflicts", "list"],
    ]
    for command in commands:
        result = zh_cli(db_path, *command, monkeypatch=monkeypatch)
        assert result.exit_code == 0, (command, result.output)
        assert CJK.search(result.output), command
        assert english_fragments_in(without(result.output, REPORT_DATA)) == [], (command, result.output)
    for refused in (["targets", "set", "--period", "2026-Q3", "--amount", "1"], ["rfm", "--segment", "Nobody"],
                    ["cadence", "--state", "late"]):
        result = zh_cli(db_path, *refused, monkeypatch=monkeypatch)
        assert result.exit_code == 1 and CJK.search(result.output), (refused, result.output)
        # the segment ids are what --segment takes: they stay as typed
        assert english_fragments_in(without(result.output, list(SEGMENTS))) == [], (refused, result.output)
    assert "Champions (冠军客户)" in zh_cli(db_path, "rfm", "--segment", "x", monkeypatch=monkeypatch).output
    money_line = zh_cli(db_path, "orders", "list", monkeypatch=monkeypatch).output
    assert "4,000.00" in money_line  # the won deal's order, written as every screen writes money


# -- setting up, the change log, privacy and the server (the rest of the CLI) ---------------

# paths, record ids, node ids, tokens, and `code` the user types (crm commands, --role manager)
NOT_WORDS = re.compile(r"\S*[/\\]\S*|\b[0-9A-HJKMNP-TV-Z]{6,26}\b|\b[0-9a-f]{16}\b|[\w-]{20,}|`[^`]*`")


def chinese_only(output: str, data: list[str]) -> list[str]:
    """What of `output` is English: catalog texts shown in English, and any English
    word left once the user's own data (names, the rep), ids and paths are taken out
    (a text that never went through the catalog)."""
    left = NOT_WORDS.sub(" ", without(output, [*data, getpass.getuser()]))
    return english_fragments_in(left) + english_words(left)


def test_the_chinese_check_of_cli_output_sees_english_outside_the_catalog() -> None:
    assert chinese_only("已添加客户 01JF3QX8Y2", []) == []
    assert "created" in " ".join(chinese_only("database created /tmp/x.db", []))
    assert chinese_only("已添加 王芳 Li Na", ["Li Na"]) == []


def test_a_new_user_sets_up_and_works_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With CRM_LANG=zh a rep creates their database, seeds it, adds a customer twice
    (the second time the CLI warns of the duplicate), reads the change log, exports
    and erases a person and lists the erase requests; every line they read is Chinese."""
    db = tmp_path / "mine.db"
    data = ["王芳", "Li Na"]
    seen: dict[str, str] = {}

    def run(name: str, *args: str, ok: bool = True) -> str:
        result = zh_cli(db, *args, monkeypatch=monkeypatch)
        assert (result.exit_code == 0) == ok, (name, result.output)
        seen[name] = result.output
        return result.output

    monkeypatch.setenv("COLUMNS", "200")
    run("init", "init")
    run("init again", "init")
    run("seed", "seed", "--customers", "3", "--seed", "5")
    run("add", "customers", "add", "--name", "王芳", "--phone", "13812345678")
    with Crm(db) as crm:
        cid = next(c["id"] for c in crm.customers.find() if c["name"] == "王芳")
    assert seen.pop("add") == f"{cid}\n"  # to a script, an add prints the id alone, in any language
    run("add again", "customers", "add", "--name", "王芳", "--phone", "138 1234 5678")
    assert f"可能与 {cid} 王芳 重复（电话相同）" in seen["add again"]
    run("changes", "changes", "list", "--limit", "5")
    run("export person", "customers", "export-person", cid, "-o", str(tmp_path / "p.json"))
    run("erase", "customers", "erase", cid, "--yes")
    run("erase requests", "erase-requests", "list")
    assert all(CJK.search(text) for text in seen.values()), seen
    assert {name: chinese_only(text, data) for name, text in seen.items() if chinese_only(text, data)} == {}


def test_the_server_admin_works_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The team's admin adds a rep (and again, refused), lists, changes and revokes
    them and reads the audit, with CRM_LANG=zh: every message and table is Chinese."""
    store = ["--db", f"sqlite:///{tmp_path / 'server.db'}"]
    monkeypatch.setenv("CRM_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "200")
    seen: dict[str, str] = {}
    for name, args, ok in (("add", ["add-rep", "wangfang", "--territory", "华东"], True),
                           ("add again", ["add-rep", "wangfang"], False),
                           ("bad role", ["add-rep", "lina", "--role", "boss"], False),
                           ("list", ["list-reps"], True),
                           ("set", ["set-rep", "wangfang", "--role", "manager"], True),
                           ("revoke", ["revoke-rep", "wangfang"], True),
                           ("revoke again", ["revoke-rep", "wangfang"], False),
                           ("audit", ["audit"], True)):
        result = CliRunner().invoke(cli, ["server", *args, *store])
        assert (result.exit_code == 0) == ok, (name, result.output)
        seen[name] = result.output
    assert all(CJK.search(text) for text in seen.values()), seen
    data = ["wangfang", "lina", "boss"]
    assert {name: chinese_only(text, data) for name, text in seen.items() if chinese_only(text, data)} == {}


def test_record_commands_say_what_they_did_in_chinese(db_path: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Edit, bulk update (and its dry run), delete, the duplicates list and an import's
    dry run with a bad row answer in Chinese."""
    monkeypatch.setenv("COLUMNS", "160")
    with Crm(db_path, create=True) as crm:
        first = crm.customers.create({"name": "张伟", "company": "华信", "region": "华东", "mobile": "13812345678"})
        crm.customers.create({"name": "张伟", "company": "华信", "region": "华东"})
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名,手机\n李娜,13900001111\n王芳,12345\n", encoding="utf-8")
    commands = [
        (["customers", "edit", first["id"], "--company", "华信科技"], 0),
        (["customers", "update", "--where", "region=华东", "--set", "territory=东一区", "--dry-run"], 0),
        (["customers", "update", "--where", "region=华东", "--set", "territory=东一区"], 0),
        (["customers", "duplicates"], 0),
        (["customers", "import", str(bad), "--dry-run"], 1),
        (["customers", "update", "--set", "territory=x"], 1),
        (["customers", "delete", first["id"], "--yes"], 0),
    ]
    for command, code in commands:
        result = zh_cli(db_path, *command, monkeypatch=monkeypatch)
        assert result.exit_code == code, (command, result.output)
        assert CJK.search(result.output), command
        shown = without(result.output, ["region=华东", "territory=东一区", "territory=x", str(bad)])
        assert english_fragments_in(shown) == [], (command, result.output)


def test_order_and_quote_refusals_give_their_reason_in_chinese(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reason after the field's name (a refund larger than its order or than what
    it sold, a product it did not sell, a product that is no SKU, a bad line, a quote for nobody) is Chinese, not only the field's name."""
    with Crm(db_path, create=True) as crm:
        cid = crm.customers.create({"name": "张伟", "company": "华信"})["id"]
        crm.products.create({"sku": "SN-1", "name": "传感器", "list_price": 100})
        order = crm.order_book.add({"customer_id": cid, "ordered_at": "2026-09-01"}, [parse_line("SN-1:2")])
    refused = [
        (["orders", "refund", order["id"], "--line", "SN-1:1:500"], "超过其金额"),
        (["orders", "refund", order["id"], "--line", "SN-1:3"], "尚未退款"),
        (["orders", "refund", order["id"], "--line", "旧货:1"], "中没有 旧货"),
        (["orders", "add", "--customer", cid, "--line", "旧货:1"], "不是产品目录中的 SKU"),
        (["orders", "add", "--customer", cid, "--line", "SN-1"], "的格式"),
        (["quotes", "add", "--line", "SN-1:1"], "请给出报价单所属的客户或商机"),
    ]
    for command, reason in refused:
        result = zh_cli(db_path, *command, monkeypatch=monkeypatch)
        assert result.exit_code != 0 and reason in result.output, (command, result.output)
        assert english_fragments_in(result.output) == [], (command, result.output)


def test_pipeline_agenda_and_classification_refusals_in_chinese(db_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with Crm(db_path, create=True) as crm:
        cid = crm.customers.create({"name": "张伟", "company": "华信"})["id"]
        deal = crm.opportunities.create({"customer_id": cid, "title": "ERP 升级", "amount": 1000, "stage": "lead"})
    refused = [
        (["opportunities", "create-order", deal["id"]], "只有商机赢单后才能生成订单"),
        (["opportunities", "move", deal["id"], "--stage", "nowhere"], "不是可选阶段之一"),
        (["rfm", "--explain", cid], "还没有订单"),
        (["classify", "override", cid, "--tier", "A", "--reason", ""], "手动分类时为必填项"),
    ]
    for command, reason in refused:
        result = zh_cli(db_path, *command, monkeypatch=monkeypatch)
        assert result.exit_code != 0 and reason in result.output, (command, result.output)
        # the stage ids are what --stage takes: they stay as typed
        ids = ["ERP", "lead", "qualified", "proposal", "negotiation", "won", "lost"]
        assert english_fragments_in(without(result.output, ids)) == [], (command, result.output)


def test_every_error_names_what_it_is_about_in_chinese() -> None:
    """An error about a field reads by the field's label; an error about something no
    record has (a merge, the file, --take) by the catalog's subject for it: never the
    bare English name before the Chinese reason ("merge: 客户 … 已被删除")."""
    from crm_tui.domain.validation import FieldError

    source = Path(i18n.__file__).parent
    names = sorted({m for p in source.rglob("*.py")
                    for m in re.findall(r'(?:ValidationError\.one|FieldError)\(\s*"([a-z_]+)"', p.read_text("utf-8"))})
    assert {"merge", "amount", "file"} <= set(names)  # the scan finds them
    i18n.set_language("zh")
    try:
        bare = [n for n in names if not CJK.search(str(FieldError(n, "x")))]
    finally:
        i18n.set_language("en")
    assert bare == []
