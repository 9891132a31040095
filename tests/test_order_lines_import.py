"""Orders with several lines from a file (`crm orders import-lines` / `export-lines`,
issue 13): Chinese headers in GBK and UTF-8, rows grouped by the order key, all or
nothing with rejects naming line and field; and round trips of contacts, products
and orders with lines through files with Chinese headers in GBK and UTF-8."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm, Filter
from crm_tui.api.exporting import export_to_path
from crm_tui.api.importing import import_records
from crm_tui.api.order_import import export_lines, import_lines
from crm_tui.cli import app
from crm_tui.domain.orders import LineSpec

runner = CliRunner()


@pytest.fixture
def shop(crm: Crm) -> dict[str, str]:
    crm.products.create({"sku": "SN-1", "name": "传感器", "category": "传感器", "unit": "个", "list_price": 100})
    crm.products.create({"sku": "CB-1", "name": "电缆", "category": "线缆", "unit": "米", "list_price": 10})
    return {"east": crm.customers.create({"name": "华东贸易"})["id"],
            "south": crm.customers.create({"name": "华南实业"})["id"]}


def write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def lines_file(tmp_path: Path, shop: dict[str, str], encoding: str) -> Path:
    return write(tmp_path / f"订单明细-{encoding}.csv",
                 "订单号,客户编号,下单日期,状态,产品编号,产品,数量,单价,折扣\n"
                 f"A-1,{shop['east']},2026-03-01,,SN-1,,3,,\n"
                 "A-1,,,,CB-1,,10,,10\n"
                 f"B-7,{shop['south']},2026/3/5,已付款,,旧型号,1,250,\n"
                 "A-1,,,,,安装服务,1,80,\n"
                 f"B-7,{shop['south']},,,SN-1,,2,95,\n", encoding)


def orders_and_lines(crm: Crm) -> list[tuple]:
    out = []
    for o in crm.orders.find(order="ordered_at"):
        lines = sorted((x["product"], x["quantity"], x["unit_price"], x["discount"], x["amount"], x["product_id"])
                       for x in crm.order_lines.find([Filter("order_id", "=", o["id"])]))
        out.append((o["customer_id"], o["ordered_at"], o["status"], o["amount"], o["owner"], tuple(lines)))
    return out


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_import_lines_groups_rows_into_orders(crm: Crm, shop: dict[str, str], tmp_path: Path, encoding: str) -> None:
    report = import_lines(crm, lines_file(tmp_path, shop, encoding))
    assert report.written and (report.orders, report.lines) == (2, 5), report.rejected
    a, b = orders_and_lines(crm)
    # 3 x 100 + 10 x 10 less 10% + 1 x 80 = 470, confirmed by default
    assert a[:4] == (shop["east"], "2026-03-01", "confirmed", 470.0)
    assert [(p, amt) for p, _, _, _, amt, _ in a[5]] == [("传感器", 300.0), ("安装服务", 80.0), ("电缆", 90.0)]
    # B-7: the status in Chinese, a date as typed, a price below the list price
    assert b[:4] == (shop["south"], "2026-03-05", "paid", 440.0)
    assert crm.orders.find([Filter("ordered_at", "=", "2026-03-05")])[0]["product"] == "旧型号 +1"


def test_a_bad_file_writes_nothing_and_names_line_and_field(crm: Crm, shop: dict[str, str], tmp_path: Path) -> None:
    path = write(tmp_path / "bad.csv",
                 "订单号,客户编号,下单日期,产品编号,数量,单价\n"
                 f"A-1,{shop['east']},2026-03-01,SN-1,3,\n"       # fine
                 f"A-1,{shop['south']},,CB-1,1,\n"                # another customer for A-1
                 f"B-2,{shop['east']},2026-03-02,NOPE,1,\n"       # no such SKU and no price
                 f"C-3,{shop['east']},2026-13-01,SN-1,1,\n"       # no such date
                 ",{0},2026-03-01,SN-1,1,\n".format(shop["east"]) +  # no order key
                 "D-4,01HZZZZZZZZZZZZZZZZZZZZZZZ,2026-03-01,SN-1,1,\n"  # no such customer
                 f"E-5,{shop['east']},2026-03-01,SN-1,0,\n"       # quantity 0
                 f"F-6,{shop['east']},2026-03-01,电缆,2,\n", "utf-8")  # a product's name where its SKU goes
    report = import_lines(crm, path)
    assert not report.written and crm.orders.find() == []
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9]
    assert "the catalogue's 电缆 has SKU CB-1" in reasons[9]
    assert reasons[3].startswith("customer_id:") and "line 2" in reasons[3]
    assert "NOPE" in reasons[4] and "price" in reasons[4]
    assert reasons[5].startswith("ordered_at:")
    assert reasons[6].startswith("order: is required")
    assert reasons[7].startswith("order D-4: customer_id:")
    assert reasons[8].startswith("quantity:")
    with report.rejects_path.open(encoding="utf-8-sig") as fh:
        assert [row["reject_line"] for row in csv.DictReader(fh)] == ["3", "4", "5", "6", "7", "8", "9"]


def test_cli_import_and_export_lines_round_trip_in_gbk(crm: Crm, db_path: Path, shop: dict[str, str],
                                                       tmp_path: Path) -> None:
    path = lines_file(tmp_path, shop, "gbk")
    dry = runner.invoke(app, ["orders", "import-lines", str(path), "--dry-run", "--db", str(db_path)])
    assert dry.exit_code == 0 and "would create 2 orders with 5 lines" in dry.stdout
    assert crm.orders.find() == []
    done = runner.invoke(app, ["orders", "import-lines", str(path), "--json", "--db", str(db_path)])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["orders"] == 2
    before = orders_and_lines(crm)
    out = tmp_path / "export.csv"
    exported = runner.invoke(app, ["orders", "export-lines", "-o", str(out), "--chinese", "--encoding", "gbk",
                                   "--db", str(db_path)])
    assert exported.exit_code == 0, exported.output
    assert out.read_bytes().decode("gbk").startswith("订单号,客户编号,下单日期")
    for o in crm.orders.find():
        crm.orders.delete(o["id"])
    again = runner.invoke(app, ["orders", "import-lines", str(out), "--db", str(db_path)])
    assert again.exit_code == 0, again.output
    assert orders_and_lines(crm) == before


def test_export_lines_in_gb18030_writes_what_gbk_cannot(crm: Crm, db_path: Path, shop: dict[str, str],
                                                       tmp_path: Path) -> None:
    # --encoding gb18030 wrote GBK, and refused a name GBK lacks (䶮) that GB18030 holds.
    crm.order_book.add({"customer_id": shop["east"], "ordered_at": "2026-03-01"}, [LineSpec("䶮牌螺丝", "2", "3.5")])
    out = tmp_path / "明细.csv"
    exported = runner.invoke(app, ["orders", "export-lines", "-o", str(out), "--chinese", "--encoding", "gb18030",
                                   "--db", str(db_path)])
    assert exported.exit_code == 0, exported.output
    assert "䶮牌螺丝" in out.read_bytes().decode("gb18030")
    refused = runner.invoke(app, ["orders", "export-lines", "-o", str(out), "--encoding", "gbk", "--db", str(db_path)])
    assert refused.exit_code == 1 and "'䶮' cannot be written in GBK" in refused.stderr


def test_cli_import_lines_speaks_chinese(crm: Crm, db_path: Path, shop: dict[str, str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_LANG", "zh")
    path = lines_file(tmp_path, shop, "utf-8")
    dry = runner.invoke(app, ["orders", "import-lines", str(path), "--dry-run", "--db", str(db_path)])
    assert dry.exit_code == 0 and "将创建 2 个订单，共 5 条明细" in dry.stdout, dry.output
    out = tmp_path / "out.csv"
    runner.invoke(app, ["orders", "import-lines", str(path), "--db", str(db_path)])
    exported = runner.invoke(app, ["orders", "export-lines", "-o", str(out), "--db", str(db_path)])
    assert "已写出 5 条明细" in exported.stdout
    bad = runner.invoke(app, ["orders", "export-lines", "-o", str(out), "--encoding", "latin1", "--db", str(db_path)])
    assert bad.exit_code == 1 and "请用 utf-8 或 gbk" in bad.output


@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_orders_with_lines_round_trip_in_utf8_and_json(crm: Crm, shop: dict[str, str], tmp_path: Path,
                                                       encoding: str) -> None:
    import_lines(crm, lines_file(tmp_path, shop, encoding))
    before = orders_and_lines(crm)
    for suffix in (".csv", ".json"):
        out = tmp_path / f"out{suffix}"
        assert export_lines(crm, out, chinese=True, encoding=encoding) == 5
        for o in crm.orders.find():
            crm.orders.delete(o["id"])
        assert import_lines(crm, out).written
        assert orders_and_lines(crm) == before


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig"])
def test_products_round_trip_with_chinese_headers(crm: Crm, tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "价目表.csv", "产品编号,品名,类别,单位,单价,在售\n"
                                          "SN-1,传感器,传感器,个,1200,是\nCB-1,电缆,线缆,米,9.5,否\n", encoding)
    assert import_records(crm, "products", path).written
    before = sorted((p["sku"], p["name"], p["category"], p["unit"], p["list_price"], p["active"])
                    for p in crm.products.find())
    assert before == [("CB-1", "电缆", "线缆", "米", 9.5, 0), ("SN-1", "传感器", "传感器", "个", 1200.0, 1)]
    out = tmp_path / "products.csv"
    export_to_path(crm, "products", out)
    for p in crm.products.find():
        crm.products.delete(p["id"])
    assert import_records(crm, "products", out).written
    assert sorted((p["sku"], p["name"], p["category"], p["unit"], p["list_price"], p["active"])
                  for p in crm.products.find()) == before


def test_contacts_round_trip_with_chinese_headers_in_utf8(crm: Crm, shop: dict[str, str], tmp_path: Path) -> None:
    # (GBK: tests/test_contacts.py)
    path = write(tmp_path / "联系人.csv", "客户编号,姓名,职位,手机,决策角色,态度\n"
                                          f"{shop['east']},王经理,采购总监,13900001111,决策者,支持\n"
                                          f"{shop['south']},李工,工程师,,内线,中立\n", "utf-8")
    assert import_records(crm, "contacts", path).written
    keys = ("customer_id", "name", "title", "mobile", "role", "attitude")
    before = sorted(tuple(c[k] for k in keys) for c in crm.contacts.find())
    assert before[0][4:] == ("coach", "neutral") or before[1][4:] == ("coach", "neutral")
    out = tmp_path / "contacts-out.csv"
    export_to_path(crm, "contacts", out)
    for c in crm.contacts.find():
        crm.contacts.delete(c["id"])
    assert import_records(crm, "contacts", out).written
    assert sorted(tuple(c[k] for k in keys) for c in crm.contacts.find()) == before


def sales_and_refunds(crm: Crm) -> list[tuple]:
    """Each order as orders_and_lines reads it, a refund with its sale's date and amount."""
    out = []
    for row, o in zip(orders_and_lines(crm), crm.orders.find(order="ordered_at"), strict=True):
        sale = crm.orders.get(o["refund_of"]) if o.get("refund_of") else None
        out.append((*row, sale and (sale["ordered_at"], sale["amount"])))
    return sorted(out, key=repr)


