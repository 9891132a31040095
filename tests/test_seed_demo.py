"""Demo data (`crm seed`, crm_tui.api.seed), `crm demo` and `crm changes list`."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.api.seed import seed
from crm_tui.cli import app
from crm_tui.config import demo_db_path

runner = CliRunner()
TODAY = dt.date(2026, 6, 15)


def run(*args: str, ok: bool = True):
    result = runner.invoke(app, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def snapshot(crm: Crm) -> dict[str, list[tuple]]:
    """Everything but ids and stamps, with each child's customer named by content."""
    customers = crm.customers.find()
    key = {c["id"]: (c["name"], c["mobile"], c["email"]) for c in customers}
    out: dict[str, list[tuple]] = {
        "customers": sorted(tuple((k, str(v)) for k, v in c.items() if k not in ("id", "created_at", "updated_at"))
                            for c in customers)}
    # a refund names its order by content too
    orders = {o["id"]: (key[o["customer_id"]], o["ordered_at"], o["amount"]) for o in crm.orders.find()}
    for table, records in (("visits", crm.visits), ("complaints", crm.complaints), ("orders", crm.orders),
                           ("surveys", crm.analytics.surveys)):
        rows = []
        for r in records.find():
            rows.append(tuple((k, str(key[v] if k == "customer_id" else orders[v] if k == "refund_of" and v else v))
                              for k, v in r.items() if k not in ("id", "created_at", "updated_at", "complaint_id")))
        out[table] = sorted(rows)
    return out


def test_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    with Crm(tmp_path / "a.db") as a, Crm(tmp_path / "b.db") as b, Crm(tmp_path / "c.db") as c:
        seed(a, customers=120, seed=5, today=TODAY)
        seed(b, customers=120, seed=5, today=TODAY)
        seed(c, customers=120, seed=6, today=TODAY)
        first, second = snapshot(a), snapshot(b)
        assert first == second
        assert snapshot(c)["customers"] != first["customers"]
        assert {r["id"] for r in a.customers.find()}.isdisjoint(r["id"] for r in b.customers.find())


@pytest.fixture
def demo(crm: Crm) -> Crm:
    crm.now = lambda: dt.datetime.combine(TODAY, dt.time(12))  # classes are computed as of TODAY too
    report = seed(crm, customers=300, seed=1, today=TODAY)
    assert report.customers == 300 and report.orders and report.visits and report.complaints
    return crm


def test_seed_is_realistic(demo: Crm) -> None:
    customers = demo.customers.find()
    names = Counter(c["name"] for c in customers)
    assert names["张伟"] >= 3  # look-alikes for search to tell apart
    assert any(n.isascii() for n in names) and any(not n.isascii() for n in names)
    assert len({c["region"] for c in customers}) >= 5
    assert len({c["industry"] for c in customers}) >= 5
    assert len({c["owner"] for c in customers}) >= 3
    assert any(c["tags"] for c in customers) and any(c["email"] for c in customers)
    for c in customers:
        number = phonenumbers.parse(c["mobile"])
        assert c["mobile"].startswith("+861") and phonenumbers.is_valid_number(number)
        if c["phone"]:
            assert phonenumbers.is_valid_number(phonenumbers.parse(c["phone"]))
    assert len(demo.customers.search("张伟")) >= 3
    assert demo.customers.search("zw")


def test_seed_has_purchase_patterns_and_varied_records(demo: Crm) -> None:
    orders = demo.orders.find()
    by_customer = Counter(o["customer_id"] for o in orders)
    customers = demo.customers.find()
    prospects = [c for c in customers if c["id"] not in by_customer]
    loyal = [c for c in customers if by_customer[c["id"]] >= 6]
    assert prospects and all(c["status"] == "potential" for c in prospects)
    assert loyal
    two_years_ago = (TODAY - dt.timedelta(days=731)).isoformat()
    assert all(two_years_ago <= o["ordered_at"] <= TODAY.isoformat() for o in orders)
    last = {cid: max(o["ordered_at"] for o in orders if o["customer_id"] == cid) for cid in by_customer}
    churned = [c for c in customers if c["status"] == "churned"]  # computed: silent past their rhythm
    assert churned and all(last[c["id"]] < (TODAY - dt.timedelta(days=60)).isoformat() for c in churned)
    complaints = demo.complaints.find()
    assert len({c["status"] for c in complaints}) >= 3 and len({c["priority"] for c in complaints}) == 4
    assert all(c["due_at"] > c["received_at"] for c in complaints)
    visits = demo.visits.find()
    assert len({v["channel"] for v in visits}) >= 4 and len({v["purpose"] for v in visits}) >= 4
    assert any(v["next_action_date"] and v["next_action_date"] < TODAY.isoformat() for v in visits)  # overdue
    assert {c["tier"] for c in customers} == {"A", "B", "C"}


