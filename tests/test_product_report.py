"""Sales by product and category, top products per region and per rep, and the
returns rate (issue 13 item 6), on a hand-computed book: in the API, in `crm
product-stats --json`, and in the report's Markdown, CSV and HTML.

The book, 2026-Q1 (wang sells to 华东 Co, li to 华南 Co):
  o1 wang 01-10  SN-1 3 x 100 = 300; CB-1 10 x 10 less 10% = 90
  o2 wang 02-01  SN-1 1 x 100 = 100
  o3 li   02-15  CB-1 5 x 10 = 50; 旧型号 (not in the catalogue) 1 x 200 = 200
  r1 wang 03-01  refund of o1: SN-1 1 x 100 = 100
  cancelled, and an order of April: not counted
Net by product: SN-1 400 - 100 = 300, 旧型号 200, CB-1 140; total 640.
Gross 740, refunds 100: returns rate 100 / 740 = 13.5%; SN-1's 100 / 400 = 25%."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.domain.orders import LineSpec
from crm_tui.report import render

runner = CliRunner()


@pytest.fixture
def book(crm: Crm) -> Crm:
    crm.products.create({"sku": "SN-1", "name": "传感器", "category": "传感器", "list_price": 100})
    crm.products.create({"sku": "CB-1", "name": "电缆", "category": "线缆", "list_price": 10})
    east = crm.customers.create({"name": "华东 Co", "region": "华东"})["id"]
    south = crm.customers.create({"name": "华南 Co", "region": "华南"})["id"]
    add = crm.order_book.add
    o1 = add({"customer_id": east, "ordered_at": "2026-01-10"}, [LineSpec("SN-1", "3"), LineSpec("CB-1", "10", None, "10")])
    add({"customer_id": east, "ordered_at": "2026-02-01"}, [LineSpec("SN-1", "1")])
    add({"customer_id": east, "ordered_at": "2026-02-20", "status": "cancelled"}, [LineSpec("SN-1", "5")])
    add({"customer_id": east, "ordered_at": "2026-04-02"}, [LineSpec("SN-1", "9")])
    crm.order_book.refund(o1["id"], [LineSpec("SN-1", "1")], ordered_at="2026-03-01")
    crm.set_rep("li")
    add({"customer_id": south, "ordered_at": "2026-02-15"}, [LineSpec("CB-1", "5"), LineSpec("旧型号", "1", "200")])
    crm.set_rep("wang")
    return crm


def test_sales_by_product_category_region_rep_and_returns(book: Crm) -> None:
    r = book.analytics.product_sales("2026-Q1", top=1)
    assert [(p["sku"], p["product"], p["sales"]) for p in r["by_product"]] == [
        ("SN-1", "传感器", 300.0), (None, "旧型号", 200.0), ("CB-1", "电缆", 140.0)]
    sn1 = r["by_product"][0]
    assert (sn1["orders"], sn1["quantity"], sn1["gross"], sn1["returns"]) == (2, 3, 400.0, 100.0)
    assert sn1["share"] == pytest.approx(300 / 640, abs=1e-4) and sn1["returns_rate"] == 0.25
    assert r["by_product"][2]["quantity"] == 15 and r["by_product"][2]["returns_rate"] == 0.0
    assert [(c["category"], c["sales"]) for c in r["by_category"]] == [
        ("传感器", 300.0), ("(unknown)", 200.0), ("线缆", 140.0)]
    assert [(t["region"], t["rank"], t["product"], t["sales"]) for t in r["top_by_region"]] == [
        ("华东", 1, "传感器", 300.0), ("华南", 1, "旧型号", 200.0)]
    assert r["top_by_region"][0]["share"] == pytest.approx(300 / 390, abs=1e-4)  # of 华东's 300 + 90
    assert [(t["rep"], t["product"], t["sales"]) for t in r["top_by_rep"]] == [
        ("li", "旧型号", 200.0), ("wang", "传感器", 300.0)]
    assert r["returns"] == {"gross_sales": 740.0, "refunds": 100.0, "net_sales": 640.0,
                            "returns_rate": pytest.approx(100 / 740, abs=1e-4), "sale_orders": 3,
                            "refund_orders": 1}
    # One rep's figures: li alone, no refunds.
    li = book.analytics.product_sales("2026-Q1", rep="li")
    assert li["returns"]["net_sales"] == 250.0 and li["returns"]["returns_rate"] == 0.0


def test_top_products_per_region_are_ranked_within_it(book: Crm) -> None:
    r = book.analytics.product_sales("2026-Q1", top=5)
    east = [(t["rank"], t["product"], t["sales"]) for t in r["top_by_region"] if t["region"] == "华东"]
    assert east == [(1, "传感器", 300.0), (2, "电缆", 90.0)]


def test_cli_product_stats_json(book: Crm, db_path: Path) -> None:
    result = runner.invoke(app, ["product-stats", "--period", "2026-Q1", "--json", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["returns"]["net_sales"] == 640.0 and data["by_product"][0]["sku"] == "SN-1"
    table = runner.invoke(app, ["product-stats", "--period", "2026-Q1", "--db", str(db_path)])
    assert table.exit_code == 0 and "13.5%" in table.stdout


def test_the_report_shows_the_product_figures_in_every_format(book: Crm) -> None:
    data = book.analytics.report_data("2026-Q1")
    md = render(data, "md")
    for line in ("| 传感器 | SN-1 | 传感器 | 2 | 3 | 300.00 | 46.9% | 100.00 | 25.0% |",
                 "| 线缆 | 15 | 140.00 | 21.9% | 0.00 | 0.0% |",
                 "| 华南 | 1 | 旧型号 | 1 | 200.00 | 80.0% |",
                 "| wang | 1 | 传感器 | 3 | 300.00 | 76.9% |",
                 "| Returns rate | 13.5% |"):
        assert line in md, line
    csv = render(data, "csv")
    assert "product_sales,SN-1,returns_rate,0.25\n" in csv and "returns,all,refunds,100\n" in csv
    assert "top_product_region,华东 #2,product,电缆\n" in csv
    html = render(data, "html")
    assert "<h3>Top products per rep</h3>" in html and "13.5%" in html


def test_cli_product_stats_in_chinese(book: Crm, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Titles, columns, the free-text product's missing category and the summary line
    read in Chinese under CRM_LANG=zh."""
    monkeypatch.setenv("CRM_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "200")
    result = runner.invoke(app, ["product-stats", "--period", "2026-Q1", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    for text in ("按产品销售", "按类别销售", "各地区畅销产品", "各销售代表畅销产品", "退货率", "（未知）",
                 "净销售额 640.00"):
        assert text in result.stdout, text
    assert "unknown" not in result.stdout and "returns rate" not in result.stdout