def test_export_lines_keeps_refunds_and_import_lines_brings_them_back(crm: Crm, db_path: Path,
                                                                     shop: dict[str, str], tmp_path: Path) -> None:
    # export-lines left refunds out: re-imported, the book's net sales grew by them.
    sale = crm.order_book.add({"customer_id": shop["east"], "ordered_at": "2026-03-01"},
                              [LineSpec("SN-1", "3"), LineSpec("CB-1", "10", None, "10")])
    crm.order_book.refund(sale["id"], [LineSpec("SN-1", "1")], ordered_at="2026-02-27", notes="退货")  # before the sale
    whole = crm.order_book.add({"customer_id": shop["south"], "ordered_at": "2026-03-05"}, [LineSpec("旧型号", "1", "250")])
    crm.order_book.refund(whole["id"], ordered_at="2026-03-09")
    before = sales_and_refunds(crm)
    out = tmp_path / "明细.csv"
    exported = runner.invoke(app, ["orders", "export-lines", "-o", str(out), "--chinese", "--encoding", "gbk",
                                   "--db", str(db_path)])
    assert exported.exit_code == 0 and "5 lines written" in exported.stdout, exported.output
    assert "退款原单" in out.read_bytes().decode("gbk").splitlines()[0]
    for o in sorted(crm.orders.find(), key=lambda o: not o.get("refund_of")):
        crm.orders.delete(o["id"])
    again = runner.invoke(app, ["orders", "import-lines", str(out), "--db", str(db_path)])
    assert again.exit_code == 0 and "created 4 orders with 5 lines" in again.stdout, again.output
    assert sales_and_refunds(crm) == before
    assert len(crm.orders.find([Filter("refund_of", "!=", None)])) == 2


