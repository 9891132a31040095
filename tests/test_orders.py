"""Orders with lines, a status and refunds: totals worked out by hand, every sales
figure on net amounts of orders not cancelled, the migration of one-amount orders
to one line each with nothing lost, and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from cli_steps import runner
from old_books import book_before
from sync_server import Rep, Server

from crm_tui.api import Crm, ValidationError
from crm_tui.api.analytics import Analytics
from crm_tui.cli import app
from crm_tui.db.connection import transaction
from crm_tui.db.migrations import _order_lines
from crm_tui.domain.orders import LineSpec, line_amount, parse_line

pytestmark = pytest.mark.usefixtures("wide_terminal")
NOW = dt.datetime(2026, 9, 30, 12, 0)


@pytest.fixture
def shop(crm: Crm) -> dict:
    customer = crm.customers.create({"name": "张伟", "company": "华信"})
    crm.products.create({"sku": "SN-100", "name": "传感器", "category": "传感器", "list_price": 1200})
    crm.products.create({"sku": "CT-7", "name": "控制器", "category": "控制", "list_price": 33.335})
    return customer


def test_line_amounts_by_hand() -> None:
    assert line_amount(3, 1200, None) == 3600.0
    assert line_amount(2, 99.5, 10) == 179.1          # 199 less 10 %
    assert line_amount(3, 33.34, None) == 100.02
    assert line_amount(1, 0.125, None) == 0.13         # half up, as on an invoice
    assert line_amount(7, 19.99, 15) == 118.94         # 139.93 × 0.85 = 118.9405
    with pytest.raises(ValidationError) as err:
        line_amount(1, 10, 120)
    assert err.value.errors[0].field == "discount"
    assert parse_line("SN-100:3::5") == LineSpec("SN-100", "3", None, "5")
    with pytest.raises(ValidationError):
        parse_line("SN-100")


def test_an_order_is_the_sum_of_its_lines(crm: Crm, shop: dict) -> None:
    order = crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-09-01"},
                               [parse_line("SN-100:3"), parse_line("CT-7:3:33.34"), parse_line("旧件:2:99.5:10")])
    assert order["amount"] == 3600.0 + 100.02 + 179.1
    assert (order["product"], order["quantity"], order["status"]) == ("传感器 +2", 8, "confirmed")
    lines = crm.order_book.lines(order["id"])
    assert [(x["sku"], x["unit_price"], x["amount"]) for x in lines] == [
        ("SN-100", 1200.0, 3600.0), ("CT-7", 33.34, 100.02), (None, 99.5, 179.1)]
    assert all(x["customer_id"] == shop["id"] for x in lines)

    with pytest.raises(ValidationError) as err:
        crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-09-01"},
                           [parse_line("SN-100:1"), parse_line("NOPE:1"), parse_line("SN-100:0")])
    reasons = [(e.field, e.reason) for e in err.value.errors]
    assert reasons[0][0] == "lines" and reasons[0][1].startswith("line 2: 'NOPE' is no SKU of the catalogue")
    assert reasons[1] == ("lines", "line 3: quantity: must be more than 0")
    assert crm.orders.count() == 1 and crm.order_lines.count() == 3  # nothing half written

    # a line naming a catalogue product by its name is told the product's SKU
    with pytest.raises(ValidationError) as err:
        crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-09-01"}, [parse_line("传感器:2")])
    assert err.value.errors[0].reason == "line 1: '传感器' is no SKU of the catalogue: the catalogue's 传感器 has SKU SN-100"

    changed = crm.order_book.set_lines(order["id"], [parse_line("SN-100:1::50")])
    assert (changed["amount"], changed["product"], changed["quantity"]) == (600.0, "传感器", 1)
    assert [x["amount"] for x in crm.order_book.lines(order["id"])] == [600.0]


def test_refunds_and_cancelled_orders_in_every_sales_figure(crm: Crm, shop: dict) -> None:
    other = crm.customers.create({"name": "李娜"})
    big = crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-08-01"}, [parse_line("SN-100:2")])
    crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-09-01"}, [parse_line("X:1:500")])
    cancelled = crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-09-10", "status": "cancelled"},
                                   [parse_line("X:1:9000")])
    crm.order_book.add({"customer_id": other["id"], "ordered_at": "2026-09-05"}, [parse_line("X:1:100")])
    refund = crm.order_book.refund(big["id"], [parse_line("SN-100:1")], ordered_at="2026-09-15")
    assert (refund["amount"], refund["refund_of"]) == (1200.0, big["id"])
    with pytest.raises(ValidationError) as err:
        crm.order_book.refund(big["id"], [parse_line("SN-100:2")])
    assert err.value.errors[0].field == "lines" and "only 1 of the 2 sold" in err.value.errors[0].reason
    with pytest.raises(ValidationError) as err:  # a price given: the order's amount still caps its refunds
        crm.order_book.refund(big["id"], [parse_line("SN-100:1:5000")])
    assert err.value.errors[0].field == "amount" and "more than its 2,400.00" in err.value.errors[0].reason
    with pytest.raises(ValidationError):
        crm.order_book.refund(cancelled["id"])

    analytics = Analytics(crm, now=lambda: NOW)
    facts = {f.name: f for f in analytics.facts()}
    # 张伟: 2400 + 500 − 1200 (refund); the cancelled 9000 counts nowhere; two purchases.
    assert (facts["张伟"].total, facts["张伟"].n_orders) == (1700.0, 2)
    assert facts["张伟"].days_since_last == 29  # the refund of 09-15 is no purchase
    [score] = [s for s in analytics.rfm_scores().scores if s.customer_id == shop["id"]]
    assert (score.monetary, score.frequency) == (1700.0, 2)
    kpis = analytics.kpis("2026-Q3")["overall"]
    assert kpis["sales"] == 1800.0 and kpis["orders"] == 3  # 1700 + 100; three purchases
    assert [r["sales"] for r in analytics.kpis("2026-Q3")["reps"]] == [1800.0]


def seeded_old_database(path: Path, orders: int) -> list[tuple[str, float, int | None]]:
    """A database at the schema before order lines, with customers and orders as the
    wave-1 code wrote them; returns (id, amount, quantity) of every order."""
    conn = book_before(path, _order_lines)
    rng = random.Random(7)
    rows = []
    with transaction(conn):
        for c in range(20):
            conn.execute("INSERT INTO customers (id, name) VALUES (?, ?)", (f"C{c:03d}", f"客户{c}"))
        for i in range(orders):
            quantity = rng.choice([None, 0, 1, 3, 7])
            amount = round(rng.uniform(0, 50000), 2)
            rows.append((f"O{i:05d}", amount, quantity))
            conn.execute("INSERT INTO orders (id, customer_id, ordered_at, product, quantity, amount) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (f"O{i:05d}", f"C{i % 20:03d}", "2026-01-02", f"产品{i % 9}",
                                                       quantity, amount))
    conn.close()
    return rows


def test_old_orders_become_one_line_each_with_every_amount_kept(tmp_path: Path) -> None:
    path = tmp_path / "wave1.db"
    before = seeded_old_database(path, 500)
    log_before = None
    with Crm(path) as crm:
        log_before = crm.conn.execute("SELECT count(*) FROM change_log WHERE tbl = 'order_lines'").fetchone()[0]
        lines = {r["order_id"]: r for r in crm.order_lines.find()}
        assert len(lines) == len(before)
        for order_id, amount, quantity in before:
            line = lines[order_id]
            assert line["amount"] == amount and crm.orders.get(order_id)["amount"] == amount
            assert line["quantity"] == (quantity or 1) and line["product"] == crm.orders.get(order_id)["product"]
        total = crm.conn.execute("SELECT total(amount) FROM order_lines").fetchone()[0]
        assert round(total, 2) == round(sum(a for _, a, _ in before), 2)
        assert crm.conn.execute("SELECT round(total(amount), 2) FROM sales").fetchone()[0] == round(total, 2)
    # Written alike on every replica, so nothing to sync.
    assert log_before == 0


def test_a_refund_takes_back_what_was_sold_at_the_price_paid(crm: Crm, shop: dict) -> None:
    """A returned unit is refunded at what the customer paid (the order's unit price
    and discount), not at today's list price; a product the order did not sell, or
    more of it than is left, is refused, naming the line; a refund without lines
    takes back what is left."""
    order = crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-08-01"},
                               [parse_line("SN-100:4:1000:10"), parse_line("X:2:50")])  # list price 1200
    assert order["amount"] == 3700.0
    one = crm.order_book.refund(order["id"], [parse_line("SN-100:1")])
    assert one["amount"] == 900.0  # 1000 less 10%, as sold
    [line] = crm.order_book.lines(one["id"])
    assert (line["unit_price"], line["discount"], line["sku"]) == (1000.0, 10.0, "SN-100")

    for bad, reason in ((["CT-7:1"], "line 1: CT-7 is not on order"),
                        (["X:1", "SN-100:4"], "传感器: 4 to refund, but only 3 of the 4 sold are not refunded yet")):
        with pytest.raises(ValidationError) as err:
            crm.order_book.refund(order["id"], [parse_line(text) for text in bad])
        assert err.value.errors[0].field == "lines" and reason in err.value.errors[0].reason, err.value.errors
    assert crm.orders.count() == 2  # nothing written by a refused refund

    rest = crm.order_book.refund(order["id"])
    assert rest["amount"] == 3 * 900.0 + 2 * 50.0
    assert sorted((x["product"], x["quantity"]) for x in crm.order_book.lines(rest["id"])) == [("X", 2.0), ("传感器", 3.0)]
    with pytest.raises(ValidationError) as err:
        crm.order_book.refund(order["id"])
    assert "refunded already" in err.value.errors[0].reason


def test_orders_with_lines_from_the_cli(crm: Crm, db_path: Path, shop: dict) -> None:
    def run(*args: str, ok: bool = True):
        result = runner.invoke(app, ["--db", str(db_path), *args])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    added = json.loads(run("orders", "add", "--customer", shop["id"][:10], "--line", "SN-100:2",
                           "--line", "CT-7:1:40:25", "--ordered-at", "2026-09-01", "--json").stdout)
    assert added["amount"] == 2430.0 and crm.orders.get(added["id"])["amount"] == 2430.0
    shown = json.loads(run("orders", "show", added["id"], "--json").stdout)
    assert [(x["sku"], x["amount"]) for x in shown["lines"]] == [("SN-100", 2400.0), ("CT-7", 30.0)]
    refund = json.loads(run("orders", "refund", added["id"], "--line", "CT-7:1:40:25", "--json").stdout)
    assert (refund["amount"], refund["refund_of"]) == (30.0, added["id"])
    result = run("orders", "add", "--customer", shop["id"], "--line", "SN-100:x", ok=False)
    assert result.exit_code == 1 and "lines: 'SN-100:x': Quantity: 'x' is not an amount" in result.output
    replaced = json.loads(run("orders", "lines", added["id"], "--line", "SN-100:1", "--json").stdout)
    assert replaced["amount"] == 1200.0 and len(replaced["lines"]) == 1
    # The old way still works: one amount, read as one line.
    old = json.loads(run("orders", "add", "--customer", shop["id"], "--product", "旧货", "--amount", "99",
                         "--json").stdout)
    assert [(x["product"], x["amount"]) for x in crm.order_book.lines(old["id"])] == [("旧货", 99.0)]


def test_orders_list_80_columns_wide_keeps_the_amount(db_path: Path, shop: dict,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A table 80 columns wide (a pipe, a small terminal) keeps what an order is about,
    its amount, written as money; the product and quantity are left out first."""
    monkeypatch.setenv("COLUMNS", "80")
    args = ["--db", str(db_path), "orders", "add", "--customer", shop["id"], "--line", "SN-100:2"]
    assert runner.invoke(app, args).exit_code == 0
    out = runner.invoke(app, ["--db", str(db_path), "orders", "list"]).stdout
    head = next(line for line in out.splitlines() if "ordered at" in line)
    assert "amount" in head and "2,400.00" in out, out



