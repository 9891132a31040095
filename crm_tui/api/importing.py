"""Importing customers (and visits, complaints, orders) from CSV, JSON or Excel files.

The whole file is read and validated in Python first; then, unless a row is bad
(and `skip_invalid` is off) or it is a dry run, every write happens in ONE
transaction with `executemany`. A customer row whose normalised phone, mobile or
email matches an existing customer (or an earlier row of the same file) updates
that customer instead of creating a duplicate (rows of one record lose no edit:
`_Plan._merge_given`); a new customer of the same name at the same company as
another is created and told as a possible duplicate, never merged by it. A row
with an `id` column (an export of this CRM) is matched by that id only, so an
export re-imports exactly.

CSV: UTF-8 with or without BOM, else GB18030 (a superset of GBK); headers in
English or Chinese (see `crm_tui.domain.import_mapping`); unknown headers are an
error naming them unless `ignore_unknown`. Line numbers are physical CSV lines, the
header being line 1.

Excel (.xlsx, as Excel and WPS save it): the first sheet, or the one named with
`sheet`, through the same header mapping, validation and rejects file. Cells arrive
as Excel stores them and are turned into the text a CSV would hold: dates and times
(typed cells) as ISO dates, whole numbers stored as floats (a phone typed as a
number, 13812345678.0) as digits, formulas by the value Excel last computed. A title
row above the header (often merged across the columns) is skipped; a header of two
rows under merged cells (联系方式 over 手机 and 邮箱) reads as its lower row; empty
rows and the empty columns a sheet's formatting leaves behind are not rows. Row
numbers in messages are the sheet's own row numbers."""

from __future__ import annotations

import csv
import gc
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_tui.api import import_helper
from crm_tui.api.output import check_output, output_file
from crm_tui.api.records import Record, Records, new_ids, utc_now
from crm_tui.db import records as sql
from crm_tui.db.connection import transaction, written_once
from crm_tui.domain.duplicates import name_company_key
from crm_tui.domain.entities import Entity, derive, entity
from crm_tui.domain.import_mapping import (
    STAMP_COLUMNS,
    csv_cell,
    header_key,
    join_notes,
    map_headers,
    restore_cell,
    synonyms,
)
from crm_tui.domain.search import name_key
from crm_tui.domain.validation import FieldError, ValidationError, clean, clean_value
from crm_tui.i18n import entity_label, entity_name, field_label, os_reason, t

if TYPE_CHECKING:
    import sqlite3

    from crm_tui.api import Crm

# progress(phase, done, total): phase is "validating" or "writing".
Progress = Callable[[str, int, int], None]

# The columns a rejects file adds (the line, the reason), named in the user's language;
# an import ignores them in every language, so a fixed rejects file can be imported
# again as it is, whoever wrote it.
REJECT_KEYS = ("rejects.line", "rejects.reason")


def reject_columns() -> list[str]:
    return [t(key) for key in REJECT_KEYS]


def _is_reject_column(header: str) -> bool:
    from crm_tui.i18n import LANGUAGES, t_in

    return header.strip().lower() in {t_in(lang, key).lower() for lang in LANGUAGES for key in REJECT_KEYS}