def test_a_refund_in_a_line_file_keeps_the_rule_of_refunds(crm: Crm, shop: dict[str, str], tmp_path: Path) -> None:
    # a refund names its sale by the key in the file or an order of the book; all of a
    # sale's refunds (the book's and the file's) never come to more than it
    sold = crm.order_book.add({"customer_id": shop["east"], "ordered_at": "2026-03-01"}, [LineSpec("SN-1", "2")])
    crm.order_book.refund(sold["id"], [LineSpec("SN-1", "1")])
    path = write(tmp_path / "refunds.csv",
                 "order,customer_id,ordered_at,refund_of,product,quantity,unit_price\n"
                 f"R-1,{shop['east']},2026-03-02,{sold['id']},传感器,1,100\n"       # the rest of the book's sale: fine
                 f"R-2,{shop['south']},2026-03-02,S-1,旧型号,1,60\n"               # S-1 comes later in the file
                 f"S-1,{shop['south']},2026-03-01,,旧型号,4,25\n"
                 f"R-3,{shop['south']},2026-03-03,S-1,旧型号,1,50\n", "utf-8")  # 60 + 50 > 100
    for dry_run in (True, False):
        report = import_lines(crm, path, dry_run=dry_run)
        assert not report.written and [r.line for r in report.rejected] == [3, 5], report.rejected
        assert all("more than its 100.00" in r.reason for r in report.rejected), report.rejected
    assert len(crm.orders.find()) == 2
    fixed = write(tmp_path / "fixed.csv", path.read_text(encoding="utf-8").replace(",50\n", ",40\n"), "utf-8")
    assert import_lines(crm, fixed).written
    s1 = crm.orders.find([Filter("refund_of", "=", None), Filter("customer_id", "=", shop["south"])])[0]
    assert sorted(o["amount"] for o in crm.orders.find([Filter("refund_of", "=", s1["id"])])) == [40.0, 60.0]
    assert len(crm.orders.find([Filter("refund_of", "=", sold["id"])])) == 2
    again = import_lines(crm, fixed)  # the book's sale is refunded whole now
    assert [r.line for r in again.rejected] == [2] and sold["id"] in again.rejected[0].reason


