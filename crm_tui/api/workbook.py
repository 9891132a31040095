"""Reading an Excel workbook (.xlsx) for an import: one sheet becomes the same
`Source` a CSV file becomes (headers, rows of text cells keyed by header, the sheet's
row numbers), so the header mapping, validation, all-or-nothing write and rejects
file are the CSV import's own (see `crm_tui.api.importing`)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Any

from crm_tui.api.importing import ImportFileError, Source, SourceRow
from crm_tui.i18n import t


def read_workbook(path: Path, data: bytes, sheet: str | None = None) -> Source:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only: a formula cell reads as the value Excel (or WPS) last computed
        book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ImportFileError(t("import_file.not_workbook", path=path)) from None
    if sheet is None:
        ws = book.worksheets[0]
    elif sheet in book.sheetnames:
        ws = book[sheet]
    else:
        raise ImportFileError(t("import_file.no_sheet", path=path, sheet=repr(sheet), sheets=", ".join(book.sheetnames)))
    grid = [[_text(c.value, c.number_format) for c in row] for row in ws.iter_rows()]
    merged = [(m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges]
    return _source(path, ws.title, grid, merged, uncomputed_formulas(data, ws.title))


_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]+)([0-9]+)")


def uncomputed_formulas(data: bytes, title: str) -> set[tuple[int, int]]:
    """(row, column), both from 1, of the formula cells of sheet `title` that hold no
    computed value: a file written by a program that does not compute formulas
    (openpyxl, many exporters) until a spreadsheet app opens and saves it. Read as a
    value they are empty, and an import would lose them without a word. A formula
    whose computed value is empty text (t="str" with an empty <v>) is computed."""
    from xml.etree import ElementTree

    from openpyxl.utils import column_index_from_string

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            part = _sheet_part(book, title)
            if part is None:
                return set()
            xml = book.read(part)
            if b"<f" not in xml and b":f" not in xml:
                return set()  # no formula at all: the common case costs one search
            found: set[tuple[int, int]] = set()
            for _event, cell in ElementTree.iterparse(io.BytesIO(xml)):
                if cell.tag != _NS + "c":
                    continue
                if cell.find(_NS + "f") is not None:
                    value = cell.find(_NS + "v")
                    computed = value is not None and (value.text or cell.get("t") == "str")
                    ref = _CELL_REF.fullmatch(cell.get("r") or "")
                    if not computed and ref:
                        found.add((int(ref[2]), column_index_from_string(ref[1])))
                cell.clear()
            return found
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError):
        return set()  # openpyxl read it; what it could not tell is no reason to refuse it


def _sheet_part(book: zipfile.ZipFile, title: str) -> str | None:
    """The zip member of the sheet named `title`, through the workbook's relationships."""
    from xml.etree import ElementTree

    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target") or "" for rel in rels}
    for sheet in workbook.iter(_NS + "sheet"):
        if sheet.get("name") == title:
            target = targets.get(sheet.get(_REL_NS + "id"), "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    return None


def _shows_time(number_format: str | None) -> bool:
    """Whether a date cell's format shows the time of day (hh:mm), not only the date."""
    fmt = re.sub(r'"[^"]*"|\[[^\]]*\]', "", (number_format or "").lower())  # quoted text, [colours]
    return "h" in fmt or "s" in fmt


def _text(value: Any, number_format: str | None = None) -> str:
    """A cell as the text a CSV cell would hold for it: a date cell as the sheet shows
    it (a time of day hidden by a date-only format is not part of the value)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) or not _shows_time(number_format):
            return value.date().isoformat()  # a date typed into a date cell
        return value.replace(microsecond=0).isoformat(" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, float):
        # 13812345678.0: a phone or an id typed as a number; 1280.5 stays as it is
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    return str(value)


def _source(path: Path, title: str, grid: list[list[str]], merged: list[tuple[int, int, int, int]],
            uncomputed: Collection[tuple[int, int]] = ()) -> Source:
    def filled(row: list[str]) -> int:
        return sum(1 for c in row if c.strip())

    top = 0
    # Skip empty rows and a title row (one cell, often merged across the columns)
    # above the header: the header is the first row with two or more cells, or the
    # first non-empty row when no row has more than one (a one-column sheet).
    while top < len(grid) and filled(grid[top]) < 2 and any(filled(r) >= 2 for r in grid[top + 1:]):
        top += 1
    if top >= len(grid) or not filled(grid[top]):
        raise ImportFileError(t("import_file.sheet_empty", path=path, sheet=repr(title)))
    header_row = top + 1  # 1-based, as Excel numbers rows
    headers = list(grid[top])
    first_data = top + 1
    # A header of two rows: cells merged across columns in the header row with the
    # column names in the row below (联系方式 over 手机, 邮箱).
    spans = [m for m in merged if m[0] == header_row and m[3] > m[1]]
    if spans and first_data < len(grid):
        below = grid[first_data]
        if any(below[c - 1].strip() for (_, c1, _, c2) in spans for c in range(c1, c2 + 1) if c - 1 < len(below)):
            headers = [b.strip() or h for h, b in zip(headers, below, strict=False)]
            first_data += 1
    width = max((len(r) for r in grid), default=0)
    headers += [""] * (width - len(headers))
    rows: list[SourceRow] = []
    unread: dict[int, list[tuple[str, str]]] = {}
    for index in range(first_data, len(grid)):
        cells = grid[index] + [""] * (width - len(grid[index]))
        if not filled(cells):
            continue  # empty rows (and the formatted, empty rows a sheet ends with) are not rows
        unnamed = [i for i, c in enumerate(cells) if c.strip() and not headers[i].strip()]
        if unnamed:
            raise ImportFileError(t("import_file.no_header", path=path, row=index + 1, column=_letter(unnamed[0]),
                                    header_row=header_row))
        raw = {h: c for h, c in zip(headers, cells, strict=True) if h.strip()}
        lost = [(_letter(c), headers[c].strip()) for c in range(width)
                if (index + 1, c + 1) in uncomputed and headers[c].strip()]
        if lost:  # refused by the import if one of these columns is one it takes
            unread[index + 1] = lost
        rows.append(SourceRow(index + 1, raw, {}))
    return Source(path, "xlsx", f"xlsx:{title}", [h for h in headers if h.strip()], rows, uncomputed=unread)


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