def test_orders_with_lines_sync_in_their_customers_scope(server: Server, tmp_path: Path) -> None:
    boss, wang, zhao = Rep(tmp_path, "boss"), Rep(tmp_path, "wang"), Rep(tmp_path, "zhao")
    boss.crm("login", "--server", server.url, "--token", server.add_rep("boss", "--role", "manager"))
    wang.crm("login", "--server", server.url, "--token", server.add_rep("wang", "--territory", "east"))
    zhao.crm("login", "--server", server.url, "--token", server.add_rep("zhao", "--territory", "west"))
    boss.json("products", "add", "--sku", "SN-100", "--name", "传感器", "--list-price", "1200")
    boss.crm("sync")
    wang.crm("sync")
    east = wang.json("customers", "add", "--name", "张伟", "--territory", "east")["id"]
    order = wang.json("orders", "add", "--customer", east, "--line", "SN-100:2", "--line", "旧件:1:50")["id"]
    refund = wang.json("orders", "refund", order, "--line", "SN-100:1")["id"]
    wang.crm("sync")
    boss.crm("sync")
    zhao.crm("sync")
    shown = boss.json("orders", "show", order)
    assert shown == wang.json("orders", "show", order)
    assert [(x["sku"], x["amount"]) for x in shown["lines"]] == [("SN-100", 2400.0), (None, 50.0)]
    assert boss.json("orders", "show", refund)["refund_of"] == order
    assert zhao.json("orders", "list") == []  # not in the west rep's view
    with Crm(zhao.env["CRM_DB"]) as crm:
        assert crm.order_lines.count() == 0
    # The manager replaces the lines: the old ones go, the new ones arrive, the amount follows.
    boss.crm("orders", "lines", order, "--line", "SN-100:3")
    boss.crm("sync")
    wang.crm("sync")
    assert [(x["sku"], x["amount"]) for x in wang.json("orders", "show", order)["lines"]] == [("SN-100", 3600.0)]
    assert wang.json("orders", "show", order)["amount"] == 3600.0


