"""Quotations (报价单): totals with discounts on hand-computed fixtures, the rules of a
quote's state, accepting one (its order with the same lines and its opportunity won,
all or nothing), the products an opportunity is about, the printable HTML in both
languages, and the CLI checked against the database."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm, ValidationError
from crm_tui.cli import app
from crm_tui.config import Config
from crm_tui.domain.orders import LineSpec

runner = CliRunner()
NOW = dt.datetime(2026, 9, 15, 10, 0)
COMPANY = {"company": {"name": "Acme Pumps", "name_zh": "艾克米泵业", "address": "1 Harbour Rd",
                       "address_zh": "上海市浦东新区港口路1号", "phone": "021-5555 0000", "tax_id": "91310000MA1K",
                       "bank": "ICBC 6222 0000"}}


@pytest.fixture
def crm(db_path: Path):
    api = Crm(db_path, rep="wang", config=Config.from_mapping(COMPANY), now=lambda: NOW)
    yield api
    api.close()


@pytest.fixture
def shop(crm: Crm) -> dict:
    customer = crm.customers.create({"name": "李娜", "company": "南方食品", "mobile": "13800138000"})
    crm.products.create({"sku": "SN-100", "name": "传感器", "list_price": 1200})
    crm.products.create({"sku": "VL-7", "name": "Valve", "list_price": 99.99})
    deal = crm.opportunities.create({"customer_id": customer["id"], "title": "生产线改造", "amount": 50000,
                                     "stage": "proposal", "product_ids": "SN-100,VL-7"})
    return {"customer": customer, "deal": deal}


# Hand-computed: 3 × 1200 at 5 % off = 3420.00; 1 × 800 = 800.00; 7 × 99.99 = 699.93 at
# 12.5 % off = 612.43875 -> 612.44 (half up, to the cent). Subtotal 3600 + 800 + 699.93 =
# 5099.93; total 3420 + 800 + 612.44 = 4832.44; the discounts take 267.49.
LINES = [LineSpec("SN-100", "3", None, "5"), LineSpec("安装调试费", "1", "800"), LineSpec("VL-7", "7", None, "12.5")]


def test_totals_with_discounts_match_the_hand_computed_figures(crm: Crm, shop: dict) -> None:
    quote = crm.quote_book.add({"customer_id": shop["customer"]["id"], "title": "设备"}, LINES)
    assert [(line["position"], line["sku"], line["product"], line["unit_price"], line["amount"])
            for line in quote["lines"]] == [(1, "SN-100", "传感器", 1200.0, 3420.0),
                                            (2, None, "安装调试费", 800.0, 800.0),
                                            (3, "VL-7", "Valve", 99.99, 612.44)]
    assert quote["totals"] == {"subtotal": 5099.93, "discount": 267.49, "total": 4832.44}
    assert quote["amount"] == 4832.44
    # dated today, valid 30 days, a draft
    assert (quote["quoted_on"], quote["valid_until"], quote["status"]) == ("2026-09-15", "2026-10-15", "draft")
    # replacing the lines moves the amount with them
    edited = crm.quote_book.edit(quote["id"], {}, [LineSpec("SN-100", "2", "1000", "10")])
    assert edited["amount"] == 1800.0 and len(edited["lines"]) == 1
    assert crm.conn.execute("SELECT count(*) FROM quote_lines WHERE quote_id = ?", (quote["id"],)).fetchone()[0] == 1


def test_a_quote_from_an_opportunity_starts_from_its_products(crm: Crm, shop: dict) -> None:
    quote = crm.quote_book.add({"opportunity_id": shop["deal"]["id"][:10]})
    assert quote["customer_id"] == shop["customer"]["id"] and quote["title"] == "生产线改造"
    assert [(line["sku"], line["quantity"], line["amount"]) for line in quote["lines"]] == [
        ("SN-100", 1.0, 1200.0), ("VL-7", 1.0, 99.99)]
    # a deal with no products: one line of its title at its amount
    bare = crm.opportunities.create({"customer_id": shop["customer"]["id"], "title": "维保", "amount": 8000})
    quote = crm.quote_book.add({"opportunity_id": bare["id"]})
    assert [(line["product"], line["amount"]) for line in quote["lines"]] == [("维保", 8000.0)]


def test_the_products_of_an_opportunity_are_checked_and_shown(crm: Crm, shop: dict) -> None:
    deal = shop["deal"]
    assert [p["sku"] for p in crm.opportunities.products_of(deal)] == ["SN-100", "VL-7"]
    with pytest.raises(ValidationError, match="no product of the catalogue"):
        crm.opportunities.update(deal["id"], {"product_ids": "SN-100,NOPE"})
    changed = crm.opportunities.update(deal["id"], {"product_ids": "VL-7"})
    assert [p["sku"] for p in crm.opportunities.products_of(changed)] == ["VL-7"]
    # the change is captured like any field (it syncs)
    logged = crm.changes(table="opportunities", row_id=deal["id"])
    assert any("product_ids" in (c.get("data") or {}) for c in logged[1:])


def test_rules_of_a_quote(crm: Crm, shop: dict) -> None:
    cid = shop["customer"]["id"]
    with pytest.raises(ValidationError, match="before the quote's date"):
        crm.quote_book.add({"customer_id": cid, "quoted_on": "2026-09-15", "valid_until": "2026-09-01"}, LINES)
    with pytest.raises(ValidationError, match="customer or the opportunity"):
        crm.quote_book.add({}, LINES)
    with pytest.raises(ValidationError, match="line 2"):
        crm.quote_book.add({"customer_id": cid}, [LineSpec("SN-100", "1"), LineSpec("unknown", "1")])
    quote = crm.quote_book.add({"customer_id": cid}, LINES)
    with pytest.raises(ValidationError, match="only by accepting"):
        crm.quote_book.edit(quote["id"], {"status": "accepted"})
    with pytest.raises(ValidationError, match="only by accepting"):  # the state rule holds on every write path
        crm.quotes.update(quote["id"], {"status": "accepted"})
    other = crm.customers.create({"name": "王芳"})
    with pytest.raises(ValidationError, match="another customer's"):
        crm.quote_book.add({"customer_id": other["id"], "opportunity_id": shop["deal"]["id"]})
    assert crm.quotes.count() == 1  # nothing half-written by the refusals


def test_accepting_makes_the_order_with_its_lines_and_wins_the_opportunity(crm: Crm, shop: dict) -> None:
    deal = shop["deal"]
    quote = crm.quote_book.add({"opportunity_id": deal["id"]}, LINES)
    accepted, order, won = crm.quote_book.accept(quote["id"])
    assert (accepted["status"], accepted["order_id"]) == ("accepted", order["id"])
    assert (order["customer_id"], order["amount"], order["ordered_at"], order["status"]) == (
        shop["customer"]["id"], 4832.44, "2026-09-15", "confirmed")
    lines = crm.order_book.lines(order["id"])
    assert [(line["sku"], line["product"], line["quantity"], line["unit_price"], line["discount"], line["amount"])
            for line in lines] == [("SN-100", "传感器", 3.0, 1200.0, 5.0, 3420.0),
                                   (None, "安装调试费", 1.0, 800.0, None, 800.0),
                                   ("VL-7", "Valve", 7.0, 99.99, 12.5, 612.44)]
    assert won is not None and (won["stage"], won["order_id"], won["amount"], won["closed_on"]) == (
        "won", order["id"], 4832.44, "2026-09-15")
    assert [m["to_stage"] for m in crm.pipeline.history(deal["id"])] == ["won"]
    # attainment counts the sale once: the order, not the won deal as well
    assert crm.pipeline.attainment("2026-09")["team"]["sales"] == 4832.44
    # accepted is final
    with pytest.raises(ValidationError, match="already accepted"):
        crm.quote_book.accept(quote["id"])
    with pytest.raises(ValidationError, match="does not change"):
        crm.quote_book.edit(quote["id"], {"terms": "x"})
    # a second quote of the same deal cannot make a second order
    again = crm.quote_book.add({"opportunity_id": deal["id"]}, LINES)
    with pytest.raises(ValidationError, match="won already"):
        crm.quote_book.accept(again["id"])
    assert crm.orders.count() == 1


def test_expired_and_declined_quotes_are_not_accepted(crm: Crm, shop: dict) -> None:
    cid = shop["customer"]["id"]
    old = crm.quote_book.add({"customer_id": cid, "quoted_on": "2026-08-01", "valid_until": "2026-08-31"}, LINES)
    assert old["expired"] and [q["expired"] for q in crm.quote_book.find(customer_id=cid)] == [True]
    with pytest.raises(ValidationError, match="expired on 2026-08-31"):
        crm.quote_book.accept(old["id"])
    crm.quote_book.edit(old["id"], {"valid_until": "2026-09-30", "status": "declined"})
    with pytest.raises(ValidationError, match="declined"):
        crm.quote_book.accept(old["id"])
    crm.quote_book.edit(old["id"], {"status": "sent"})
    assert crm.quote_book.accept(old["id"])[2] is None  # no opportunity: only the order
    assert crm.orders.count() == 1


def test_accept_is_one_transaction(crm: Crm, shop: dict) -> None:
    """When winning the deal fails (here: the database refuses any change of
    opportunities), nothing of the acceptance stays: no order, no lines, a draft quote."""
    quote = crm.quote_book.add({"opportunity_id": shop["deal"]["id"]}, LINES)
    crm.conn.execute("CREATE TEMP TRIGGER no_deals BEFORE UPDATE ON opportunities "
                     "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    with pytest.raises(Exception, match="refused by the test"):
        crm.quote_book.accept(quote["id"])
    crm.conn.execute("DROP TRIGGER no_deals")
    assert crm.orders.count() == 0
    assert crm.conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 0
    assert crm.quote_book.get(quote["id"])["status"] == "draft"
    assert crm.opportunities.get(shop["deal"]["id"])["stage"] == "proposal"


def _self_contained(html: str) -> None:
    assert "<script" not in html.lower() and "<link" not in html.lower() and "<img" not in html.lower()
    assert not re.search(r"(src|href)\s*=", html, re.I) and "url(" not in html and "@import" not in html
    assert "http://" not in html and "https://" not in html


def test_the_rendered_quote_in_chinese_and_english(crm: Crm, shop: dict) -> None:
    quote = crm.quote_book.add({"opportunity_id": shop["deal"]["id"], "terms": "付款：预付30%\n<b>交货</b>：30天"},
                               LINES)
    zh = crm.quote_book.render(quote["id"], lang="zh")
    _self_contained(zh)
    for text in ("报价单", "艾克米泵业", "上海市浦东新区港口路1号", "税号", "南方食品", "李娜", "生产线改造",
                 "产品编号", "单价", "折扣", "小计", "5,099.93", "-267.49", "合计 (CNY)", "4,832.44",
                 "3,420.00", "612.44", "12.5%", "安装调试费", "有效期至: 2026-10-15", "ICBC 6222 0000"):
        assert text in zh, text
    assert "&lt;b&gt;交货&lt;/b&gt;" in zh and "<b>交货" not in zh  # what was typed is escaped
    assert 'lang="zh-CN"' in zh
    en = crm.quote_book.render(quote["id"], lang="en")
    _self_contained(en)
    for text in ("Quotation", "Acme Pumps", "1 Harbour Rd", "Unit price", "Subtotal", "Total (CNY)", "4,832.44",
                 "valid until 2026-10-15"):
        assert text in en, text
    assert "报价单" not in en and "艾克米泵业" not in en
    # an accepted quote is stamped so
    crm.quote_book.accept(quote["id"])
    assert "已接受" in crm.quote_book.render(quote["id"], lang="zh")


def invoke(db: Path, *args: str, lang: str | None = None) -> str:
    env = {"CRM_DB": str(db), "COLUMNS": "200"}
    if lang:
        env["CRM_LANG"] = lang
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_quotes_commands(crm: Crm, shop: dict, db_path: Path, tmp_path: Path) -> None:
    deal_id = shop["deal"]["id"]
    crm.close()
    made = json.loads(invoke(db_path, "quotes", "add", "--opportunity", deal_id[:8], "--line", "SN-100:3::5",
                             "--line", "安装调试费:1:800", "--line", "VL-7:7::12.5", "--terms", "预付30%",
                             "--valid-until", "2026-12-31", "--json"))
    qid = made["id"]
    with Crm(db_path, rep="wang") as check:
        row = check.quotes.get(qid)
        assert (row["amount"], row["valid_until"], row["terms"], row["opportunity_id"]) == (
            4832.44, "2026-12-31", "预付30%", deal_id)
    listed = json.loads(invoke(db_path, "quotes", "list", "--opportunity", deal_id, "--json"))
    assert [q["id"] for q in listed] == [qid]
    shown = invoke(db_path, "quotes", "show", qid[:10])
    assert "4,832.44" in shown and "安装调试费" in shown
    invoke(db_path, "quotes", "edit", qid, "--status", "sent", "--title", "改造报价")
    bad = runner.invoke(app, ["quotes", "edit", qid, "--status", "accepted"], env={"CRM_DB": str(db_path)})
    assert bad.exit_code != 0 and "crm quotes accept" in bad.output and "Traceback" not in bad.output
    out = tmp_path / "报价单.html"
    invoke(db_path, "quotes", "render", qid, "--format", "html", "-o", str(out), lang="zh")
    assert "报价单" in out.read_text(encoding="utf-8") and "改造报价" in out.read_text(encoding="utf-8")
    assert "Quotation" in invoke(db_path, "quotes", "render", qid, lang="en")
    result = json.loads(invoke(db_path, "quotes", "accept", qid, "--json"))
    with Crm(db_path, rep="wang") as check:
        order = check.orders.get(result["order"]["id"])
        assert order["amount"] == 4832.44 and len(check.order_book.lines(order["id"])) == 3
        assert check.opportunities.get(deal_id)["stage"] == "won"
        assert check.quotes.get(qid)["status"] == "accepted"
    other = json.loads(invoke(db_path, "quotes", "add", "--customer", shop["customer"]["id"], "--line",
                              "SN-100:1", "--json"))
    invoke(db_path, "quotes", "delete", other["id"], "--yes")
    with Crm(db_path, rep="wang") as check:
        assert check.quotes.count() == 1
        assert check.conn.execute("SELECT count(*) FROM quote_lines WHERE quote_id = ?",
                                  (other["id"],)).fetchone()[0] == 0
    shown = invoke(db_path, "opportunities", "show", deal_id)
    assert "SN-100 传感器, VL-7 Valve" in shown


def test_a_quotes_total_is_set_apart_from_its_lines_by_no_edit(crm: Crm, shop: dict) -> None:
    """A quotation's total could be written apart from its lines by an edit of the
    record (a script, a bulk update): now refused, by field, row and reason; new
    lines still set it, in one transaction (the lines first, then the total)."""
    quote = crm.quote_book.add({"customer_id": shop["customer"]["id"]}, LINES)
    assert quote["amount"] == 4832.44
    with pytest.raises(ValidationError) as refused:
        crm.quotes.update(quote["id"], {"amount": 1})
    assert str(refused.value.errors[0]) == (f"amount: 1.00 is not what the lines of quotation {quote['id']} come "
                                            "to (4,832.44): change its lines, and the amount follows them")
    assert crm.quote_book.get(quote["id"])["amount"] == 4832.44
    edited = crm.quote_book.edit(quote["id"], {"title": "改"}, [LineSpec("SN-100", "1")])
    assert (edited["amount"], edited["title"], len(edited["lines"])) == (1200.0, "改", 1)
