"""Unit prices and quantities as a B2B catalogue needs them: a component sold by the
thousand at 0.0035, 2.5 kg of a material. A unit price keeps 6 decimals and a quantity
4, exactly, on every path (CLI options, --line, the form's line text, CSV and xlsx
imports, exports, sync); more decimals are refused naming the field, never rounded
without a word. Amounts, sums of money, are to the cent, rounded half up once per line,
and an order's, a quote's and a report's totals are the sums of those lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sync_server import Rep, Server
from typer.testing import CliRunner

from crm_tui.api import Crm, Filter
from crm_tui.cli import app
from crm_tui.domain.changes import INVALID, ChangeRefused, check_change
from crm_tui.domain.orders import LineSpec, format_line, parse_line
from crm_tui.domain.quotes import quote_totals
from crm_tui.domain.validation import ValidationError

pytestmark = pytest.mark.usefixtures("wide_terminal")


def run(db: Path, *args: str):
    return CliRunner().invoke(app, ["--db", str(db), *args], env={"COLUMNS": "200"})


def ok(db: Path, *args: str):
    out = run(db, *args)
    assert out.exit_code == 0, out.output
    return out


@pytest.fixture
def shop(db_path: Path) -> str:
    """A catalogue with a resistor sold by the thousand, and a customer; the customer's id."""
    ok(db_path, "products", "add", "--sku", "R-10K", "--name", "贴片电阻 10K", "--unit", "个", "--list-price", "0.0035")
    ok(db_path, "products", "add", "--sku", "CU-1", "--name", "铜线", "--unit", "kg", "--list-price", "68.125")
    with Crm(db_path) as crm:
        return crm.customers.create({"name": "张伟", "company": "华为技术有限公司"})["id"]


def test_a_unit_price_of_fractions_of_a_cent_is_kept(db_path: Path, shop: str) -> None:
    order = json.loads(ok(db_path, "orders", "add", "--customer", shop, "--line", "R-10K:10000",
                          "--line", "CU-1:2.5", "--line", "焊锡:0.125:80.5:10", "--json").stdout)
    with Crm(db_path) as crm:
        assert [p["list_price"] for p in crm.products.find([])] == [68.125, 0.0035]
        lines = crm.order_book.lines(order["id"])
    assert [(ln["quantity"], ln["unit_price"], ln["discount"], ln["amount"]) for ln in lines] == [
        (10000.0, 0.0035, None, 35.0), (2.5, 68.125, None, 170.31), (0.125, 80.5, 10.0, 9.06)]
    assert order["amount"] == 35.0 + 170.31 + 9.06  # the order is the sum of its lines, each to the cent
    shown = ok(db_path, "orders", "show", order["id"]).output
    assert "0.0035" in shown and "68.125" in shown and "2.5" in shown, shown
    with Crm(db_path) as crm:
        resistor = crm.products.find([])[1]["id"]
    shown = ok(db_path, "products", "show", resistor).output
    assert "0.0035" in shown and "0.00 " not in shown, shown


@pytest.mark.parametrize("args, field, places", [
    (("products", "add", "--sku", "X", "--name", "x", "--list-price", "0.00351234"), "list_price", 6),
    (("orders", "add", "--line", "R-10K:1.23456"), "Quantity", 4),
    (("orders", "add", "--line", "旧型号:1:0.0000001"), "Unit price", 6),
    (("orders", "add", "--line", "R-10K:1::12.345"), "Discount", 2),
])
def test_more_decimals_than_kept_are_refused_naming_the_field(db_path: Path, shop: str, args: tuple[str, ...],
                                                               field: str, places: int) -> None:
    if args[0] == "orders":
        args = (*args[:2], "--customer", shop, *args[2:])
    with Crm(db_path) as crm:
        before = (crm.products.count(), crm.orders.count())
    out = run(db_path, *args)
    assert out.exit_code != 0
    assert field in out.output and f"at most {places} decimals" in out.output, out.output
    assert "Traceback" not in out.output
    with Crm(db_path) as crm:
        assert (crm.products.count(), crm.orders.count()) == before


