"""Orders with several lines from one file, and back (`crm orders import-lines` /
`export-lines`): one row per line, the rows of an order sharing its key (订单号),
the order's own fields (customer, date, status, notes, owner; a refund's sale) on
its first row and blank or the same on the others. Headers in English or Chinese, CSV in UTF-8 or GBK
(read as `crm_tui.api.importing` reads every file), or JSON.

All or nothing: every row is checked first, a bad one is reported by its line and
field (and the rejects file keeps it), and only a clean file is written, in ONE
transaction, orders and lines in bulk. A line's product is a SKU of the catalogue
(its list price unless a price is given) or a name with a price, as `--line` takes it;
each order's amount is the sum of its lines (crm_tui.domain.orders)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_tui.api.importing import (
    ImportFileError,
    Reject,
    SourceRow,
    default_rejects_path,
    import_transaction,
    no_cycle_collection,
    read_source,
    write_rejects,
)
from crm_tui.api.output import output_file
from crm_tui.api.records import Record, new_ids, utc_now
from crm_tui.db import records as sql
from crm_tui.domain.entities import Entity
from crm_tui.domain.import_mapping import csv_cell
from crm_tui.domain.orders import (
    ORDER_LINE_ROW,
    ORDER_ROW_FIELDS,
    LineSpec,
    check_refund_of,
    check_refunds,
    check_returns,
    order_summary,
)
from crm_tui.domain.validation import ValidationError, clean_value, remembered
from crm_tui.i18n import money, t

if TYPE_CHECKING:
    from crm_tui.api import Crm

__all__ = ["ImportFileError", "LineFile", "LinesReport", "export_lines", "import_lines", "read_groups"]

Progress = Callable[[str, int, int], None]
# The columns an export writes, in order; with Chinese headers, these words.
EXPORT_COLUMNS = ("order", "customer_id", "ordered_at", "status", "owner", "notes", "refund_of", "sku", "product",
                  "quantity", "unit_price", "discount")
CHINESE_HEADERS = {"order": "订单号", "customer_id": "客户编号", "ordered_at": "下单日期", "status": "状态",
                   "owner": "负责人", "notes": "备注", "refund_of": "退款原单", "sku": "产品编号", "product": "产品",
                   "quantity": "数量", "unit_price": "单价", "discount": "折扣"}


@dataclass(frozen=True)
class LineFile:
    """A file of records with lines, one row per line (orders here, quotations in
    crm_tui.api.quote_file): the columns it may have (`row`), the column whose value
    groups the rows of one record (`key`), the record's own fields (`head`, the same on
    each of its rows) and the catalog table of its messages (`texts`)."""

    row: Entity
    key: str
    head: tuple[str, ...]
    texts: str

    def say(self, name: str, **values: Any) -> str:
        return t(f"{self.texts}.{name}", **values)


ORDER_FILE = LineFile(ORDER_LINE_ROW, "order", ORDER_ROW_FIELDS, "import_lines")


@dataclass
class LinesReport:
    path: Path
    format: str
    encoding: str
    rows: int = 0
    orders: int = 0
    lines: int = 0
    rejected: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False
    rejects_path: Path | None = None

    texts: str = "import_lines"  # the catalog table of the file's kind (LineFile.texts)

    def summary(self) -> str:
        return t(f"{self.texts}.summary" if self.written else f"{self.texts}.summary_dry", orders=self.orders,
                 lines=self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "format": self.format, "encoding": self.encoding, "rows": self.rows,
                "orders": self.orders, "lines": self.lines,
                "rejected": [{"line": r.line, "where": r.where, "reason": r.reason} for r in self.rejected],
                "warnings": self.warnings, "dry_run": self.dry_run, "written": self.written,
                "rejects_path": str(self.rejects_path) if self.rejects_path else None}


@dataclass
class _Order:
    key: str
    first: SourceRow
    fields: dict[str, Any] = field(default_factory=dict)
    given_by: dict[str, int] = field(default_factory=dict)  # field -> the line that gave it
    lines: list[tuple[SourceRow, dict[str, Any]]] = field(default_factory=list)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass
class GroupedFile:
    """A line file read and grouped: its report, the rows of each record by key
    (rows found bad are in the report), and how to reject a row."""

    report: LinesReport
    groups: dict[str, _Order]
    headers: list[str]
    reject: Callable[[SourceRow, str], None]


def read_groups(crm: Crm, path: Path, spec: LineFile, *, dry_run: bool, ignore_unknown: bool,
                sheet: str | None = None, progress: Progress | None = None) -> GroupedFile:
    """Read a file of `spec`'s kind and fold each row into its record's group: the
    record's fields checked (the same on each row), each line priced by the order
    rules (crm_tui.api.orders: catalogue SKU at its list price unless a price is
    given, or a name with a price). Call with `crm.lock` held."""
    source = read_source(path, spec.row, ignore_unknown=ignore_unknown, sheet=sheet)
    report = LinesReport(path, source.format, source.encoding, rows=len(source.rows),
                         warnings=list(source.warnings), dry_run=dry_run, texts=spec.texts)

    def reject(row: SourceRow, reason: str) -> None:
        report.rejected.append(Reject(row.line, source.where(row.line), reason, row.raw))

    catalogue = {p["sku"]: p for p in crm.products.find()}
    groups: dict[str, _Order] = {}
    # The values already checked, as every import keeps them (clean's memo): of the
    # record's fields, and of the lines' (their quantities, prices and discounts).
    memo: dict[str, dict[str, Any]] = {}
    line_memo: dict[str, dict[str, Any]] = {}
    for done, row in enumerate(source.rows, start=1):
        if progress and (done % 10000 == 0 or done == len(source.rows)):
            progress("validating", done, len(source.rows))
        error = _take_row(row, groups, crm.order_book, catalogue, spec, memo, line_memo)
        if error:
            reject(row, error)
    return GroupedFile(report, groups, source.headers, reject)


def import_lines(crm: Crm, path: str | Path, *, dry_run: bool = False, rejects_path: str | Path | None = None,
                 ignore_unknown: bool = False, progress: Progress | None = None) -> LinesReport:
    """Import orders with their lines from `path` (see the module docstring)."""
    path = Path(path)
    with crm.lock, no_cycle_collection():
        read = read_groups(crm, path, ORDER_FILE, dry_run=dry_run, ignore_unknown=ignore_unknown, progress=progress)
        orders = read.groups
        orders_api, lines_api = crm.orders, crm.order_lines
        local_rep = crm.replica["rep"]
        known: dict[tuple[str, str], bool] = {}
        made_orders: list[Record] = []
        made_lines: list[Record] = []
        # One stamp and a batch of ids for the whole file, as the other imports make
        # them (a ULID and a clock read per record cost more than their validation).
        now = utc_now()
        ids = iter(new_ids(sum(1 + len(o.lines) for o in orders.values())))
        # Each order's id first: a refund names its sale by the sale's key in the file,
        # wherever the sale's rows are (an export lists the sales by date, a refund
        # may come first).
        order_ids = {key: next(ids) for key in orders}
        order_memo: dict[str, dict[str, Any]] = {}
        line_memo: dict[str, dict[str, Any]] = {}
        known.update((("orders", i), True) for i in order_ids.values())
        groups: dict[str, _Order] = {}
        for order in orders.values():
            if not order.lines:
                continue  # every row of it was rejected
            data = {k: v for k, v in order.fields.items() if k != "owner"}
            if data.get("refund_of"):
                data["refund_of"] = order_ids.get(data["refund_of"], data["refund_of"])
            owner = order.fields.get("owner") or local_rep
            try:
                if not data.get("customer_id"):
                    raise ValidationError.one("customer_id", t("import_lines.no_customer", order=order.key))
                record = orders_api.prepare({**data, **order_summary([v for _, v in order.lines])}, owner=owner,
                                            now=now, record_id=order_ids[order.key], memo=order_memo)
            except ValidationError as exc:
                reject_group(read, ORDER_FILE, order, exc)
                continue
            made_orders.append(record)
            groups[record["id"]] = order
            for _, values in order.lines:
                made_lines.append(lines_api.prepare({**values, "order_id": record["id"],
                                                     "customer_id": record["customer_id"]}, owner=owner, now=now,
                                                    record_id=next(ids), memo=line_memo))
        # The orders' references, all at once (a query per table); when one is refused,
        # each order's again, to name its rows.
        try:
            orders_api.check_refs(made_orders, known=known)
        except ValidationError:
            unknown: set[str] = set()
            for record in made_orders:
                try:
                    orders_api.check_refs([record], known=known)
                except ValidationError as exc:
                    reject_group(read, ORDER_FILE, groups[record["id"]], exc)
                    unknown.add(record["id"])
            made_orders = [o for o in made_orders if o["id"] not in unknown]
            made_lines = [line for line in made_lines if line["order_id"] not in unknown]
        refused = _refunds_refused(crm, made_orders, made_lines)
        for order_id, why in refused.items():
            reject_group(read, ORDER_FILE, groups[order_id], why)
        if refused:
            made_orders = [o for o in made_orders if o["id"] not in refused]
            made_lines = [line for line in made_lines if line["order_id"] not in refused]
        return write_groups(crm, read, (orders_api, made_orders), (lines_api, made_lines), dry_run=dry_run,
                            rejects_path=rejects_path)


def write_groups(crm: Crm, read: GroupedFile, heads: tuple[Any, list[Record]], lines: tuple[Any, list[Record]], *,
                 dry_run: bool, rejects_path: str | Path | None) -> LinesReport:
    """The end of a grouped file's import (orders and their lines, quotations and
    theirs), each a (kind's API, prepared records) pair: the rejects file when a row
    was refused and nothing written, else the heads and their lines in one transaction."""
    report = read.report
    report.rejected.sort(key=lambda r: r.line)
    if report.rejected:
        report.rejects_path = Path(rejects_path) if rejects_path else default_rejects_path(report.path)
        write_rejects(report.rejects_path, read.headers, report.rejected, database=crm.path)
        return report
    report.orders, report.lines = len(heads[1]), len(lines[1])
    if dry_run:
        return report
    with import_transaction(crm.conn, report.orders + report.lines):
        heads[0].insert_prepared(heads[1], bulk=True)
        lines[0].insert_prepared(lines[1], bulk=True)
    report.written = True
    return report


def reject_group(read: GroupedFile, spec: LineFile, group: _Order, exc: ValidationError) -> None:
    """Reject a record of a line file whose own values are refused, at the row that
    gave the field refused (its first row otherwise)."""
    line = group.given_by.get(exc.errors[0].field, group.first.line)
    row = next((r for r, _ in group.lines if r.line == line), group.first)
    read.reject(row, spec.say("order_prefix", order=group.key) + "; ".join(str(e) for e in exc.errors))


def _refunds_refused(crm: Crm, made: list[Record], made_lines: list[Record]) -> dict[str, ValidationError]:
    """The refunds of a file that the rules of refunds refuse, each sale with its
    refunds in the file and those already in the database: refund id -> why. Of the
    sale's customer (check_refund_of); of a sale not cancelled, itself no refund, all
    of a sale's refunds never more than it (check_refunds); each product returned on
    the sale and no more of it than is not refunded yet (check_returns). The write
    funnel holds the first two when the file is written; this names the rows, and a
    dry run tells it too."""
    by_id = {o["id"]: o for o in made}
    lines_of: dict[str, list[Record]] = {}
    for line in made_lines:
        lines_of.setdefault(line["order_id"], []).append(line)
    refunds: dict[str, list[Record]] = {}
    for order in made:
        if order.get("refund_of") and order.get("status") != "cancelled":
            refunds.setdefault(order["refund_of"], []).append(order)
    if not refunds:
        return {}
    held = {sale_id: total for sale_id, _, _, _, total in sql.refunds_of(crm.conn, list(refunds))}
    refused: dict[str, ValidationError] = {}
    for sale_id, of_sale in refunds.items():
        sale = by_id.get(sale_id) or sql.get(crm.conn, crm.orders.entity, sale_id)
        if sale is None:
            continue  # a sale of the file whose rows were refused: nothing is written
        for refund in list(of_sale):
            try:
                check_refund_of(refund, sale)
            except ValidationError as exc:
                refused[refund["id"]] = exc
                of_sale.remove(refund)
        total = held.get(sale_id, 0.0) + sum(r["amount"] for r in of_sale)
        try:
            check_refunds([(sale_id, float(sale["amount"]), sale.get("refund_of"), sale.get("status"), total)])
        except ValidationError as exc:
            refused.update((r["id"], exc) for r in of_sale)
            continue
        # what of each product the sale's refunds took back: those of the book, then the file's in order
        sold = lines_of[sale_id] if sale_id in by_id else crm.order_book.lines(sale_id)
        returned = {} if sale_id in by_id else dict(crm.order_book.returned(sale_id))
        for refund in of_sale:
            try:
                check_returns(lines_of.get(refund["id"], []), sold, returned, sale_id)
            except ValidationError as exc:
                refused[refund["id"]] = exc
                continue
            for line in lines_of.get(refund["id"], []):
                returned[line["product"]] = returned.get(line["product"], 0.0) + line["quantity"]
    return refused


def _take_row(row: SourceRow, orders: dict[str, _Order], book: Any, catalogue: dict[str, Record],
              spec: LineFile, memo: dict[str, dict[str, Any]], line_memo: dict[str, dict[str, Any]]) -> str | None:
    """Fold one row into its record's group; the reason (naming the field) if it is bad."""
    values = row.values
    if "__error__" in values:
        return str(values["__error__"])
    key = _text(values.get(spec.key))
    if not key:
        return f"{spec.key}: {spec.say('order_required')}"
    if len(key) > 64:
        return f"{spec.key}: {spec.say('order_too_long')}"
    order = orders.get(key)
    if order is None:
        order = orders[key] = _Order(key, row)
    for name in spec.head:
        raw = _text(values.get(name))
        if not raw:
            continue
        try:
            value = remembered(spec.row.field(name), raw, memo, name) if name != "owner" else raw
        except ValueError as exc:
            return f"{name}: {exc}"
        held = order.fields.get(name)
        if held is not None and held != value:
            return f"{name}: " + spec.say("differs", raw=repr(raw), held=repr(held), order=key,
                                          line=order.given_by[name])
        if held is None:
            order.fields[name] = value
            order.given_by[name] = row.line
    product = _text(values.get("sku")) or _text(values.get("product"))
    if not product:
        return f"product: {t('import_lines.no_product')}"
    quantity = _text(values.get("quantity")) or "1"
    line_spec = LineSpec(product, quantity, _text(values.get("unit_price")) or None,
                         _text(values.get("discount")) or None)
    try:
        line = book._line(line_spec, "", catalogue, memo=line_memo)
    except ValidationError as exc:
        return "; ".join(f"{e.field or 'product'}: {e.reason}" for e in exc.errors)
    if "amount" in spec.row.field_names and _text(values.get("amount")):
        # a line's amount given beside its quantity and price (a sheet edited by
        # hand) must be what they make: the file would say one total, the record another
        try:
            given = clean_value(spec.row.field("amount"), _text(values.get("amount")))
        except ValueError as exc:
            return f"amount: {exc}"
        if given != line["amount"]:
            return "amount: " + t("line_file.amount_differs", given=money(given), made=money(line["amount"]))
    order.lines.append((row, line))
    return None


def export_lines(crm: Crm, path: str | Path, *, chinese: bool = False, encoding: str = "utf-8") -> int:
    """Every order with its lines to a CSV (one row per line, the order's fields on
    each) or JSON file, which `import_lines` reads back; the number of lines written.
    Refunds too, each naming its sale (refund_of, the sale's key in the file: its id),
    so the file holds the net sales the book does. `chinese` writes Chinese headers;
    `encoding` utf-8 (with a BOM, for Excel) or gbk."""
    path = Path(path)
    with crm.lock:
        orders = crm.orders.find(order="ordered_at")
        rows: list[dict[str, Any]] = []
        for o in orders:
            for line in crm.order_book.lines(o["id"]):
                rows.append({"order": o["id"], "customer_id": o["customer_id"], "ordered_at": o["ordered_at"],
                             "status": o.get("status"), "owner": o["owner"], "notes": o.get("notes"),
                             "refund_of": o.get("refund_of"), "sku": line.get("sku"), "product": None if line.get("sku") else line["product"],
                             "quantity": line["quantity"], "unit_price": line["unit_price"],
                             "discount": line.get("discount")})
    headers = [CHINESE_HEADERS[c] if chinese else c for c in EXPORT_COLUMNS]
    write_line_file(crm, path, "json" if path.suffix.lower() == ".json" else "csv", headers, EXPORT_COLUMNS, rows,
                    encoding=encoding)
    return len(rows)


def write_line_file(crm: Crm, path: Path | None, fmt: str, headers: list[str], columns: tuple[str, ...],
                    rows: list[dict[str, Any]], *, encoding: str = "utf-8", kinds: dict[str, str] | None = None,
                    title: str = "") -> None:
    """Rows of a line file to `path` (None: stdout, for csv and json) as csv (UTF-8
    with a BOM, or GBK / GB18030), json or xlsx (`kinds` of the columns: numbers as
    numbers, dates as dates). Written to a temporary file first (api.output)."""
    import sys

    if fmt == "xlsx":
        from crm_tui.report.xlsx import add_sheet, book_bytes, new_book

        book = new_book()
        add_sheet(book, title or "lines", headers, ([r[c] for c in columns] for r in rows),
                  [(kinds or {}).get(c, "text") for c in columns])
        if path is None:
            raise ValueError("an xlsx file needs a path")  # the CLI asks for -o first
        with output_file(path, database=crm.path, binary=True) as fh:
            fh.write(book_bytes(book))
        return
    if fmt == "json":
        text = json.dumps([{h: r[c] for h, c in zip(headers, columns, strict=True)} for r in rows],
                          ensure_ascii=False, indent=1)
        if path is None:
            sys.stdout.write(text + "\n")
            return
        with output_file(path, database=crm.path) as fh:
            fh.write(text)
        return
    # GB18030 holds every character (䶮 too); GBK and GB2312 write as GBK
    codec = {"gb18030": "gb18030", "gbk": "gbk", "gb2312": "gbk"}.get(encoding.lower(), "utf-8-sig")
    try:
        if path is None:
            writer = csv.writer(sys.stdout)
            writer.writerow(headers)
            writer.writerows([csv_cell(r[c]) for c in columns] for r in rows)
            return
        with output_file(path, database=crm.path, encoding=codec, newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(headers)
            writer.writerows([csv_cell(r[c]) for c in columns] for r in rows)
    except UnicodeEncodeError as exc:
        raise ValidationError.one("encoding", t("import_lines.no_gbk", text=repr(exc.object[exc.start:exc.end]))
                                  ) from None
