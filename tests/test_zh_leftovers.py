"""Small things a Chinese-speaking new user met (issue 14, items 2 and 3): the demo's
notice keeps `crm demo --exit` on one line at 80x24, and the CLI's tables of
products, order and quote lines title every column in the user's language (a
product's `sku` is 产品编号, its `name` 产品名称, not a person's 姓名)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from test_zh_everywhere import CJK, english_fragments_in, without, zh_cli
from textual.widgets._toast import Toast
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.app import CrmApp
from crm_tui.cli import app as cli
from crm_tui.domain.orders import parse_line


@pytest.mark.anyio
@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_the_demo_notice_keeps_the_command_whole_at_80x24(monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    monkeypatch.delenv("CRM_DB")
    assert CliRunner().invoke(cli, ["demo", "--no-ui", "--customers", "5"]).exit_code == 0
    app = CrmApp(config={}, lang=lang)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        toasts: list[Toast] = []
        for _ in range(50):  # the notice's toast appears after the first screen; bounded wait
            await pilot.pause(0.05)
            toasts = list(app.screen.query(Toast))
            if toasts and toasts[0].outer_size.height > 2:
                break
        assert toasts, "no notice on the demo"
        toast = toasts[0]
        lines = ["".join(s.text for s in strip) for strip in toast.render_lines(toast.outer_size.region)]
        assert any("crm demo --exit" in line for line in lines), lines
        assert all(line.rstrip() == line.rstrip()[:toast.outer_size.width] for line in lines)


@pytest.fixture
def sold(db_path: Path) -> dict[str, str]:
    with Crm(db_path, rep="wang", create=True) as crm:
        customer = crm.customers.create({"name": "Li Na", "phone": "13812345678"})
        crm.products.create({"sku": "SN-1", "name": "Sensor", "unit": "pcs", "list_price": 100})
        order = crm.order_book.add({"customer_id": customer["id"], "ordered_at": "2026-11-02"}, [parse_line("SN-1:2")])
        quote = crm.quote_book.add({"customer_id": customer["id"], "title": "Sensors", "quoted_on": "2026-11-01"},
                                   [parse_line("SN-1:1:90:10%")])
    return {"order": order["id"], "quote": quote["id"]}


DATA = ["Li Na", "Sensors", "Sensor", "SN-1", "pcs", "ID", "wang"]


def test_products_orders_and_quotes_title_their_columns_in_chinese(db_path: Path, sold: dict[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    products = zh_cli(db_path, "products", "list", monkeypatch=monkeypatch)
    assert products.exit_code == 0, products.output
    header = next(line for line in products.output.splitlines() if "产品编号" in line)
    assert "产品名称" in header and "单位" in header and "目录价" in header and "姓名" not in header
    for args in (["orders", "show", sold["order"]], ["quotes", "show", sold["quote"]], ["quotes", "list"]):
        result = zh_cli(db_path, *args, monkeypatch=monkeypatch)
        assert result.exit_code == 0, (args, result.output)
        shown = without(result.output, [*DATA, *sold.values()])
        assert english_fragments_in(shown) == [], (args, result.output)
        assert not [w for w in ("sku", "unit price", "discount", "quoted on", "expired", "False", "draft")
                    if w in shown], (args, result.output)
        assert CJK.search(shown)
    assert "产品编号" in zh_cli(db_path, "orders", "show", sold["order"], monkeypatch=monkeypatch).output
    # English keeps the names scripts and --where use
    monkeypatch.setenv("CRM_LANG", "en")
    english = CliRunner().invoke(cli, ["--db", str(db_path), "products", "list"]).output
    assert "sku" in english and "list price" in english


# (command, what the Chinese message must say) for the mistakes a rep makes most
MISTAKES = [
    (["customers", "show", "NOSUCH"], "没有编号为 'NOSUCH' 的客户"),
    (["customers", "list", "--where", "foo=1"], "foo: 不是客户的字段"),
    (["customers", "list", "--where", "tier"], "不是 字段=值 形式的条件"),
    (["customers", "list", "--where", "tier<"], "在 < 之后需要一个值"),
    (["customers", "list", "--order", "nosuch"], "'nosuch' 不是客户的字段"),
    (["report", "--period", "2026-13"], "期间（period）：'2026-13' 不是有效的期间"),
    (["report", "--period", "xx"], "'xx' 不是期间：请用 2026-Q3"),
    (["report", "--period", "2026-12-01..2026-11-01"], "的结束早于开始"),
    (["products", "add", "--sku", "SN-2", "--name", "Gauge", "--list-price", "abc"], "目录价（list_price）：'abc' 不是金额"),
    (["orders", "add", "--customer", "{customer}", "--line", "SN-1:1", "--line", "SN-1:0"], "第 2 行："),
    (["orders", "add", "--customer", "{customer}", "--line", "SN-1:x"], "'SN-1:x'：数量：'x' 不是金额"),
    (["visits", "add", "--customer", "01NOSUCH", "--visited-at", "2026-11-22 10:00", "--channel", "phone",
      "--purpose", "visit"], "没有编号为 '01NOSUCH' 的客户"),
]


def test_the_commonest_mistakes_are_explained_in_chinese(db_path: Path, sold: dict[str, str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with Crm(db_path) as crm:
        customer = crm.customers.find()[0]["id"]
    for args, said in MISTAKES:
        args = [a.format(customer=customer) for a in args]
        result = zh_cli(db_path, *args, monkeypatch=monkeypatch)
        assert result.exit_code == 1, (args, result.output)
        assert said in result.output, (args, result.output)
        rest = without(result.output, [*args, "period", "list_price", "YYYY-MM-DD..YYYY-MM-DD"])
        assert english_fragments_in(rest) == [], (args, result.output)
    # and in English, as before
    monkeypatch.setenv("CRM_LANG", "en")
    english = CliRunner().invoke(cli, ["--db", str(db_path), "customers", "show", "NOSUCH"])
    assert "no customer with id 'NOSUCH'" in english.output


@pytest.mark.anyio
async def test_the_order_form_keeps_its_lines_format_whole_at_80x24(db_path: Path, sold: dict[str, str]) -> None:
    """The format of order lines shows inside their box, not in a label cut in the
    middle of `[:单价` by a 20-column label column."""
    from textual.widgets import Label, TextArea

    with Crm(db_path, rep="wang") as crm:
        app = CrmApp(crm=crm, config={}, lang="zh")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("enter")  # the first customer's own screen
            await pilot.pause()
            await pilot.press("o")  # a new order
            await pilot.pause()
            label = app.screen.query_one("#label-lines", Label)
            assert str(label.render()).strip() == "明细 *"
            box = app.screen.query_one("#field-lines", TextArea)
            assert str(box.placeholder) == "SKU:数量[:单价[:折扣%]]，每行一项"
            assert box.size.width >= cell_len("SKU:数量[:单价[:折扣%]]，每行一项") + 2  # room for it on one line


def test_the_refused_changes_list_reads_chinese(server_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`crm login` and `crm sync rejected` under zh: the rep's role, the list's columns
    and the refusal's code in Chinese."""
    from sync_server import Rep, Server

    server = Server(server_db)
    try:
        li = Rep(tmp_path, "li")
        token = server.add_rep("li")
        logged_in = CliRunner().invoke(cli, ["login", "--server", server.url, "--token", token],
                                       env={**li.env, "CRM_LANG": "zh"}).output
        li.crm("customers", "add", "--name", "张三", "--owner", "wang")  # not li's to make: refused
        li.crm("sync")
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.setenv("CRM_LANG", "zh")
        shown = CliRunner().invoke(cli, ["sync", "rejected"], env=li.env).output
        status = CliRunner().invoke(cli, ["sync", "--status"], env=li.env).output
    finally:
        server.stop()
    assert "身份 li（销售代表）" in logged_in, logged_in  # the role by its name, not the code 'rep'
    # the last sync in local time to the minute, as the sync screen shows it, not the stored UTC stamp
    assert re.search(r"上次同步：\d{4}-\d\d-\d\d \d\d:\d\d\n", status) and "Z" not in status, status
    # the columns that do not fit the terminal are named in the caption: titled either way
    assert "字段" in shown and "拒绝时间" in shown and "无权限" in shown, shown
    assert not [w for w in ("fields", "rejected at", "forbidden") if w in shown], shown


