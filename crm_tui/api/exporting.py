"""Exporting records to CSV, JSON or an Excel workbook.

CSV cells that a spreadsheet would run as a formula (starting with = + - @ TAB or
CR) get a leading single quote; the import removes it again, so an export
re-imports to the same records. Phone numbers are validated to strict E.164
('+8613812345678', only '+' and digits), which cannot be a formula, so they are
written as they are and stay dialable (see `neutralise_cell`). CSV files are
written in UTF-8 with a BOM, which Excel needs to show Chinese text.

An Excel workbook (xlsx) holds typed cells (amounts and counts as numbers, dates and
times as dates), headers in the run's language that the import maps back (手机,
公司名称 ...; a field whose label another field's synonym takes keeps its name), a
frozen header row and fitted column widths (`crm_tui.report.xlsx`). Text cells are
string cells, never formulas; the text is written as it is, so it re-imports exactly."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast

from crm_tui.api.output import output_file
from crm_tui.db.records import Filter
from crm_tui.domain.entities import entity, record_columns
from crm_tui.domain.import_mapping import csv_cell, header_key, synonyms
from crm_tui.domain.privacy import mask_rows
from crm_tui.i18n import entity_label, field_label

if TYPE_CHECKING:
    from crm_tui.api import Crm

FORMATS = ("csv", "json", "xlsx")
BINARY_FORMATS = ("xlsx",)
# progress(done, total)
Progress = Callable[[int, int], None]


def export_columns(table: str) -> list[str]:
    return list(record_columns(entity(table)))


def export_records(crm: Crm, table: str, out: TextIO, *, fmt: str = "csv", filters: Sequence[Filter] = (),
                   progress: Progress | None = None, mask: bool = False) -> int:
    """Write the records of `table` matching `filters` to `out`; the count written.
    With `mask`, phones, emails, addresses and names are masked (for sharing outside
    the team; such a file does not re-import)."""
    if fmt not in FORMATS or fmt in BINARY_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of csv, json (xlsx: export_to_path)")
    rows = crm.records(table).find(filters)
    if mask:
        rows = mask_rows(entity(table), rows)
    columns = export_columns(table)
    total = len(rows)
    if fmt == "csv":
        # A masked phone ('+86138****5678') is no longer strict E.164: neutralise it.
        phones = set() if mask else {f.name for f in entity(table).fields if f.kind == "phone"}
        writer = csv.writer(out)
        writer.writerow(columns)
        for done, row in enumerate(rows, start=1):
            writer.writerow([csv_cell(row.get(c), is_phone=c in phones) for c in columns])
            if progress and (done % 1000 == 0 or done == total):
                progress(done, total)
    else:
        out.write("[")
        for done, row in enumerate(rows, start=1):
            out.write(",\n" if done > 1 else "\n")
            out.write(json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False))
            if progress and (done % 1000 == 0 or done == total):
                progress(done, total)
        out.write("\n]\n" if rows else "]\n")
    return total


def export_to_path(crm: Crm, table: str, path: str | Path, *, fmt: str = "csv",
                   filters: Sequence[Filter] = (), progress: Progress | None = None, mask: bool = False) -> int:
    """Export to a file; CSV with a BOM for spreadsheets. Written to a temporary file
    first so a failed export never leaves half a file under the real name (api.output)."""
    if fmt == "xlsx":
        data, count = export_workbook(crm, table, filters=filters, progress=progress, mask=mask)
        with output_file(path, database=crm.path, binary=True) as fh:
            fh.write(data)
        return count
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    with output_file(path, database=crm.path, encoding=encoding, newline="") as fh:
        count = export_records(crm, table, cast(TextIO, fh), fmt=fmt, filters=filters, progress=progress, mask=mask)
    return count


def xlsx_header(table: str, name: str) -> str:
    """The heading of a column of an exported workbook: the field's label in the
    run's language when the import maps that label back to the same field, else the
    field's name."""
    ent = entity(table)
    if name not in ent.field_names:
        return name
    label = field_label(ent, name)
    return label if synonyms(ent).get(header_key(label)) == name else name


def export_workbook(crm: Crm, table: str, *, filters: Sequence[Filter] = (), progress: Progress | None = None,
                    mask: bool = False) -> tuple[bytes, int]:
    """The records of `table` as an Excel workbook (bytes) and their count."""
    from crm_tui.report.xlsx import add_sheet, book_bytes, new_book

    ent = entity(table)
    rows = crm.records(table).find(filters)
    if mask:
        rows = mask_rows(ent, rows)
    columns = export_columns(table)
    kinds_of = {f.name: f.kind for f in ent.fields}
    # The kind of each column picks its cell type: amounts and counts numbers, dates
    # and times dates; phones (E.164) and everything else text.
    kinds = [{"money": "money", "int": "int", "percent": "int", "decimal": "number", "date": "date",
              "datetime": "datetime"}.get(kinds_of.get(c, ""),
             "datetime" if c in ("created_at", "updated_at") else "text") for c in columns]
    total = len(rows)

    def cells():
        for done, row in enumerate(rows, start=1):
            yield [row.get(c) for c in columns]
            if progress and (done % 1000 == 0 or done == total):
                progress(done, total)

    book = new_book()
    add_sheet(book, entity_label(table), [xlsx_header(table, c) for c in columns], cells(), kinds)
    return book_bytes(book), total
