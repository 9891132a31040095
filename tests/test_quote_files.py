"""Quotations with their lines in files (`crm quotes export` / `import`), as the other
record kinds have them: one row per line grouped by 报价单号, CSV (UTF-8 or GBK), JSON
or xlsx, Chinese or English headers; all or nothing, bad rows named by line and field;
an export re-imports to the same quotations, lines and totals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app


def run(db: Path, *args: str, lang: str = "en"):
    return CliRunner().invoke(app, ["--db", str(db), *args], env={"COLUMNS": "200", "CRM_LANG": lang})


def ok(db: Path, *args: str):
    out = run(db, *args)
    assert out.exit_code == 0, out.output
    return out


@pytest.fixture
def book(db_path: Path) -> dict[str, str]:
    with Crm(db_path, rep="wang", create=True) as crm:
        crm.products.create({"sku": "R-10K", "name": "贴片电阻", "list_price": 0.0035})
        crm.products.create({"sku": "SN-100", "name": "工业传感器", "list_price": 1200})
        customer = crm.customers.create({"name": "张伟", "company": "华为技术有限公司"})["id"]
        other = crm.customers.create({"name": "李娜"})["id"]
        deal = crm.opportunities.create({"customer_id": customer, "title": "产线改造", "amount": 50000,
                                         "stage": "proposal"})["id"]
    return {"customer": customer, "other": other, "deal": deal}


def quotes_of(db: Path) -> list[tuple]:
    with Crm(db) as crm:
        out = []
        for q in sorted(crm.quote_book.find(), key=lambda q: (q["title"] or "", q["quoted_on"])):
            full = crm.quote_book.get(q["id"])
            out.append((full["customer_id"], full["opportunity_id"], full["title"], full["quoted_on"],
                        full["valid_until"], full["status"], full["terms"], full["amount"],
                        [(ln["position"], ln["sku"], ln["product"], ln["quantity"], ln["unit_price"], ln["discount"],
                          ln["amount"]) for ln in full["lines"]]))
        return out


def test_a_chinese_gbk_file_imports_quotations_with_their_lines(db_path: Path, book: dict[str, str],
                                                               tmp_path: Path) -> None:
    c, d = book["customer"], book["deal"]
    (tmp_path / "报价单.csv").write_bytes(
        ("报价单号,客户编号,商机编号,标题,报价日期,有效期至,状态,条款,产品编号,产品,数量,单价,折扣,金额\n"
         f"Q1,{c},{d},产线改造一期,2026-11-02,2026-12-02,已发送,预付30%,R-10K,,10000,,,35.00\n"
         "Q1,,,,,,,,SN-100,,2,,5,2280\n"
         f"Q2,{c},,安装服务,2026-11-03,,,,,安装调试费,1,800,,\n").encode("gbk"))
    out = ok(db_path, "quotes", "import", str(tmp_path / "报价单.csv"))
    assert "created 2 quotations with 3 lines" in out.output
    assert quotes_of(db_path) == [
        (c, d, "产线改造一期", "2026-11-02", "2026-12-02", "sent", "预付30%", 2315.0,
         [(1, "R-10K", "贴片电阻", 10000.0, 0.0035, None, 35.0), (2, "SN-100", "工业传感器", 2.0, 1200.0, 5.0, 2280.0)]),
        (c, None, "安装服务", "2026-11-03", "2026-12-03", "draft", None, 800.0,
         [(1, None, "安装调试费", 1.0, 800.0, None, 800.0)]),
    ]


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_an_export_reimports_to_the_same_quotations(db_path: Path, book: dict[str, str], tmp_path: Path,
                                                    fmt: str) -> None:
    ok(db_path, "quotes", "add", "--opportunity", book["deal"], "--line", "R-10K:12345.5", "--line", "SN-100:3::12.5",
       "--terms", "预付30%，30天交货", "--date", "2026-11-02")
    ok(db_path, "quotes", "add", "--customer", book["other"], "--line", "旧型号:1.5:0.0042", "--title", "小单")
    path = tmp_path / f"quotes.{fmt}"
    ok(db_path, "quotes", "export", "--format", fmt, "-o", str(path), *(("--chinese",) if fmt == "xlsx" else ()))
    before = quotes_of(db_path)
    with Crm(db_path) as crm:  # a second copy of every quotation, from the file
        assert crm.quote_book.quotes.count() == 2
    out = ok(db_path, "quotes", "import", str(path), "--json")
    assert json.loads(out.stdout)["orders"] == 2
    after = quotes_of(db_path)
    assert sorted(after) == sorted(before + before)


def test_csv_and_json_export_to_stdout(db_path: Path, book: dict[str, str]) -> None:
    ok(db_path, "quotes", "add", "--customer", book["other"], "--line", "R-10K:1000")
    rows = json.loads(ok(db_path, "quotes", "export", "--format", "json").stdout)
    assert [(r["sku"], r["quantity"], r["unit_price"], r["amount"]) for r in rows] == [("R-10K", 1000.0, 0.0035, 3.5)]
    assert "quote,customer_id" in ok(db_path, "quotes", "export").stdout
    xlsx = run(db_path, "quotes", "export", "--format", "xlsx")
    assert xlsx.exit_code != 0 and "-o" in xlsx.output


def test_bad_rows_are_named_and_nothing_is_written(db_path: Path, book: dict[str, str], tmp_path: Path) -> None:
    c, other, d = book["customer"], book["other"], book["deal"]
    (tmp_path / "bad.csv").write_text(
        "quote,customer_id,opportunity_id,quoted_on,status,sku,product,quantity,unit_price,amount\n"
        f"Q1,{c},,2026-11-02,draft,R-10K,,1000,,3.60\n"            # line 2: amount is not 1000 × 0.0035
        f"Q1,,,2026-11-09,,SN-100,,1,,\n"                           # line 3: another date for Q1
        f"Q2,{other},{d},,,SN-100,,1,,\n"                            # line 4: the deal is another customer's
        f"Q3,{c},,,accepted,SN-100,,1,,\n"                           # line 5: accepted without its order
        f"Q4,{c},,,,NOPE,,1,,\n"                                     # line 6: no such SKU, no price
        f"Q5,{c},,,,R-10K,,1.23456,,\n"                              # line 7: a quantity keeps 4 decimals
        ",,,,,SN-100,,1,,\n", encoding="utf-8")                      # line 8: no key
    out = run(db_path, "quotes", "import", str(tmp_path / "bad.csv"))
    assert out.exit_code == 1, out.output
    text = out.output
    for expected in ("line 2: amount: 3.60 is not what the line's quantity, unit price and discount make (3.50)",
                     "line 3: quoted_on: '2026-11-09' differs from '2026-11-02'", "line 4: quotation Q2: ",
                     "line 5: quotation Q3: ", "line 6: ", "line 7: ", "at most 4 decimals",
                     "line 8: quote: is required"):
        assert expected in text, (expected, text)
    assert "Traceback" not in text
    with Crm(db_path) as crm:
        assert crm.quote_book.quotes.count() == 0 and crm.quote_book.lines_api.count() == 0
    rejects = (tmp_path / "bad.rejects.csv").read_text(encoding="utf-8-sig")
    assert rejects.count("\n") == 8  # the header and the 7 bad rows
    zh = run(db_path, "quotes", "import", str(tmp_path / "bad.csv"), lang="zh")
    assert zh.exit_code == 1 and "报价单 Q2" in zh.output and "第 2 行" in zh.output, zh.output