def test_a_refund_in_a_line_file_returns_only_what_its_sale_has_left(crm: Crm, shop: dict[str, str],
                                                                     tmp_path: Path) -> None:
    # The import let a refund take back a product its sale never had, more of one than
    # was sold, or name another customer's sale: `crm orders refund` refuses all three.
    sold = crm.order_book.add({"customer_id": shop["east"], "ordered_at": "2026-03-01"},
                              [LineSpec("SN-1", "2"), LineSpec("CB-1", "10")])
    crm.order_book.refund(sold["id"], [LineSpec("SN-1", "1")])
    path = write(tmp_path / "returns.csv",
                 "order,customer_id,ordered_at,refund_of,sku,product,quantity,unit_price\n"
                 f"R-1,{shop['east']},2026-03-02,{sold['id']},,旧型号,1,10\n"     # not on the sale
                 f"R-2,{shop['east']},2026-03-02,{sold['id']},SN-1,,2,1\n"        # 2 back, 1 left
                 f"R-3,{shop['south']},2026-03-02,{sold['id']},CB-1,,1,1\n"       # another customer's sale
                 f"S-1,{shop['south']},2026-03-01,,,旧型号,2,50\n"
                 f"R-4,{shop['south']},2026-03-03,S-1,,旧型号,1,40\n"
                 f"R-5,{shop['south']},2026-03-03,S-1,,旧型号,2,10\n"             # with R-4: 3 of the 2 sold
                 f"R-6,{shop['east']},2026-03-03,{sold['id']},CB-1,,4,\n", "utf-8")  # fine: 4 of the 10 cables
    report = import_lines(crm, path, dry_run=True)
    reasons = {r.line: r.reason for r in report.rejected}
    assert sorted(reasons) == [2, 3, 4, 7], report.rejected
    assert f"product: 旧型号 is not on order {sold['id']}" in reasons[2]
    assert "quantity: 传感器: 2 to refund, but only 1 of the 2 sold are not refunded yet" in reasons[3]
    assert f"refund_of: order {sold['id']} is a sale to customer {shop['east']}" in reasons[4]
    assert "quantity: 旧型号: 2 to refund, but only 1 of the 2 sold are not refunded yet" in reasons[7]
    assert len(crm.orders.find()) == 2