def test_demo_reps_did_their_follow_ups_and_surveyed_customers(demo: Crm) -> None:
    """A demo report shows a follow-up rate and a satisfaction, not 0% and n/a: some
    follow-ups already due were done (the rest are the agenda's overdue ones), and some
    customers and closed complaints have a satisfaction survey, dated when they happened."""
    due = [v for v in demo.visits.find() if v["next_action_date"] and v["next_action_date"] < TODAY.isoformat()]
    done = [v for v in due if v["follow_up_done"]]
    assert 0 < len(done) < len(due)
    assert not [v for v in demo.visits.find() if v["follow_up_done"] and v["next_action_date"]
                and v["next_action_date"] >= TODAY.isoformat()]  # nothing done ahead of time
    surveys = demo.analytics.list_surveys()
    verdicts = {s["c"] < 1 for s in surveys} | {s["c"] > 1 for s in surveys}
    assert surveys and verdicts == {True, False}  # satisfied and dissatisfied customers both
    assert all(s["surveyed_at"] <= TODAY.isoformat() for s in surveys)
    complaints = {c["id"]: c for c in demo.complaints.find()}
    after = [s for s in surveys if s["complaint_id"]]
    assert after and all(complaints[s["complaint_id"]]["status"] == "closed"
                         and s["surveyed_at"] >= complaints[s["complaint_id"]]["closed_at"][:10]
                         and s["customer_id"] == complaints[s["complaint_id"]]["customer_id"] for s in after)
    kpi = demo.analytics.kpis(f"{TODAY.year}-Q2")
    assert kpi["overall"]["satisfaction"] is not None
    assert any(r["follow_ups_done"] for r in kpi["reps"])
def test_seed_sells_catalogue_products_on_order_lines_and_quotes_open_deals(demo: Crm) -> None:
    """The products, orders and quotation screens have something to show: every order
    has its line, of a catalogue product, summing to the order's amount; a few open
    deals have a quotation of catalogue products."""
    products = {p["id"]: p for p in demo.products.find()}
    assert len(products) == 7 and all(p["sku"] and p["category"] and p["list_price"] > 0 for p in products.values())
    orders = {o["id"]: o for o in demo.orders.find()}
    lines = demo.order_lines.find()
    assert sorted(line["order_id"] for line in lines) == sorted(orders)
    for line in lines:
        order = orders[line["order_id"]]
        assert products[line["product_id"]]["name"] == line["product"] == order["product"]
        assert line["amount"] == order["amount"] and line["customer_id"] == order["customer_id"]
    # the product report reads them by SKU and category
    by_product = demo.analytics.product_sales(f"{TODAY.year}")["by_product"]
    assert by_product and all(r["sku"] in {p["sku"] for p in products.values()} for r in by_product)
    quotes = demo.quotes.find()
    assert 1 <= len(quotes) <= 5 and {q["status"] for q in quotes} == {"sent"}
    for quote in quotes:
        deal = demo.opportunities.get(quote["opportunity_id"])
        assert deal["stage"] not in ("won", "lost") and quote["customer_id"] == deal["customer_id"]
        full = demo.quote_book.get(quote["id"])
        assert 1 <= len(full["lines"]) <= 2 and all(line["sku"] for line in full["lines"])
        assert full["totals"]["total"] == quote["amount"] > 0
        assert quote["quoted_on"] < TODAY.isoformat() < quote["valid_until"]


def test_seed_writes_are_captured(demo: Crm) -> None:
    ops = Counter((c["tbl"], c["op"]) for c in demo.changes())
    assert ops[("customers", "insert")] == 300
    assert ops[("orders", "insert")] == demo.orders.count()


def test_seed_command(tmp_path: Path) -> None:
    db = tmp_path / "seeded.db"
    result = run("--db", str(db), "seed", "--customers", "25", "--seed", "3", "--json")
    report = json.loads(result.stdout)
    assert report["customers"] == 25
    with Crm(db) as crm:
        assert crm.customers.count() == 25 and crm.orders.count() == report["orders"]