def test_the_form_and_the_line_notation_keep_every_decimal() -> None:
    # The order form edits lines as text made by format_line: 0.0035 must not come back as 0.00.
    line = {"sku": "R-10K", "product": "贴片电阻", "quantity": 10000.0, "unit_price": 0.0035, "discount": 12.5}
    assert format_line(line) == "R-10K:10000:0.0035:12.5"
    assert parse_line(format_line(line)) == LineSpec("R-10K", "10000", "0.0035", "12.5")
    with pytest.raises(ValidationError, match="Unit price"):
        parse_line("R-10K:1:0.00000001")


def test_quote_totals_agree_with_the_order_they_become(db_path: Path, shop: str) -> None:
    quote = json.loads(ok(db_path, "quotes", "add", "--customer", shop, "--line", "R-10K:3",
                          "--line", "R-10K:3", "--line", "CU-1:0.5::5", "--json").stdout)
    # 3 × 0.0035 = 0.0105 → 0.01 a line (half up); the subtotal is the lines' own, so no
    # discount shows where none is given, and the total is what the order will be
    assert [ln["amount"] for ln in quote["lines"]] == [0.01, 0.01, 32.36]
    assert quote["totals"] == {"subtotal": 34.08, "discount": 1.7, "total": 32.38} == quote_totals(quote["lines"])
    assert quote["amount"] == 32.38
    no_discount = quote_totals([{"quantity": 1.0, "unit_price": 0.005, "amount": 0.01}] * 2)
    assert no_discount == {"subtotal": 0.02, "discount": 0.0, "total": 0.02}
    _quote, order, _deal = Crm(db_path).quote_book.accept(quote["id"])
    assert order["amount"] == quote["amount"]


def test_imports_and_exports_round_trip_exactly(db_path: Path, shop: str, tmp_path: Path) -> None:
    (tmp_path / "价目表.csv").write_bytes("产品编号,名称,单价\nR-22K,贴片电阻 22K,0.0042\nCAP-1,电容,\"1,200.000001\"\n"
                                         .encode("gb18030"))
    ok(db_path, "products", "import", str(tmp_path / "价目表.csv"))
    (tmp_path / "明细.csv").write_bytes(f"订单号,客户编号,下单日期,产品编号,数量,单价\nA1,{shop},2026-11-02,R-22K,5000,\n"
                                       f"A1,{shop},2026-11-02,CU-1,1.2345,68.125\n".encode("gb18030"))
    ok(db_path, "orders", "import-lines", str(tmp_path / "明细.csv"))
    with Crm(db_path) as crm:
        assert sorted(p["list_price"] for p in crm.products.find([])) == [0.0035, 0.0042, 68.125, 1200.000001]
        [order] = crm.orders.find([])
        assert [(ln["quantity"], ln["unit_price"], ln["amount"]) for ln in crm.order_book.lines(order["id"])] == [
            (5000.0, 0.0042, 21.0), (1.2345, 68.125, 84.1)]
    for fmt in ("csv", "json", "xlsx"):
        out = tmp_path / f"products.{fmt}"
        ok(db_path, "products", "export", "--format", fmt, "-o", str(out))
        other = tmp_path / f"{fmt}.db"
        ok(other, "products", "import", str(out))
        with Crm(db_path) as crm, Crm(other) as again:
            assert sorted(p["list_price"] for p in again.products.find([])) == \
                sorted(p["list_price"] for p in crm.products.find([])), fmt
    ok(db_path, "orders", "export-lines", "-o", str(tmp_path / "lines.csv"), "--chinese", "--encoding", "gbk")
    ok(db_path, "orders", "import-lines", str(tmp_path / "lines.csv"))  # again, as a second order
    with Crm(db_path) as crm:
        first, second = ([(ln["quantity"], ln["unit_price"], ln["amount"]) for ln in crm.order_book.lines(o["id"])]
                         for o in crm.orders.find([], order="created_at"))
        assert first == second == [(5000.0, 0.0042, 21.0), (1.2345, 68.125, 84.1)]