CONTACT_FIELDS = ("phone", "mobile", "email")
# The possible duplicates an import tells one by one (the rest are counted).
POSSIBLE_TOLD = 20
# Records an import writes from which it leaves WAL for the write (see `written_once`):
# leaving WAL and coming back costs a few disk syncs, which a write of 2,000 rows no
# more than repays (docs/benchmarks.md); from 10,000 it saves a sixth of the write.
WRITTEN_ONCE_FROM = 2_000
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (unreadable, empty, bad headers)."""


class SourceRow:
    """One row of the file: its line (CSV: the physical line where it starts, the
    header being 1; JSON: the item number; Excel: the sheet's row), the cells as in
    the file keyed by header (`raw`), and the cells keyed by field name (`values`).
    A CSV row keeps its cells as a list and makes `raw` only when asked (a rejected
    row): a dict per row of a 100k-row file was 100 MB that nothing read."""

    __slots__ = ("line", "_raw", "values", "cells", "headers")

    def __init__(self, line: int, raw: dict[str, Any] | None, values: dict[str, Any],
                 cells: list[str] | None = None, headers: list[str] | None = None):
        self.line = line
        self._raw = raw
        self.values = values
        self.cells = cells  # a CSV row's cells, in the order of `headers`
        self.headers = headers

    @property
    def raw(self) -> dict[str, Any]:
        if self._raw is None:
            self._raw = dict(zip(self.headers or (), self.cells or (), strict=False))
        return self._raw


@dataclass
class Source:
    path: Path
    format: str  # "csv" | "json" | "xlsx"
    encoding: str
    headers: list[str]
    rows: list[SourceRow]
    warnings: list[str] = field(default_factory=list)
    # whether a cell may start with a quote, as the export writes a neutralised cell
    quoted: bool = True
    columns: int = 0  # how many of the file's columns name a field (what a row validates)
    # an xlsx row's formula cells with no computed value: line -> (column letter, header)
    uncomputed: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def where(self, line: int) -> str:
        kind = {"xlsx": "row", "csv": "line"}.get(self.format, "record")
        return t(f"import.where_{kind}", n=line)


@dataclass
class Reject:
    line: int
    where: str  # "line 7" or "record 3"
    reason: str
    raw: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.where}{t('sep.label')}{self.reason}"


@dataclass
class ImportReport:
    table: str
    path: Path
    format: str
    encoding: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # rows matching an existing record that changed nothing
    merged: int = 0  # rows merged into an earlier row of the same file
    rejected: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # customers created beside one of the same name at the same company (line, the
    # other: "customer ID" or its line of the file): told, not merged
    possible: list[tuple[int, str]] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False
    rejects_path: Path | None = None

    def summary(self) -> str:
        text = t("import.summary" if self.written else "import.summary_dry", created=self.created,
                 updated=self.updated, rejected=len(self.rejected))
        if self.unchanged:
            text += t("import.unchanged", n=self.unchanged)
        if self.merged:
            text += t("import.merged", n=self.merged)
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table, "path": str(self.path), "format": self.format,
            "encoding": self.encoding, "rows": self.rows, "created": self.created,
            "updated": self.updated, "unchanged": self.unchanged, "merged": self.merged,
            "rejected": [{"line": r.line, "where": r.where, "reason": r.reason} for r in self.rejected],
            "warnings": self.warnings, "dry_run": self.dry_run, "written": self.written,
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
            "possible_duplicates": [{"line": line, "of": of} for line, of in self.possible],
        }


# -- reading the file ------------------------------------------------------------


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """Text and encoding: UTF-8 (a BOM is dropped) strictly, else GB18030, which
    covers GBK and GB2312 as written by Chinese Excel."""
    try:
        return data.decode("utf-8-sig"), "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError:
        pass
    mixed = _mixed_encoding(data)
    if mixed:
        raise ImportFileError(t("import_file.one_encoding", path=path, mixed=mixed))
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise ImportFileError(t("import_file.undecodable", path=path, byte=f"0x{data[exc.start]:02x}",
                                offset=exc.start)) from None


def _csv_reason(exc: csv.Error) -> str:
    """What is wrong in a CSV file, in the user's language: Python's csv module says it
    in English (the two a spreadsheet user meets are named; others as it says them)."""
    said = str(exc)
    if "unexpected end of data" in said:
        return t("import_file.csv_unclosed_quote")
    if "expected after" in said:
        return t("import_file.csv_after_quote")
    return said


def _mixed_encoding(data: bytes) -> str | None:
    """Which line breaks the encoding of the lines before it, in a file that is not
    UTF-8 as a whole: GB18030 would decode every UTF-8 line of it as mojibake. A
    line of Chinese in GBK is practically never valid UTF-8, so a file holding both
    kinds of non-ASCII line is a mix (two files pasted together, one row typed in
    another program)."""
    first_utf8 = first_other = None
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            first_utf8 = first_utf8 or number
        except UnicodeDecodeError:
            first_other = first_other or number
        if first_utf8 and first_other:
            if first_utf8 < first_other:
                return t("import_file.mixed_utf8_first", utf8=first_utf8, other=first_other)
            return t("import_file.mixed_other_first", utf8=first_utf8, other=first_other)
    return None


def read_source(path: Path, ent: Entity, *, ignore_unknown: bool = False, sheet: str | None = None) -> Source:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}{t('sep.label')}{os_reason(exc)}") from None
    if data[:4] == b"PK\x03\x04" or path.suffix.lower() in XLSX_SUFFIXES:  # a workbook is a zip file
        from crm_tui.api.workbook import read_workbook  # openpyxl loads only for a workbook

        source = read_workbook(path, data, sheet)
        _map(source, ent, ignore_unknown=ignore_unknown)
        return source
    if sheet is not None:
        raise ImportFileError(t("import_file.sheet_not_workbook", path=path))
    text, encoding = decode(data, path)
    if not text.strip():
        raise ImportFileError(t("import_file.empty", path=path))
    is_json = path.suffix.lower() in (".json", ".jsonl") or text.lstrip()[:1] in ("[", "{")
    source = _read_json(path, text, ent) if is_json else _read_csv(path, text, ent)
    source.encoding = encoding
    _map(source, ent, ignore_unknown=ignore_unknown)
    return source


def _read_csv(path: Path, text: str, ent: Entity) -> Source:
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[SourceRow] = []
    try:
        headers = next(reader)
        headers = [h.replace("\ufeff", "").strip() for h in headers]
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not "".join(cells).strip():
                continue  # blank lines are not rows
            if len(cells) != len(headers):
                # Keep what lines up with the header for the rejects file; name the rest.
                raw = dict(zip(headers, cells, strict=False))
                extra = ", ".join(repr(c) for c in cells[len(headers):])
                rows.append(SourceRow(line, raw, {"__error__": (
                    t("import_file.cells_extra", cells=len(cells), headers=len(headers), extra=extra) if extra
                    else t("import_file.cells", cells=len(cells), headers=len(headers)))}))
                continue
            rows.append(SourceRow(line, None, {}, cells, headers))
    except csv.Error as exc:
        raise ImportFileError(t("import_file.broken_csv", path=path, line=reader.line_num, reason=_csv_reason(exc))) from None
    return Source(path, "csv", "", headers, rows, quoted="'" in text)


def _read_json(path: Path, text: str, ent: Entity) -> Source:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(t("import_file.bad_json", path=path, line=exc.lineno, column=exc.colno)) from None
    except RecursionError:
        raise ImportFileError(t("import_file.json_nested", path=path)) from None
    if isinstance(data, dict) and isinstance(data.get(ent.table), list):
        data = data[ent.table]
    if not isinstance(data, list):
        raise ImportFileError(t("import_file.json_not_array", path=path, kind=entity_label(ent.table)))
    headers: dict[str, None] = {}
    rows: list[SourceRow] = []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            rows.append(SourceRow(number, {"value": item}, {"__error__": t("import_file.not_object")}))
            continue
        for key in item:
            headers.setdefault(str(key), None)
        rows.append(SourceRow(number, {str(k): v for k, v in item.items()}, {}))
    return Source(path, "json", "", list(headers), rows)


def _map(source: Source, ent: Entity, *, ignore_unknown: bool) -> None:
    headers = [h for h in source.headers if not _is_reject_column(h)]
    mapping = map_headers(ent, headers)
    # In JSON each object has its own keys: two keys meaning one field is a fault of
    # that object only, so it is checked per row below.
    if mapping.duplicate and source.format != "json":
        raise ImportFileError(t("import_file.duplicate_columns", path=source.path, columns="; ".join(mapping.duplicate)))
    if mapping.unknown:
        columns = ", ".join(mapping.unknown)
        if not ignore_unknown:
            raise ImportFileError(t("import_file.unknown_columns", path=source.path, columns=columns,
                                    kind=entity_name(ent)))
        source.warnings.append(t("import_file.unknown_ignored", columns=columns))
    if not mapping.columns:
        raise ImportFileError(t("import_file.no_field_column", path=source.path, kind=entity_name(ent)))
    table: dict[str, str | None] = dict(synonyms(ent))
    # Computed fields (a customer's classes, as an export writes them) are not taken
    # from a file: the classification computes them; say so once.
    computed = sorted({name for name in mapping.columns.values() if name in ent.computed_names})
    if computed:
        source.warnings.append(t("import_file.computed", columns=", ".join(computed)))
    table = {k: (None if v in computed else v) for k, v in table.items()}
    if source.uncomputed:
        _refuse_uncomputed(source, table)
    source.columns = len(mapping.columns) - sum(1 for name in mapping.columns.values() if name in computed)
    fields: dict[str, str | None] = {}  # header -> field, worked out once per header
    restore = source.format == "csv" and source.quoted
    if source.format != "json":
        # Every row has the file's headers, each naming a different field (checked
        # above): one mapping serves every row. An empty CSV cell is no value.
        pairs = [(h, name) for h in source.headers if (name := table.get(header_key(h))) is not None]
        index = [(i, name) for i, h in enumerate(source.headers) if (name := table.get(header_key(h))) is not None]
        for row in source.rows:
            if row.values:  # a row already known to be broken
                continue
            cells = row.cells
            values: dict[str, Any]
            if cells is not None:
                values = {name: cell for i, name in index if (cell := cells[i]) != ""}
            else:
                raw = row.raw
                values = {name: raw.get(h) for h, name in pairs if h in raw}
            row.values = values
            if restore:
                for name, value in values.items():
                    # Only a cell starting with a quote can be one the export neutralised.
                    if isinstance(value, str) and value[:1] == "'":
                        values[name] = restore_cell(value)
        return
    for row in source.rows:
        if row.values:  # a row already known to be broken
            continue
        for header, value in row.raw.items():
            if header not in fields:
                fields[header] = table.get(header_key(header))
            name = fields[header]
            if name is None:
                continue
            if name in row.values:
                row.values = {"__error__": t("rejects.same_field", header=header, field=name)}
                break
            # Only a cell starting with a quote can be one the export neutralised.
            if restore and isinstance(value, str) and value[:1] == "'":
                value = restore_cell(value)
            row.values[name] = value


def _refuse_uncomputed(source: Source, table: Mapping[str, str | None]) -> None:
    """Refuse the rows of a workbook whose formula cell holds no computed value in a
    column the import takes (its value would be lost without a word), naming the
    cell. A column the import does not take (left out with --ignore-unknown, a
    computed class, a rejects file's reason) is no reason to refuse a row."""
    by_line = {row.line: row for row in source.rows}
    for line, cells in source.uncomputed.items():
        taken = [(letter, header) for letter, header in cells if table.get(header_key(header)) is not None]
        if taken:
            by_line[line].values = {"__error__": t("import_file.formula.uncomputed", column=taken[0][0],
                                                   header=taken[0][1])}


# -- the import ------------------------------------------------------------------


def import_customers(crm: Crm, path: str | Path, *, skip_invalid: bool = False, dry_run: bool = False,
                     rejects_path: str | Path | None = None, ignore_unknown: bool = False,
                     progress: Progress | None = None, update_on_match: bool = False) -> ImportReport:
    """Import customers from a CSV or JSON file; see the module docstring."""
    return import_records(crm, "customers", path, skip_invalid=skip_invalid, dry_run=dry_run,
                          rejects_path=rejects_path, ignore_unknown=ignore_unknown, progress=progress,
                          update_on_match=update_on_match)


def import_records(crm: Crm, table: str, path: str | Path, *, skip_invalid: bool = False,
                   dry_run: bool = False, rejects_path: str | Path | None = None,
                   ignore_unknown: bool = False, progress: Progress | None = None,
                   update_on_match: bool = False, sheet: str | None = None) -> ImportReport:
    """Import `table` from a file (see the module docstring). A customer row whose
    phone or email is another customer's but whose name differs is rejected (a
    different person, not an update) unless `update_on_match`."""
    path = Path(path)
    with no_cycle_collection():
        return _import(crm, table, path, skip_invalid=skip_invalid, dry_run=dry_run, rejects_path=rejects_path,
                       ignore_unknown=ignore_unknown, progress=progress, update_on_match=update_on_match,
                       sheet=sheet)


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while a file is read and imported (every
    import: records here, orders with their lines and quotations in
    crm_tui.api.order_import): the rows, their cells and the prepared records are
    hundreds of thousands of long-lived objects that make no cycles, and each
    collection of the oldest generation walked all of them again (a tenth of a
    100k-row import's CPU). Plain reference counting still frees everything; the
    collector resumes, as it was, at the end."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(crm: Crm, table: str, path: Path, *, skip_invalid: bool, dry_run: bool,
            rejects_path: str | Path | None, ignore_unknown: bool, progress: Progress | None,
            update_on_match: bool, sheet: str | None) -> ImportReport:
    records = crm.records(table)
    ent = entity(table)
    rejects = Path(rejects_path) if rejects_path else default_rejects_path(path)
    if skip_invalid and not dry_run:
        check_output(rejects, crm.path)  # before a row is written: the good rows would stay, the bad ones be lost
    source = read_source(path, ent, ignore_unknown=ignore_unknown, sheet=sheet)
    report = ImportReport(table, path, source.format, source.encoding, rows=len(source.rows),
                          warnings=list(source.warnings), dry_run=dry_run)
    with crm.lock:
        plan = _Plan(records, source, report, progress)
        plan.update_on_match = update_on_match
        plan.validate()
        plan.compare_updates()
        if report.rejected and not skip_invalid:
            return report
        if dry_run:
            return report
        plan.write()
        report.written = True
    if report.rejected:
        report.rejects_path = rejects
        write_rejects(rejects, source.headers, report.rejected, database=crm.path)
    return report


@contextmanager
def import_transaction(conn: sqlite3.Connection, records: int) -> Iterator[None]:
    """The ONE transaction of an import's write of `records` records (every import:
    records here, orders with their lines and quotations in crm_tui.api.order_import);
    from WRITTEN_ONCE_FROM records, through a rollback journal when the database is
    ours alone (`written_once`)."""
    with written_once(conn, when=records >= WRITTEN_ONCE_FROM), transaction(conn):
        yield


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.stem + ".rejects.csv")


def write_rejects(path: Path, headers: list[str], rejects: list[Reject], *, database: Path | None = None) -> None:
    """The rejected rows as they were, plus the line and the reason, in UTF-8 with a
    BOM so a spreadsheet opens the Chinese text right."""
    columns = [*headers, *reject_columns()]
    with output_file(path, database=database, encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for reject in rejects:
            # Neutralised like an export; the import restores such cells when the fixed file comes back.
            cells = [csv_cell(reject.raw.get(h)) for h in headers]
            writer.writerow([*cells, reject.line, csv_cell(reject.reason)])


class _Plan:
    """What an import will do: records to create, existing records to update. Every
    rule is the write funnel's (`Records`): `prepare` validates and derives each
    row, `check_new` / `check_update` apply the state rule and the workflow guard,
    `check_refs` the references, and the writes are `insert_prepared` (one bulk
    statement) and `apply_update`, all in ONE transaction."""

    def __init__(self, records: Records, source: Source, report: ImportReport, progress: Progress | None):
        self.records = records
        self.conn = records.conn
        self.ent = records.entity
        self.source = source
        self.report = report
        self.progress = progress
        self.creates: list[Record] = []
        self.create_lines: list[int] = []  # the line of each create (its first row)
        self.new_ids: dict[str, int] = {}  # id -> index in creates
        self.updates: dict[str, dict[str, Any]] = {}  # existing id -> values to set
        self.matched_by_id: set[str] = set()  # existing ids a row named (an export's rows)
        self.update_rows: dict[str, list[SourceRow]] = {}  # existing id -> the rows that set them
        self.current: dict[str, Record] = {}
        self.is_customer = self.ent.table == "customers"
        # normalised phone/email -> ("old", id) or ("new", index in creates)
        self.contacts: dict[str, tuple[str, Any]] = {}
        if self.is_customer:
            self.contacts = {k: ("old", v) for k, v in sql.contact_index(self.conn).items()}
        # (name, company key) -> the line of the file's first new customer of that name
        # at that company: another beside them is a possible duplicate, told; so is one
        # of the book (`_possible_in_book`, once every row is in)
        self.named: dict[tuple[str, str], tuple[int, str]] = {}  # -> (line, its company as written)
        self.possible: list[tuple[int, str, str, str]] = []  # line, name, company, the other
        # (target, field) -> the line that gave the field, for the rows merged into a
        # record after its first (see `_merge_given`)
        self.given_lines: dict[tuple[tuple[str, Any], str], int] = {}
        # (unique field, value) -> the record holding it: a price list re-imported
        # updates each product by its SKU
        self.unique: dict[tuple[str, Any], tuple[str, Any]] = {}
        for name in self.ent.unique:
            self.unique.update(((name, value), ("old", rid)) for value, rid in sql.value_index(self.conn, self.ent, name))
        self.update_on_match = False
        self.known_refs: dict[tuple[str, str], bool] = {}
        self.assumed: dict[str, set[str]] = {}  # field -> ids of the file it may name (see `_refs_within`)
        self.local_rep = sql.local_rep(self.conn)
        # The normal value of each text a column held, checked once for the file (see `clean`).
        self.memo: dict[str, dict[str, Any]] = {}

    def _tick(self, phase: str, done: int, total: int) -> None:
        if self.progress and (done % 1000 == 0 or done == total):
            self.progress(phase, done, total)

    def _reject(self, row: SourceRow, reason: str) -> None:
        self.report.rejected.append(Reject(row.line, self.source.where(row.line), reason, row.raw))

    def validate(self) -> None:
        rows = self.source.rows
        by_line = {row.line: row for row in rows}
        self._refs_within(rows)
        # One stamp for the whole import (it is one transaction) and the ids made
        # together: per row they cost more than validating the row's text fields.
        now, ids = utc_now(), new_ids(len(rows))
        # A big file is validated by two processes (crm_tui/api/import_helper.py): this one from the
        # start, a helper from the end. This one validates the first few rows before
        # starting it, so the libraries the rules load on first use (pypinyin's
        # dictionaries, phonenumbers) are loaded once, for both.
        helped = import_helper.uses_helper(len(rows), self.source.columns)
        head = import_helper.HELPER_HEAD if helped else len(rows)
        for index in range(head):
            self._taken(rows[index], self._take(rows[index], now, ids[index]), index, len(rows))
        helper = None
        if helped:
            try:
                helper = import_helper.Helper(lambda i: self.prepare_row(rows[i], now, ids[i]), len(rows), head,
                                              self.source.path)
            except OSError:  # no process to be had (memory, limits): this one validates every row
                helper = None
        try:
            index = head
            # The helper's last batch is always its; the rest is whoever gets there first.
            stop = len(rows) - import_helper.HELPER_BATCH if helper is not None else len(rows)
            while index < stop:
                if helper is not None:
                    if index % import_helper.POLL == 0:
                        helper.poll()
                    if index >= helper.low:
                        break
                self._taken(rows[index], self._take(rows[index], now, ids[index]), index, len(rows))
                index += 1
            if helper is not None:
                helper.poll(until=index)
                helper.stop()  # what it does now, this process has done
                for number, prepared in helper.results(index):
                    row = rows[number]
                    error = prepared if isinstance(prepared, str) else self._fold(row, *prepared, None)
                    if row.cells is not None:
                        row.values = {}
                    self._taken(row, error, number, len(rows))
        finally:
            if helper is not None:
                helper.stop()
        # A created record as a whole (after rows merged into it) passes the state
        # rule: a complaint imported as closed needs its resolution and stamps.
        for index, record in enumerate(self.creates):
            try:
                self.records.check_new(record)
            except ValidationError as exc:
                self._reject(by_line[self.create_lines[index]], _reason(exc))
                self.creates[index] = {}
                self.report.created -= 1
        self._check_refs_within(by_line)
        self.creates = [r for r in self.creates if r]
        if self.is_customer:
            self._possible_in_book()
        self.report.rejected.sort(key=lambda r: r.line)

    def _refs_within(self, rows: list[SourceRow]) -> None:
        """A record may name another of the same file (a refund its order, which an
        export lists after it): the ids the file gives count as known while its rows
        are folded, and `_check_refs_within` checks them once every row is in."""
        own = [f.name for f in self.ent.fields if f.kind == "ref" and f.ref == self.ent.table]
        if not own:
            return
        given = {i for row in rows if (i := _given_id(row.values.get("id")))}
        table = self.ent.table
        self.assumed = {name: given - sql.existing_ids(self.conn, table, given) for name in own}
        self.known_refs.update(((table, i), True) for i in given)

    def _check_refs_within(self, by_line: dict[int, SourceRow]) -> None:
        made = {r["id"] for r in self.creates if r}
        for name, assumed in self.assumed.items():
            for index, record in enumerate(self.creates):
                value = record.get(name)
                if value in assumed and value not in made:  # its row was refused: nothing to refer to
                    try:
                        self.records.check_refs([record])  # names the missing record, as for any reference
                    except ValidationError as exc:
                        self._reject(by_line[self.create_lines[index]], _reason(exc))
                        self.creates[index] = {}
                        self.report.created -= 1

    def _taken(self, row: SourceRow, error: str | None, index: int, total: int) -> None:
        if error:
            self._reject(row, error)
        self._tick("validating", index + 1, total)

    def _take(self, row: SourceRow, now: str, record_id: str) -> str | None:
        """Validate one row and fold it into the plan; the reason if it is bad."""
        values = _row_values(row)
        if row.cells is not None:
            row.values = {}  # a CSV row's values are read only here: let go once validated
        if isinstance(values, str):
            return values
        prepared = self._prepare(*values, now, record_id)
        if isinstance(prepared, str):
            return prepared
        return self._fold(row, *prepared, values[0])

    def prepare_row(self, row: SourceRow, now: str, record_id: str) -> tuple[Record, str | None] | str:
        """One row through the write funnel's `prepare`: the record it makes and the
        id the row gives, or the reason it is bad. Reads no database: the helper
        process runs it (crm_tui/api/import_helper.py)."""
        values = _row_values(row)
        return values if isinstance(values, str) else self._prepare(*values, now, record_id)

    def _prepare(self, values: dict[str, Any], given_id: str | None, now: str,
                 record_id: str) -> tuple[Record, str | None] | str:
        try:
            if given_id and not _ULID.match(given_id):
                raise ValidationError.one("id", t("reason.not_an_id", value=repr(given_id)))
            owner = values.get("owner")
            record = self.records.prepare(values, owner=str(owner).strip() if owner else self.local_rep,
                                          now=now, record_id=record_id, memo=self.memo)
        except ValidationError as exc:
            return _reason(exc)
        return record, given_id

    def _fold(self, row: SourceRow, record: Record, given_id: str | None,
              values: Mapping[str, Any] | None) -> str | None:
        """Check a prepared row's references and fold it into the plan: a new record,
        or merged into the record it matches. `values` are the row's values as
        `prepare` took them (worked out again from the row if not given: only a
        match needs them)."""
        try:
            self.records.check_refs([record], known=self.known_refs)
        except ValidationError as exc:
            return _reason(exc)
        target = self._match(record, given_id)
        if target is not None and not given_id and self.is_customer and not self.update_on_match:
            other = self._other_person(target, record)
            if other:
                return other
        if target is None:
            if given_id:
                record["id"] = given_id
                self.new_ids[given_id] = len(self.creates)
            self.creates.append(record)
            self.create_lines.append(row.line)
            self.report.created += 1
            target = ("new", len(self.creates) - 1)
            if self.is_customer:
                self._possible_duplicate(row, record)
        else:
            if values is None:
                again = _row_values(row)
                values = again[0] if isinstance(again, tuple) else {}
            # Only the cells the row fills in are written to an existing record.
            given = {k: v for k, v in record.items() if k in values and v is not None}
            if target[0] == "new":
                merged = self.creates[target[1]]
                differs = self._merge_given(target, merged, given, row)
                if differs:
                    return differs
                merged.update(given)
                merged.update(derive(self.ent, merged, given))
                self.report.merged += 1
            else:
                if given_id:
                    self.matched_by_id.add(target[1])
                earlier = self.updates.get(target[1])
                if earlier is not None:
                    differs = self._merge_given(target, earlier, given, row)
                    if differs:
                        return differs
                self.updates.setdefault(target[1], {}).update(given)
                self.update_rows.setdefault(target[1], []).append(row)
        if self.is_customer:
            for key in CONTACT_FIELDS:
                if record.get(key):
                    self.contacts.setdefault(record[key], target)
        for name in self.ent.unique:
            if record.get(name) is not None:
                self.unique.setdefault((name, record[name]), target)
        return None

    def _merge_given(self, target: tuple[str, Any], held: Mapping[str, Any], given: dict[str, Any],
                     row: SourceRow) -> str | None:
        """A row merged into the record earlier rows of the file gave (`held`, by its
        phone, email or unique key) loses none of their edits: notes are joined (the
        earlier text, then this row's, once), tags are both rows' tags, and another
        field the earlier rows gave otherwise refuses this row, naming the line that
        gave it (the order-lines file's rule for an order's fields), unless the import
        was told to update what rows match (`update_on_match`: rows then apply in
        order). `given` is adjusted in place; the reason if the row is refused."""
        fields = self.ent.field_names
        for name, value in list(given.items()):
            old = held.get(name)
            if old is None or old == "" or old == value or name not in fields:
                continue
            kind = self.ent.field(name)
            if name == "notes":
                joined = join_notes(old, value)
                if len(joined) > kind.max_len:
                    return str(FieldError(name, t("import_merge.notes_too_long", line=self._given_line(target, name),
                                                  max=kind.max_len)))
                given[name] = joined
            elif kind.kind == "tags":
                try:
                    given[name] = clean_value(kind, f"{old},{value}")
                except ValueError as exc:
                    return str(FieldError(name, str(exc)))
            elif not self.update_on_match:
                return str(FieldError(name, t("import_merge.differs", value=repr(value), held=repr(old),
                                              line=self._given_line(target, name))))
        for name in given:
            if held.get(name) in (None, ""):
                self.given_lines[(target, name)] = row.line
        return None

    def _given_line(self, target: tuple[str, Any], name: str) -> int:
        """The line of the file that gave `name` to a record rows were merged into."""
        line = self.given_lines.get((target, name))
        if line is not None:
            return line
        return self.create_lines[target[1]] if target[0] == "new" else self.update_rows[target[1]][0].line

    def _possible_duplicate(self, row: SourceRow, record: Record) -> None:
        """A new customer of the same name at the same company as a customer of the
        book or an earlier row (crm_tui.domain.duplicates.name_company_key): created
        all the same (two people may share a name at one company), and told."""
        key = name_company_key(record.get("name"), record.get("company"))
        if key is None:
            return
        company = str(record.get("company"))
        first = self.named.setdefault(key, (row.line, company))[0]
        if first != row.line:
            self.possible.append((row.line, key[0], company, self.source.where(first)))

    def _possible_in_book(self) -> None:
        """The file's new customers named as a customer of the book (the first row of
        each name and company: the later ones are told as its), then every possible
        duplicate told in the order of the file, the first POSSIBLE_TOLD in full. The
        book is read once, a company's key worked out only for a name of the file."""
        if self.named:
            names = {name for name, _ in self.named}
            for cid, name, _, company in sql.customer_companies(self.conn):
                if name in names and (key := name_company_key(name, company)) in self.named:
                    line, written = self.named.pop(key)  # the book's oldest of that name and company
                    self.possible.append((line, name, written, t("import_match.customer", id=cid)))
        self.possible.sort()
        self.report.possible = [(line, of) for line, _, _, of in self.possible]
        for line, name, company, of in self.possible[:POSSIBLE_TOLD]:
            self.report.warnings.append(t("import_merge.possible", where=self.source.where(line), name=name,
                                          company=company, of=of))
        if len(self.possible) > POSSIBLE_TOLD:
            self.report.warnings.append(t("import_merge.possible_more", n=len(self.possible) - POSSIBLE_TOLD))

    def _other_person(self, target: tuple[str, Any], record: Record) -> str | None:
        """Why a row matched by phone or email must not update that customer: the
        names differ, so it is another person sharing a number (新客二 is not 新客)."""
        name = record.get("name")
        if target[0] == "new":
            held = self.creates[target[1]].get("name")
            held_id = self.source.where(self.create_lines[target[1]])
        else:
            held = (sql.get(self.conn, self.ent, target[1]) or {}).get("name")
            held_id = t("import_match.customer", id=target[1])
        if not name or not held or name_key(str(name)) == name_key(str(held)):
            return None  # the same name, in characters or in pinyin (张伟, Zhang Wei)
        key = next(k for k in CONTACT_FIELDS if record.get(k) and self.contacts.get(record[k]) == target)
        return str(FieldError(key, t("import_match.other_person", label=field_label(self.ent, key),
                                     value=record[key], of=held_id, held=held, name=name)))

    def _match(self, record: Record, given_id: str | None) -> tuple[str, Any] | None:
        if given_id:
            if given_id in self.new_ids:
                return ("new", self.new_ids[given_id])
            if given_id in self.updates or sql.exists(self.conn, self.ent.table, given_id):
                return ("old", given_id)
            return None
        for key in CONTACT_FIELDS:
            value = record.get(key)
            if value and value in self.contacts:
                return self.contacts[value]
        for name in self.ent.unique:
            if (name, record.get(name)) in self.unique:
                return self.unique[(name, record.get(name))]
        return None

    def compare_updates(self) -> None:
        """Keep only the fields that really change, checked by the funnel (workflow
        guard, state rule, references); count updated and unchanged. A refused
        update rejects the rows that asked for it."""
        for record_id, values in list(self.updates.items()):
            current = sql.get(self.conn, self.ent, record_id) or {}
            if values.get("notes") and record_id not in self.matched_by_id:
                # A row matched by phone or email brings notes of its own: joined to the
                # book's, as rows of one file are. A row naming the record's id (an edited
                # export) holds its whole notes: they are the update.
                values["notes"] = join_notes(current.get("notes"), values["notes"])
            try:
                changed = self.records.check_update(current, values)
            except ValidationError as exc:
                for row in self.update_rows[record_id]:
                    self._reject(row, _reason(exc))
                del self.updates[record_id]
                continue
            if changed:
                self.updates[record_id] = changed
                self.current[record_id] = current
                self.report.updated += 1
            else:
                del self.updates[record_id]
                self.report.unchanged += 1
        self.report.rejected.sort(key=lambda r: r.line)

    def write(self) -> None:
        total = len(self.creates) + len(self.updates)
        # A big write goes through a rollback journal when the database is ours alone:
        # its new pages are written once, not into the WAL and again at the checkpoint.
        with import_transaction(self.conn, total), self.records.rules_at_end():
            # One executemany over a generator: the bulk insert path sets the capture
            # triggers aside once, and the generator reports progress as rows go in.
            self.records.insert_prepared(self.creates, bulk=True,
                                         progress=lambda done: self._tick("writing", done, total))
            done = len(self.creates)
            for record_id, changed in self.updates.items():
                self.records.apply_update(self.current[record_id], changed)
                done += 1
                self._tick("writing", done, total)


def _reason(exc: ValidationError) -> str:
    return t("sep.reasons").join(str(e) for e in exc.errors)


def _row_values(row: SourceRow) -> tuple[dict[str, Any], str | None] | str:
    """A row's values as the write funnel takes them (no empty cells, no stamps, no
    id) and the id the row gives; or why the row is broken. Empty cells are no
    value: leaving them out spares validating each one (a CSV row's values have
    none, see `_map`)."""
    if row.cells is not None:
        values = row.values
    else:
        values = {k: v for k, v in row.values.items() if v is not None and v != ""}
    if "__error__" in values:
        return str(values["__error__"])
    for stamp in STAMP_COLUMNS:
        values.pop(stamp, None)
    return values, _given_id(values.pop("id", None))


def _given_id(value: Any) -> str | None:
    """The id a row gives, as stored."""
    return str(value).strip().upper() if value not in (None, "") else None


# -- duplicates on create ----------------------------------------------------------


def possible_duplicates(crm: Crm, data: Mapping[str, Any], table: str = "customers") -> list[tuple[Record, str]]:
    """Existing customers (or contacts) that look like the one about to be created:
    the same normalised phone/mobile/email, or for a customer the same name at the
    same company, however the company is written (张伟 at 华为 and at 华为技术有限公司:
    crm_tui.domain.duplicates.name_company_key, as an import warns). With the reason."""
    try:
        values = clean(entity(table), data, partial=True)
    except ValidationError:
        return []  # the create will report it
    phones = [values[k] for k in ("phone", "mobile") if values.get(k)]
    found: dict[str, tuple[Record, str]] = {}
    with crm.lock:
        for match in sql.records_by_contact(crm.conn, table, phones=phones, email=values.get("email")):
            same = [k for k in CONTACT_FIELDS
                    if match.get(k) and match[k] in (*phones, values.get("email"))]
            fields = "/".join(field_label(entity(table), k).lower() for k in same or CONTACT_FIELDS)
            found[match["id"]] = (match, t("duplicates.same_contact", fields=fields))
    key = name_company_key(values.get("name"), values.get("company")) if table == "customers" else None
    if key:
        for match in crm.customers.find([sql.Filter("name", "=", key[0])]):
            if name_company_key(match.get("name"), match.get("company")) == key:
                found.setdefault(match["id"], (match, t("duplicates.same_name_company")))
    return list(found.values())