def test_demo_creates_and_seeds_once_then_opens_the_ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_tui.cli import ui

    opened: list[Path | None] = []
    # The UI itself is another command's business: here only which database it gets.
    monkeypatch.setattr(ui, "open_ui", lambda db: opened.append(db))
    db = tmp_path / "demo.db"
    first = run("demo", "--db", str(db), "--customers", "30")
    assert "30 customers" in first.stdout
    with Crm(db) as crm:
        count, changes = crm.customers.count(), len(crm.changes())
        assert count == 30 and crm.replica["rep"] == "wangfang"
    second = run("demo", "--db", str(db), "--customers", "30")
    assert "customers" not in second.stdout
    with Crm(db) as crm:
        assert crm.customers.count() == 30 and len(crm.changes()) == changes
    assert opened == [db, db]


def test_demo_defaults_to_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_tui.cli import ui

    opened: list[Path | None] = []
    monkeypatch.setattr(ui, "open_ui", lambda db: opened.append(db))
    run("demo", "--customers", "5")
    assert opened == [demo_db_path()] and demo_db_path().name == "demo.db"
    assert "xdg-data" in str(demo_db_path())  # conftest's isolated data dir, not the user's


def test_changes_list(crm: Crm, db_path: Path) -> None:
    customer = crm.customers.create({"name": "张伟"})
    crm.customers.update(customer["id"], {"company": "华信"})
    crm.orders.create({"customer_id": customer["id"], "ordered_at": "2025-01-01", "product": "x", "amount": 1})
    crm.customers.delete(customer["id"])
    rows = json.loads(run("--db", str(db_path), "changes", "list", "--json").stdout)
    assert [(r["tbl"], r["op"]) for r in rows] == [
        ("customers", "insert"), ("customers", "update"), ("orders", "insert"),
        ("orders", "delete"), ("customers", "delete")]  # the customer's orders go with it
    assert rows[1]["data"]["company"] == "华信" and rows[1]["old"]["company"] is None
    assert set(rows[0]) >= {"seq", "node", "node_seq", "hlc", "tbl", "row_id", "op", "data", "rep"}
    assert rows[0]["rep"] == "wang"
    only = json.loads(run("--db", str(db_path), "changes", "list", "--json", "--table", "orders").stdout)
    assert [(r["tbl"], r["op"]) for r in only] == [("orders", "insert"), ("orders", "delete")]
    last = json.loads(run("--db", str(db_path), "changes", "list", "--json", "--limit", "1").stdout)
    assert [(r["tbl"], r["op"]) for r in last] == [("customers", "delete")]
    table = run("--db", str(db_path), "changes", "list").stdout
    assert "company=华信" in table and "delete" in table


def test_demo_data_has_nothing_in_the_future_even_seeded_in_the_morning(crm: Crm) -> None:
    """At 10:00 no complaint was received this afternoon, answered tomorrow or closed
    next week; only what is planned (next actions, due times, close dates) lies ahead."""
    morning = dt.datetime.combine(TODAY, dt.time(10, 0))
    crm.now = lambda: morning
    seed(crm, customers=400, seed=3)
    happened = {"visits": ("visited_at",), "orders": ("ordered_at",), "surveys": ("surveyed_at",),
                "complaints": ("received_at", "acknowledged_at", "first_response_at", "resolved_at", "closed_at")}
    latest = {}
    for table, fields in happened.items():
        for record in (crm.analytics.surveys if table == "surveys" else crm.records(table)).find():
            for name in fields:
                if record[name]:
                    assert record[name] <= morning.isoformat(), (table, name, record[name])
                    latest[name] = max(latest.get(name, ""), record[name])
    assert latest["received_at"][:10] == TODAY.isoformat()  # today's complaints are there, this morning
    moves = crm.opportunities.moves.find()
    assert moves and all(m["moved_at"] <= morning.isoformat() for m in moves)


def test_seeding_a_seeded_database_again_adds_to_it(crm: Crm) -> None:
    """The README seeds more customers into the demo: the quarter's targets it has stay."""
    first = seed(crm, customers=30, seed=1, today=TODAY)
    second = seed(crm, customers=30, seed=2, today=TODAY)
    assert crm.customers.count() == first.customers + second.customers == 60
    # the catalogue once: the second seed sells the products the first one made
    assert first.products == crm.products.count() == 7 and second.products == 0