# (file name, content, what the Chinese message says) for files an import cannot take
BAD_FILES = [
    ("a.csv", "name,notes\n张伟,\"never closed\n".encode(), "第 2 行：CSV 格式损坏（引号开始后没有结束）"),
    ("b.json", b'[{"name": "x"', "不是有效的 JSON（第 1 行，第 14 列）"),
    ("c.csv", "name,phone\n张伟,13812345678,extra\n".encode(), "有 3 个单元格，但表头只有 2 列（多出：'extra'）"),
    ("d.csv", "name,bogus\n张伟,1\n".encode(), "无法识别的列：bogus（请改成客户的字段名"),
    ("e.csv", b"\n \n", "文件是空的"),
    ("f.csv", b"name\n\xe5\xbc\xa0\n\xd5\xc5\n", "文本编码混杂：第 2 行是 UTF-8，第 3 行却不是"),
    ("g.xlsx", b"PK not a workbook", "无法读取的 Excel 工作簿"),
    ("h.json", b'{"x": 1}', "应为客户的 JSON 数组"),
    ("nowhere.csv", None, "nowhere.csv：文件或文件夹不存在"),  # a full-width colon, as every label
]


def test_a_file_an_import_cannot_take_is_explained_in_chinese(db_path: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    Crm(db_path, create=True).close()
    monkeypatch.setenv("COLUMNS", "200")
    for name, content, said in BAD_FILES:
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        result = zh_cli(db_path, "customers", "import", str(path), monkeypatch=monkeypatch)
        assert result.exit_code == 1 and said in result.output, (name, result.output)
        assert english_fragments_in(without(result.output, [str(path), "bogus", "extra", "--ignore-unknown"])) == [], \
            (name, result.output)
    monkeypatch.setenv("CRM_LANG", "en")  # English as before
    english = CliRunner().invoke(cli, ["--db", str(db_path), "customers", "import", str(tmp_path / "a.csv")])
    assert "line 2: broken CSV (a quote is opened and never closed)" in english.output


def test_chinese_text_in_the_catalog_is_bracketed_full_width() -> None:
    """A Chinese aside is in full-width brackets, as the catalog writes them everywhere
    (投诉类型（帕累托）): the dashboard's chart title had 近 90 天投诉类型 (帕累托)."""
    from crm_tui import i18n

    half = {key: text for key, text in i18n.catalog("zh").items()
            if re.search(rf"\((?=[^)]*{CJK.pattern})[^)]*\)", text)}
    assert half == {}


def test_a_file_restore_cannot_take_is_explained_in_chinese(db_path: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """crm restore said why it refused a file in English (db/backup.py wrote its own
    sentences): a missing file, a SQLite file of another program, a file that is no
    database (SQLite's own reason kept, in brackets)."""
    import sqlite3

    Crm(db_path, create=True).close()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 200)
    monkeypatch.setenv("COLUMNS", "200")
    for path, said in ((tmp_path / "missing.db", "missing.db：文件不存在"),
                       (other, "other.sqlite：不是 crm_tui 的备份（这是 SQLite 文件，但没有 crm_tui 的表）"),
                       (text, "notes.txt：不是 crm_tui 的备份（不是 SQLite 数据库文件）")):
        result = zh_cli(db_path, "restore", str(path), "--yes", monkeypatch=monkeypatch)
        assert result.exit_code == 1 and said in result.output, result.output
        assert english_fragments_in(without(result.output, [str(path)])) == [], \
            result.output


@pytest.mark.parametrize(("lang", "said"), [("en", "customer {id} (deleted)"), ("zh", "客户 {id}（已删除）")])
def test_a_refused_change_of_a_deleted_record_is_labelled_as_the_language_writes(
        tmp_path: Path, lang: str, said: str) -> None:
    """A refused new customer deleted since read 客户 01M8WFDBBZ （已删除）, a space
    before the full-width bracket: the label is now the catalog's, as the one for a
    record no longer on the laptop is."""
    from laptops import store_server, sync

    from crm_tui import i18n
    from crm_tui.api.sync import Sync

    _, http = store_server(tmp_path / "server.db", ("wang", "rep", ["east"]))
    with Crm(tmp_path / "a.db", rep="wang") as crm:
        cid = crm.customers.create({"name": "西部客户", "territory": "west"})["id"]  # not his territory
        assert sync(crm, http).rejected == 1
        crm.customers.delete(cid)
        with i18n.speaking(lang):
            [row] = Sync(crm).rejected()
    assert row["record"] == said.format(id=cid[:10])