def test_a_pushed_value_is_checked_by_the_same_rule() -> None:
    line = {"order_id": "01JB2X0000000000000000000A", "customer_id": "01JB2X0000000000000000000B",
            "product": "贴片电阻", "quantity": 10000.0, "unit_price": 0.0035, "amount": 35.0, "owner": "wang"}
    check_change("order_lines", "insert", "01JB2X0000000000000000000C", line)
    with pytest.raises(ChangeRefused) as refused:
        check_change("order_lines", "insert", "01JB2X0000000000000000000C", {**line, "unit_price": 0.00351234567})
    assert refused.value.code == INVALID and "unit_price" in refused.value.reason



def test_prices_sync_exactly(server: Server, tmp_path: Path) -> None:
    boss, wang = Rep(tmp_path, "boss"), Rep(tmp_path, "wang")
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--role", "manager"))
    boss.json("products", "add", "--sku", "R-10K", "--name", "贴片电阻", "--list-price", "0.0035")
    customer = boss.json("customers", "add", "--name", "张伟")["id"]
    order = boss.json("orders", "add", "--customer", customer, "--line", "R-10K:1234.5678")["id"]
    boss.crm("sync")
    wang.crm("sync")
    assert wang.json("products", "list")[0]["list_price"] == 0.0035
    assert wang.json("orders", "show", order) == boss.json("orders", "show", order)
    assert wang.json("orders", "show", order)["lines"][0]["quantity"] == 1234.5678


def test_a_discount_may_be_written_with_its_percent_sign_everywhere(db_path: Path, shop: str,
                                                                   tmp_path: Path) -> None:
    # --line took 5%, an import file's 折扣 column refused 10%: one rule for both now
    (tmp_path / "明细.csv").write_bytes(f"订单号,客户编号,下单日期,产品编号,数量,折扣\nA1,{shop},2026-11-02,CU-1,2,10%\n"
                                       f"A1,{shop},2026-11-02,R-10K,1000,12.5 ％\n".encode("gbk"))
    ok(db_path, "orders", "import-lines", str(tmp_path / "明细.csv"))
    ok(db_path, "orders", "add", "--customer", shop, "--line", "CU-1:2::10%")
    with Crm(db_path) as crm:
        lines = [ln for o in crm.orders.find([], order="created_at") for ln in crm.order_book.lines(o["id"])]
        assert [(ln["discount"], ln["amount"]) for ln in lines] == [(10.0, 122.63), (12.5, 3.06), (10.0, 122.63)]


def test_a_sale_refunded_in_parts_comes_back_whole_and_never_more(db_path: Path, shop: str) -> None:
    order = json.loads(ok(db_path, "orders", "add", "--customer", shop, "--line", "CU-1:2.5", "--line", "CU-1:0.1",
                          "--line", "尾料:2:0.005", "--json").stdout)
    assert order["amount"] == 170.31 + 6.81 + 0.01
    ok(db_path, "orders", "refund", order["id"], "--line", "CU-1:0.3", "--line", "尾料:1")
    rest = json.loads(ok(db_path, "orders", "refund", order["id"], "--json").stdout)
    # the rest of both CU-1 lines (2.2 and 0.1 kg), the last one short of the cent its
    # parts rounded up (20.44 + 149.88 + 6.81 would be 177.13 of 177.12 sold), and the
    # other 尾料, which the first refund's cent (half of 0.01, rounded up) paid back
    assert [(ln["product"], ln["quantity"], ln["amount"]) for ln in rest["lines"]] == [
        ("铜线", 2.2, 149.88), ("铜线", 0.1, 6.8), ("尾料", 1.0, 0.0)]
    with Crm(db_path) as crm:
        refunds = crm.orders.find([Filter("refund_of", "=", order["id"])])
        assert round(sum(r["amount"] for r in refunds), 2) == order["amount"]
    again = run(db_path, "orders", "refund", order["id"])
    assert again.exit_code != 0 and "refunded already" in again.output