def test_complaint_pareto_by_product_and_category(crm: Crm, shop: dict) -> None:
    crm.products.create({"sku": "GW-1", "name": "网关", "category": "网络", "list_price": 800})
    for product, n in (("SN-100", 3), ("传感器", 2), ("GW-1", 2), ("旧货", 1)):
        for _ in range(n):
            crm.complaint_workflow.open({"customer_id": shop["id"], "type": "product_quality", "description": "坏了",
                                         "product": product, "received_at": "2026-09-10 10:00", "priority": "low"})
    result = Analytics(crm, now=lambda: NOW).complaint_analytics("2026-Q3")
    # SN-100 and 传感器 are one product of the catalogue; 旧货 is not in it.
    assert [(r["key"], r["count"]) for r in result["by_product"]] == [("传感器", 5), ("网关", 2), ("旧货", 1)]
    assert [(r["key"], r["count"], r["vital"]) for r in result["by_category"]] == [
        ("传感器", 5, True), ("网络", 2, True), ("(unknown)", 1, False)]  # 5/8 = 62.5 %, then 87.5 %
    only = Analytics(crm, now=lambda: NOW).complaint_analytics("2026-Q3", product="SN-100")
    assert only["complaints"] == 5


def test_an_orders_amount_is_set_apart_from_its_lines_by_no_edit(crm: Crm, db_path: Path, shop: dict) -> None:
    """`crm orders edit ID --amount 5` and a bulk `update --set amount=` wrote an
    order's amount apart from its lines (2,430.00 of lines shown under an amount of
    5.00, and sales figures taken from the 5.00). An order with lines now keeps the
    amount its lines come to, refused by field, row and reason with nothing written;
    its lines change it. An order without lines keeps any amount it is given."""
    order = crm.order_book.add({"customer_id": shop["id"], "ordered_at": "2026-09-01"},
                               [LineSpec("SN-100", "2"), LineSpec("CT-7", "1", "40", "25")])
    bare = json.loads(runner.invoke(app, ["--db", str(db_path), "orders", "add", "--customer", shop["id"],
                                          "--product", "旧货", "--amount", "99", "--json"]).stdout)
    changes = crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    edit = runner.invoke(app, ["--db", str(db_path), "orders", "edit", order["id"], "--amount", "5"])
    assert edit.exit_code == 1
    assert (f"amount: 5.00 is not what the lines of order {order['id']} come to (2,430.00): change its lines"
            in edit.output)
    bulk = runner.invoke(app, ["--db", str(db_path), "orders", "update", "--where", "status=confirmed",
                               "--set", "amount=7"])
    assert bulk.exit_code == 1 and f"lines of order {order['id']} come to (2,430.00)" in bulk.output
    with pytest.raises(ValidationError) as refused:
        crm.orders.update(order["id"], {"amount": 2430.01})
    assert refused.value.errors[0].field == "amount"
    assert crm.orders.get(order["id"])["amount"] == 2430.0 and crm.orders.get(bare["id"])["amount"] == 99.0
    assert crm.conn.execute("SELECT count(*) FROM change_log").fetchone()[0] == changes
    # What a laptop writes still goes: the amount following new lines, a bare order's amount, an equal amount.
    assert crm.order_book.set_lines(order["id"], [LineSpec("SN-100", "1")])["amount"] == 1200.0
    assert crm.orders.update(order["id"], {"amount": 1200, "notes": "one back"})["notes"] == "one back"
    assert crm.orders.update(bare["id"], {"amount": 5})["amount"] == 5.0
