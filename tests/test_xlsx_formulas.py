"""A formula cell that holds no computed value (a workbook written by a program that
does not compute formulas, until Excel or WPS saves it) would import as an empty
cell: its row is refused instead, naming the row and the column, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from crm_tui.api import Crm
from crm_tui.cli import app


def run(db: Path, *args: str):
    return CliRunner().invoke(app, ["--db", str(db), *args])


def sheet_with_formula(path: Path) -> None:
    # openpyxl writes the formula and no value for it, as such programs do
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["SKU", "名称", "单价", "单位"])
    ws.append(["SN-100", "工业传感器", 1200, "个"])
    ws.append(["SN-200", "控制器", "=C2*2", '=IF(C2>0,"","件")'])
    ws.append(["SN-300", "线缆", "=C2/10", "米"])
    book.save(path)


def test_a_formula_without_a_computed_value_is_refused_naming_row_and_column(
        tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sheet_with_formula(tmp_path / "prices.xlsx")
    out = run(db_path, "products", "import", str(tmp_path / "prices.xlsx"))
    assert out.exit_code == 1, out.output
    assert "row 3" in out.output and "row 4" in out.output and "column C (单价)" in out.output and "formula without a computed value" \
        in out.output, out.output
    assert "Traceback" not in out.output
    with Crm(db_path) as crm:
        assert crm.products.count() == 0  # all or nothing
    monkeypatch.setenv("CRM_LANG", "zh")
    zh = run(db_path, "products", "import", str(tmp_path / "prices.xlsx"))
    assert zh.exit_code == 1 and "第 C 列（单价）" in zh.output and "公式" in zh.output, zh.output


def test_skip_invalid_keeps_the_other_rows(tmp_path: Path, db_path: Path) -> None:
    sheet_with_formula(tmp_path / "prices.xlsx")
    out = run(db_path, "products", "import", str(tmp_path / "prices.xlsx"), "--skip-invalid")
    assert out.exit_code == 0, out.output
    with Crm(db_path) as crm:
        assert [(p["sku"], p["list_price"]) for p in crm.products.find([])] == [("SN-100", 1200.0)]


def test_which_formula_cells_hold_no_value(tmp_path: Path) -> None:
    from crm_tui.api.workbook import uncomputed_formulas

    sheet_with_formula(tmp_path / "f.xlsx")
    data = (tmp_path / "f.xlsx").read_bytes()
    assert uncomputed_formulas(data, "Sheet") == {(3, 3), (3, 4), (4, 3)}
    # as Excel saves them: a computed number, and a computed empty text (t="str", empty <v>)
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            part = src.read(item)
            if item == "xl/worksheets/sheet1.xml":
                part = part.replace(b"<f>C2*2</f><v />", b"<f>C2*2</f><v>2400</v>")
                part = part.replace(b'<c r="D3"><f>', b'<c r="D3" t="str"><f>').replace(
                    b'"\xe4\xbb\xb6")</f><v />', b'"\xe4\xbb\xb6")</f><v></v>')
                part = part.replace(b"<f>C2/10</f><v />", b"<f>C2/10</f><v>120</v>")
            dst.writestr(item, part)
    assert uncomputed_formulas(out.getvalue(), "Sheet") == set()


def test_a_formula_in_a_column_the_import_does_not_take_refuses_no_row(tmp_path: Path, db_path: Path) -> None:
    # A check column of the sheet (核对, left out with --ignore-unknown) and a computed
    # class (等级: the classification computes it) hold formulas no program computed:
    # only the columns the import takes can lose a value, so no row is refused.
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["SKU", "名称", "单价", "核对"])
    ws.append(["SN-100", "工业传感器", 1200, "=C2>0"])
    ws.append(["SN-200", "控制器", 800, "=C3>0"])
    book.save(tmp_path / "prices.xlsx")
    out = run(db_path, "products", "import", str(tmp_path / "prices.xlsx"), "--ignore-unknown")
    assert out.exit_code == 0, out.output
    with Crm(db_path) as crm:
        assert sorted((p["sku"], p["list_price"]) for p in crm.products.find([])) == [("SN-100", 1200.0),
                                                                                     ("SN-200", 800.0)]
    ws = (book := openpyxl.Workbook()).active
    ws.append(["姓名", "手机", "等级", "地区"])
    ws.append(["张伟", "13900001111", '=IF(B2<>"","A","C")', "=LEFT(A2,1)"])  # 地区 is taken: refused
    ws.append(["李娜", "13900002222", '=IF(B3<>"","A","C")', "华东"])
    book.save(tmp_path / "people.xlsx")
    out = run(db_path, "customers", "import", str(tmp_path / "people.xlsx"), "--skip-invalid")
    assert out.exit_code == 0, out.output
    assert "row 2" in out.output and "column D (地区)" in out.output and "row 3" not in out.output, out.output
    with Crm(db_path) as crm:
        assert [c["name"] for c in crm.customers.find([])] == ["李娜"]
