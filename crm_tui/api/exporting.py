"""Exporting records to CSV or JSON.

CSV cells that a spreadsheet would run as a formula (starting with = + - @ TAB or
CR) get a leading single quote; the import removes it again, so an export
re-imports to the same records. Phone numbers are validated to strict E.164
('+8613812345678', only '+' and digits), which cannot be a formula, so they are
written as they are and stay dialable (see `neutralise_cell`). CSV files are
written in UTF-8 with a BOM, which Excel needs to show Chinese text."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from crm_tui.db.records import Filter
from crm_tui.domain.entities import entity, record_columns
from crm_tui.domain.import_mapping import csv_cell
from crm_tui.domain.privacy import mask_rows

if TYPE_CHECKING:
    from crm_tui.api import Crm

FORMATS = ("csv", "json")
# progress(done, total)
Progress = Callable[[int, int], None]


def export_columns(table: str) -> list[str]:
    return list(record_columns(entity(table)))


def export_records(crm: Crm, table: str, out: TextIO, *, fmt: str = "csv", filters: Sequence[Filter] = (),
                   progress: Progress | None = None, mask: bool = False) -> int:
    """Write the records of `table` matching `filters` to `out`; the count written.
    With `mask`, phones, emails, addresses and names are masked (for sharing outside
    the team; such a file does not re-import)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
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
    first so a failed export never leaves half a file under the real name."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    try:
        with tmp.open("w", encoding=encoding, newline="") as fh:
            count = export_records(crm, table, fh, fmt=fmt, filters=filters, progress=progress, mask=mask)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return count
