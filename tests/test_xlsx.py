"""Excel in and out (issue 14, item 7), as a sales team uses it: customer lists kept in
Excel come in through the same mapping, validation, all-or-nothing write and rejects
file as CSV; exports and reports open in Excel as real workbooks.

Three kinds of workbook are read: ones this product writes (round trips), ones made
with openpyxl the way people lay out sheets (a merged title row, a two-row header under
merged cells, date cells, phones typed as numbers, formatted empty rows at the end),
and one written byte for byte as Excel and WPS save a sheet (shared strings, a styles
part, a dimension tag, a date as a serial number under a date format, a big number in
exponent form), built below from its XML parts."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from analytics_fixture import add_deals, analytics, build
from openpyxl.styles import Font, PatternFill
from typer.testing import CliRunner

from crm_tui import i18n
from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.report import render


def run(db: Path, *args: str, lang: str = "en", monkeypatch: pytest.MonkeyPatch | None = None):
    if monkeypatch is not None:
        monkeypatch.setenv("CRM_LANG", lang)
    return CliRunner().invoke(app, ["--db", str(db), *args])


def fields(crm: Crm, table: str, names: tuple[str, ...]) -> list[tuple]:
    return sorted(tuple(r.get(n) for n in names) for r in crm.records(table).find([]))


CUSTOMER_FIELDS = ("name", "company", "phone", "mobile", "email", "region", "tags", "notes", "birthday")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_customers_and_visits_round_trip_through_a_workbook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            lang: str) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    with Crm(first, rep="wang", create=True) as crm:
        zhang = crm.customers.create({"name": "张伟", "company": "华东贸易", "phone": "021-29950969",
                                      "mobile": "13812345678", "email": "zw@example.cn", "region": "华东",
                                      "tags": "vip,茶叶", "birthday": "1980-05-06",
                                      "notes": "第一行\n第二行"})
        crm.customers.create({"name": "=HYPERLINK(\"http://x\",\"click\")", "company": "+Evil", "notes": "@sum"})
        crm.visits.create({"customer_id": zhang["id"], "visited_at": "2026-11-22 10:30", "channel": "phone",
                           "purpose": "follow_up", "next_action": "报价", "next_action_date": "2026-12-01"})
        crm.orders.create({"customer_id": zhang["id"], "ordered_at": "2026-11-20", "product": "龙井",
                           "quantity": 3, "amount": 1280.5})
    for table in ("customers", "visits", "orders"):
        out = run(first, table, "export", "--format", "xlsx", "-o", str(tmp_path / f"{table}.xlsx"), lang=lang,
                  monkeypatch=monkeypatch)
        assert out.exit_code == 0, out.output

    book = openpyxl.load_workbook(tmp_path / "customers.xlsx")
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2" and all(c.font.bold for c in ws[1])
    assert ("姓名" in header and "手机" in header) if lang == "zh" else ("Name" in header or "name" in header)
    assert ws.column_dimensions["A"].width >= 26  # an id fits its column
    evil = next(row for row in ws.iter_rows(min_row=2) if str(row[header.index(header[4])].value).startswith("="))
    name_cell = evil[4]
    assert name_cell.data_type == "s" and name_cell.quotePrefix  # text, never a formula
    orders = openpyxl.load_workbook(tmp_path / "orders.xlsx").worksheets[0]
    cells = {h.value: c for h, c in zip(orders[1], orders[2], strict=True)}
    amount = next(c for h, c in cells.items() if h in ("金额", "Amount", "amount"))
    when = next(c for h, c in cells.items() if h in ("下单日期", "日期", "Ordered at", "ordered_at", "Date"))
    assert amount.value == 1280.5 and amount.data_type == "n"
    assert isinstance(when.value, dt.datetime) and when.is_date

    for table in ("customers", "visits", "orders"):
        out = run(second, table, "import", str(tmp_path / f"{table}.xlsx"), lang=lang, monkeypatch=monkeypatch)
        assert out.exit_code == 0, out.output
    with Crm(first) as a, Crm(second) as b:
        assert fields(a, "customers", CUSTOMER_FIELDS) == fields(b, "customers", CUSTOMER_FIELDS)
        visit = ("customer_id", "visited_at", "channel", "purpose", "next_action", "next_action_date")
        assert fields(a, "visits", visit) == fields(b, "visits", visit)
        order = ("customer_id", "ordered_at", "product", "quantity", "amount")
        assert fields(a, "orders", order) == fields(b, "orders", order)


def people_sheet(path: Path, *, bad_phone: bool = False) -> None:
    """A customer list laid out the way people keep it in Excel."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "客户名单"
    book.create_sheet("说明").append(["这一页不是数据"])
    ws.append(["2026 年华东区客户名单"])  # a title row, merged across the columns
    ws.merge_cells("A1:F1")
    ws.append(["姓名", "公司", "联系方式", None, "生日", "成为客户日期"])
    ws.append([None, None, "手机", "邮箱", None, None])
    ws.merge_cells("C2:D2")  # 联系方式 over 手机 and 邮箱
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:B3")
    ws.merge_cells("E2:E3")
    ws.merge_cells("F2:F3")
    ws.append(["张伟", "华东贸易", 13812345678.0, "ZW@Example.cn", dt.datetime(1980, 5, 6), dt.date(2024, 3, 1)])
    ws.append(["王芳", "北方机械", 12345.0 if bad_phone else 13900001111, None, None, dt.datetime(2025, 1, 2)])
    ws.append([None] * 6)
    ws.append(["李娜", "南方食品", "137 0000 2222", "li@example.cn", "1990/01/02", None])
    for row in range(8, 40):  # formatted but empty rows and a column, as a template leaves them
        for col in "ABCDEFG":
            ws[f"{col}{row}"].fill = PatternFill("solid", fgColor="FFFF00")
    ws["A2"].font = Font(bold=True)
    book.save(path)