@pytest.mark.parametrize("kind", ["orders", "quotes"])
def test_a_big_line_file_is_written_as_the_other_imports_write(crm: Crm, shop: dict[str, str], tmp_path: Path,
                                                               kind: str) -> None:
    """A file of orders (or quotations) with lines is imported as every other import
    is: the cycle collector paused while its rows are read and written (each full
    collection walked every row and record again), and from WRITTEN_ONCE_FROM
    records its one transaction through a rollback journal rather than the WAL; the
    collector and WAL as they were after it. Seen from the statements SQLite runs."""
    import gc

    from crm_tui.api.importing import WRITTEN_ONCE_FROM
    from crm_tui.api.quote_file import import_quotes

    groups = WRITTEN_ONCE_FROM // 3 + 1  # orders of two lines: 3 records each
    key = "订单号" if kind == "orders" else "报价单号"
    date = "下单日期" if kind == "orders" else "报价日期"
    rows = [f"{key},客户编号,{date},产品编号,数量"]
    for n in range(groups):
        rows += [f"K-{n},{shop['east']},2026-03-{1 + n % 28},SN-1,{1 + n % 4}", f"K-{n},,,CB-1,2"]
    path = write(tmp_path / "big.csv", "\n".join(rows) + "\n", "utf-8")
    seen: list[tuple[str, bool]] = []
    crm.conn.set_trace_callback(lambda sql: seen.append((sql.strip().split("\n")[0], gc.isenabled())))
    try:
        report = (import_lines if kind == "orders" else import_quotes)(crm, path)
    finally:
        crm.conn.set_trace_callback(None)
    assert report.written and (report.orders, report.lines) == (groups, 2 * groups), report.rejected
    inserts = [enabled for sql, enabled in seen if sql.startswith("INSERT INTO")]
    assert inserts and not any(inserts)  # every row written with the collector paused
    assert any(sql.upper() == "PRAGMA JOURNAL_MODE = DELETE" for sql, _ in seen)
    assert gc.isenabled() and crm.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    table = "orders" if kind == "orders" else "quotes"
    assert crm.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == groups


def test_values_checked_once_are_still_named_on_every_row_that_holds_them(crm: Crm, shop: dict[str, str],
                                                                          tmp_path: Path) -> None:
    """The read of a line file remembers the values it checked, and the orders'
    references are checked all at once: a bad quantity, price or date on several
    rows, and a customer no record is on several orders, are each named on their
    own row, and nothing is written."""
    ghost = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
    rows = ["订单号,客户编号,下单日期,产品编号,数量,单价"]
    for n in range(12):
        customer = ghost if n in (4, 9) else shop["east"]
        day = "2026-02-30" if n in (2, 7) else "2026-03-01"
        rows += [f"K-{n},{customer},{day},SN-1,{'x' if n in (3, 8) else 2},",
                 f"K-{n},,,CB-1,1,{'1.2345678' if n in (5, 10) else ''}"]
    report = import_lines(crm, write(tmp_path / "bad.csv", "\n".join(rows) + "\n", "utf-8"))
    assert not report.written and crm.orders.find() == []
    reasons: dict[int, str] = {}
    for r in report.rejected:  # a row may be told two reasons (its bad date, then its order's missing one)
        reasons[r.line] = reasons.get(r.line, "") + r.reason + " | "
    line = {n: 2 + 2 * n for n in range(12)}  # each order's first row
    assert sorted(reasons) == sorted([line[2], line[7], line[3], line[8], line[5] + 1, line[10] + 1, line[4],
                                      line[9]])
    for n in (2, 7):
        assert "ordered_at: '2026-02-30'" in reasons[line[n]]
    for n in (3, 8):
        assert "Quantity: 'x'" in reasons[line[n]]
    for n in (5, 10):
        assert "1.2345678" in reasons[line[n] + 1]
    for n in (4, 9):
        assert f"order K-{n}: customer_id:" in reasons[line[n]] and ghost in reasons[line[n]]
