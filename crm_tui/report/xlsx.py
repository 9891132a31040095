"""Excel workbooks (.xlsx, with openpyxl): the one place that writes a sheet the way
every workbook of the product looks — typed cells (numbers, dates, times), a bold
frozen header row, column widths that fit the text (CJK counted double) — and keeps
text from running as a formula. Used by `crm report --format xlsx` and by
`crm ... export --format xlsx`.

Formula injection: a text cell is written as a string cell (type "s"), which Excel,
WPS and LibreOffice never evaluate, and a text starting with = + - @ also gets the
quote prefix (Excel's own "'" marker), so editing the cell later keeps it text. Unlike
CSV, the text itself is not changed: the import reads back exactly what was written."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rich.cells import cell_len

from crm_tui.domain.import_mapping import FORMULA_STARTS

MAX_WIDTH = 60  # characters: longer text wraps in the cell rather than widening the column
SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
# Excel rejects control characters in cells (openpyxl raises IllegalCharacterError).
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
NUMBER_FORMATS = {"money": "#,##0.00", "int": "0", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm:ss",
                  "percent": "0.0%", "decimal": "0.0##",
                  # a unit price or quantity: every decimal it keeps (0.0035), none for 1200
                  "number": "General"}


def sheet_title(text: str, taken: Iterable[str] = ()) -> str:
    """A valid, unique sheet name: no []:*?/\\, at most 31 characters."""
    base = SHEET_NAME.sub(" ", text).strip()[:31] or "Sheet"
    title, n = base, 2
    while title in set(taken):
        suffix = f" ({n})"
        title, n = base[:31 - len(suffix)] + suffix, n + 1
    return title


def add_sheet(book: Any, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
              kinds: Sequence[str | None] | None = None) -> Any:
    """A sheet of `rows` under a bold, frozen `header`. `kinds` (per column: money,
    int, date, datetime, percent, decimal, number, text or None) choose each cell's number
    format; Python numbers, dates and datetimes become typed cells, the rest text."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws = book.create_sheet(sheet_title(title, book.sheetnames))
    bold = Font(bold=True)
    for col, name in enumerate(header, start=1):
        _set_text(ws.cell(row=1, column=col), name).font = bold
    widths = [cell_len(str(h)) for h in header]
    for r, row in enumerate(rows, start=2):
        for i, value in enumerate(row):
            kind = kinds[i] if kinds and i < len(kinds) else None
            _set(ws.cell(row=r, column=i + 1), value, kind)
            shown = value.isoformat(" ") if isinstance(value, dt.datetime) else value
            if i < len(widths):
                widths[i] = max(widths[i], min(cell_len(str(shown if shown is not None else "")), MAX_WIDTH))
    ws.freeze_panes = "A2"  # the header stays on screen while scrolling
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(width, MAX_WIDTH) + 2
        if width >= MAX_WIDTH:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    return ws


def _set_text(cell: Any, value: Any) -> Any:
    text = _ILLEGAL.sub("", str(value))
    cell.value = text
    cell.data_type = "s"  # a string cell even when it starts with "=": never a formula
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


def _set(cell: Any, value: Any, kind: str | None) -> None:
    if value is None or value == "":
        return
    if isinstance(value, bool):
        cell.value = value
    elif isinstance(value, (int, float)) and kind != "text":
        cell.value = value
        if kind in NUMBER_FORMATS:
            cell.number_format = NUMBER_FORMATS[kind]
    elif kind in ("date", "datetime") and isinstance(value, str) and (parsed := _parse_time(value, kind)):
        cell.value = parsed
        cell.number_format = NUMBER_FORMATS[kind]
    elif isinstance(value, (dt.date, dt.datetime)):
        cell.value = value
        cell.number_format = NUMBER_FORMATS["datetime" if isinstance(value, dt.datetime) else "date"]
    else:
        _set_text(cell, value)


def _parse_time(value: str, kind: str) -> dt.date | dt.datetime | None:
    try:
        if kind == "date":
            return dt.date.fromisoformat(value)
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        # Excel has no time zones: a UTC stamp is shown in local time, as the UI shows it
        return stamp.astimezone().replace(tzinfo=None) if stamp.tzinfo else stamp
    except ValueError:
        return None


def new_book() -> Any:
    from openpyxl import Workbook

    book = Workbook()
    for sheet in list(book.worksheets):  # sheets are added by name
        book.remove(sheet)
    return book


def book_bytes(book: Any) -> bytes:
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