def test_a_sheet_as_people_lay_it_out_imports(tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    people_sheet(tmp_path / "people.xlsx")
    out = run(db_path, "customers", "import", str(tmp_path / "people.xlsx"), "--json")
    assert out.exit_code == 0, out.output
    with Crm(db_path) as crm:
        got = fields(crm, "customers", ("name", "company", "mobile", "email", "birthday", "customer_since"))
    assert got == sorted([
        ("张伟", "华东贸易", "+8613812345678", "zw@example.cn", "1980-05-06", "2024-03-01"),
        ("王芳", "北方机械", "+8613900001111", None, None, "2025-01-02"),
        ("李娜", "南方食品", "+8613700002222", "li@example.cn", "1990-01-02", None),
    ])


def test_a_bad_row_imports_nothing_and_names_the_sheet_row(tmp_path: Path, db_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    people_sheet(tmp_path / "people.xlsx", bad_phone=True)
    out = run(db_path, "customers", "import", str(tmp_path / "people.xlsx"), lang="zh", monkeypatch=monkeypatch)
    assert out.exit_code == 1
    assert "row 5: 手机（mobile）：'12345' 不是有效的电话号码" in out.output or "第 5 行" in out.output, out.output
    with Crm(db_path) as crm:
        assert crm.customers.count() == 0  # all or nothing
    skipped = run(db_path, "customers", "import", str(tmp_path / "people.xlsx"), "--skip-invalid")
    assert skipped.exit_code == 0, skipped.output
    rejects = (tmp_path / "people.rejects.csv").read_text(encoding="utf-8-sig")
    assert "王芳" in rejects and "12345" in rejects and "张伟" not in rejects
    with Crm(db_path) as crm:
        assert crm.customers.count() == 2


def test_sheet_option_and_its_errors(tmp_path: Path, db_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["不是客户"])
    other = book.create_sheet("Q4")
    other.append(["name", "mobile"])
    other.append(["赵六", 13600003333])
    book.save(tmp_path / "two.xlsx")
    assert run(db_path, "customers", "import", str(tmp_path / "two.xlsx"), "--sheet", "Q4").exit_code == 0
    with Crm(db_path) as crm:
        assert fields(crm, "customers", ("name", "mobile")) == [("赵六", "+8613600003333")]
    missing = run(db_path, "customers", "import", str(tmp_path / "two.xlsx"), "--sheet", "Q5")
    assert missing.exit_code == 1 and "no sheet named 'Q5'" in missing.output and "Q4" in missing.output
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    broken = run(db_path, "customers", "import", str(tmp_path / "broken.xlsx"))
    assert broken.exit_code == 1 and "not a readable Excel workbook" in broken.output
    assert "Traceback" not in broken.output


# -- a sheet as Excel and WPS write it ---------------------------------------------------------

def excel_saved_workbook(path: Path) -> None:
    """The parts of an .xlsx as Excel 2016 / WPS save one sheet: text in the shared
    strings table, a styles part whose second cell format is a date (numFmtId 14), a
    <dimension>, a date as the serial 45992 (2025-12-01) in a styled cell, and numbers
    as Excel writes them (13812345678 and 1.3900001111E10)."""
    strings = ["姓名", "手机", "成为客户日期", "备注", "张伟", "王芳", "=1+1"]
    sst = "".join(f"<si><t>{s}</t></si>" for s in strings)
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<dimension ref="A1:D3"/><sheetViews><sheetView workbookViewId="0"/></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/><sheetData>'
        '<row r="1" spans="1:4"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
        '<c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
        '<row r="2" spans="1:4"><c r="A2" t="s"><v>4</v></c><c r="B2"><v>13812345678</v></c>'
        '<c r="C2" s="1"><v>45992</v></c><c r="D2" t="s"><v>6</v></c></row>'
        '<row r="3" spans="1:4"><c r="A3" t="s"><v>5</v></c><c r="B3"><v>1.3900001111E10</v></c>'
        '<c r="C3" s="1"><v>45658.5</v></c></row>'
        '</sheetData><pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        '</worksheet>')
    styles = (
        '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
        '<cellStyles count="1"><cellStyle name="常规" xfId="0" builtinId="0"/></cellStyles></styleSheet>')
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            '</Types>'),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>'),
        "xl/workbook.xml": (
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
            '</Relationships>'),
        "xl/worksheets/sheet1.xml": sheet,
        "xl/styles.xml": styles,
        "xl/sharedStrings.xml": (f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                                 f'count="{len(strings)}" uniqueCount="{len(strings)}">{sst}</sst>'),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in parts.items():
            z.writestr(name, text)


def test_a_workbook_saved_by_excel_or_wps_imports(tmp_path: Path, db_path: Path) -> None:
    excel_saved_workbook(tmp_path / "wps.xlsx")
    out = run(db_path, "customers", "import", str(tmp_path / "wps.xlsx"))
    assert out.exit_code == 0, out.output
    with Crm(db_path) as crm:
        got = fields(crm, "customers", ("name", "mobile", "customer_since", "notes"))
    assert got == [("张伟", "+8613812345678", "2025-12-01", "=1+1"), ("王芳", "+8613900001111", "2025-01-01", None)]


# -- reports ----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_report_workbook_has_typed_cells_and_headers_in_the_language(crm: Crm, lang: str) -> None:
    ids = build(crm)
    ids |= add_deals(crm, ids)
    i18n.set_language(lang)
    data = analytics(crm).report_data("2026-Q3")
    book = openpyxl.load_workbook(io.BytesIO(render(data, "xlsx")))
    first = book.worksheets[0]
    assert first.freeze_panes == "A2"
    figures = {row[0].value: row[1] for row in first.iter_rows(min_row=2)}
    sales = figures["销售额" if lang == "zh" else "Sales"]
    assert sales.value == 7400.0 and sales.data_type == "n" and sales.number_format == "#,##0.00"
    churn = figures["客户流失率" if lang == "zh" else "Churn rate"]
    assert churn.value == pytest.approx(0.333) and churn.number_format == "0.0%"
    names = book.sheetnames
    assert ("关键指标" in names and any("按类型" in n for n in names)) if lang == "zh" else "Key figures" in names
    types = next(book[n] for n in names if ("按类型" in n if lang == "zh" else "By type" in n))
    assert [c.value for c in types[1]][0] == ("类型" if lang == "zh" else "Type")
    assert {r[0].value for r in types.iter_rows(min_row=2)} == ({"交付", "产品质量"} if lang == "zh"
                                                                else {"delivery", "product quality"})


def test_crm_report_writes_a_workbook(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Crm(db_path, rep="wang", create=True) as crm:
        build(crm)
    out = run(db_path, "report", "--period", "2026-Q3", "--today", "2026-10-01", "--format", "xlsx",
              "-o", str(tmp_path / "q3.xlsx"), lang="zh", monkeypatch=monkeypatch)
    assert out.exit_code == 0 and "报表已写入" in out.output, out.output
    book = openpyxl.load_workbook(tmp_path / "q3.xlsx")
    assert book.sheetnames[0] == "关键指标" and book.worksheets[0]["A2"].value.startswith("销售与分析报表")
