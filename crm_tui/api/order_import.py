"""Orders with several lines from one file, and back (`crm orders import-lines` /
`export-lines`): one row per line, the rows of an order sharing its key (订单号),
the order's own fields (customer, date, status, notes, owner) on its first row and
blank or the same on the others. Headers in English or Chinese, CSV in UTF-8 or GBK
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
    read_source,
    write_rejects,
)
from crm_tui.api.output import output_file
from crm_tui.api.records import Record, new_ids, utc_now
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain.import_mapping import csv_cell
from crm_tui.domain.orders import ORDER_LINE_ROW, ORDER_ROW_FIELDS, LineSpec, order_summary
from crm_tui.domain.validation import ValidationError, clean_value
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api import Crm

__all__ = ["ImportFileError", "LinesReport", "export_lines", "import_lines"]

Progress = Callable[[str, int, int], None]
DEFAULT_STATUS = "confirmed"
# The columns an export writes, in order; with Chinese headers, these words.
EXPORT_COLUMNS = ("order", "customer_id", "ordered_at", "status", "owner", "notes", "sku", "product", "quantity",
                  "unit_price", "discount")
CHINESE_HEADERS = {"order": "订单号", "customer_id": "客户编号", "ordered_at": "下单日期", "status": "状态",
                   "owner": "负责人", "notes": "备注", "sku": "产品编号", "product": "产品", "quantity": "数量",
                   "unit_price": "单价", "discount": "折扣"}


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

    def summary(self) -> str:
        return t("import_lines.summary" if self.written else "import_lines.summary_dry", orders=self.orders,
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


def import_lines(crm: Crm, path: str | Path, *, dry_run: bool = False, rejects_path: str | Path | None = None,
                 ignore_unknown: bool = False, progress: Progress | None = None) -> LinesReport:
    """Import orders with their lines from `path` (see the module docstring)."""
    path = Path(path)
    source = read_source(path, ORDER_LINE_ROW, ignore_unknown=ignore_unknown)
    report = LinesReport(path, source.format, source.encoding, rows=len(source.rows),
                         warnings=list(source.warnings), dry_run=dry_run)

    def reject(row: SourceRow, reason: str) -> None:
        report.rejected.append(Reject(row.line, source.where(row.line), reason, row.raw))

    with crm.lock:
        book, orders_api, lines_api = crm.order_book, crm.orders, crm.order_lines
        catalogue = {p["sku"]: p for p in crm.products.find()}
        local_rep = crm.replica["rep"]
        orders: dict[str, _Order] = {}
        for done, row in enumerate(source.rows, start=1):
            if progress and (done % 10000 == 0 or done == len(source.rows)):
                progress("validating", done, len(source.rows))
            error = _take_row(row, orders, book, catalogue)
            if error:
                reject(row, error)
        known: dict[tuple[str, str], bool] = {}
        made_orders: list[Record] = []
        made_lines: list[Record] = []
        # One stamp and a batch of ids for the whole file, as the other imports make
        # them (a ULID and a clock read per record cost more than their validation).
        now = utc_now()
        ids = iter(new_ids(sum(1 + len(o.lines) for o in orders.values())))
        for order in orders.values():
            if not order.lines:
                continue  # every row of it was rejected
            data = {k: v for k, v in order.fields.items() if k != "owner"}
            data.setdefault("status", DEFAULT_STATUS)
            owner = order.fields.get("owner") or local_rep
            try:
                if not data.get("customer_id"):
                    raise ValidationError.one("customer_id", t("import_lines.no_customer", order=order.key))
                record = orders_api.prepare({**data, **order_summary([v for _, v in order.lines])}, owner=owner,
                                            now=now, record_id=next(ids))
                orders_api.check_refs([record], known=known)
            except ValidationError as exc:
                field_ = exc.errors[0].field
                line = order.given_by.get(field_, order.first.line)
                row = next((r for r, _ in order.lines if r.line == line), order.first)
                reject(row, t("import_lines.order_prefix", order=order.key) + "; ".join(str(e) for e in exc.errors))
                continue
            made_orders.append(record)
            for _, values in order.lines:
                made_lines.append(lines_api.prepare({**values, "order_id": record["id"],
                                                     "customer_id": record["customer_id"]}, owner=owner, now=now,
                                                    record_id=next(ids)))
        report.rejected.sort(key=lambda r: r.line)
        if report.rejected:
            report.rejects_path = Path(rejects_path) if rejects_path else default_rejects_path(path)
            write_rejects(report.rejects_path, source.headers, report.rejected, database=crm.path)
            return report
        report.orders, report.lines = len(made_orders), len(made_lines)
        if dry_run:
            return report
        with transaction(crm.conn):
            orders_api.insert_prepared(made_orders, bulk=True)
            lines_api.insert_prepared(made_lines, bulk=True)
        report.written = True
    return report


def _take_row(row: SourceRow, orders: dict[str, _Order], book: Any, catalogue: dict[str, Record]) -> str | None:
    """Fold one row into its order; the reason (naming the field) if it is bad."""
    values = row.values
    if "__error__" in values:
        return str(values["__error__"])
    key = _text(values.get("order"))
    if not key:
        return f"order: {t('import_lines.order_required')}"
    if len(key) > 64:
        return f"order: {t('import_lines.order_too_long')}"
    order = orders.get(key)
    if order is None:
        order = orders[key] = _Order(key, row)
    for name in ORDER_ROW_FIELDS:
        raw = _text(values.get(name))
        if not raw:
            continue
        try:
            value = clean_value(ORDER_LINE_ROW.field(name), raw) if name != "owner" else raw
        except ValueError as exc:
            return f"{name}: {exc}"
        held = order.fields.get(name)
        if held is not None and held != value:
            return f"{name}: " + t("import_lines.differs", raw=repr(raw), held=repr(held), order=key,
                                   line=order.given_by[name])
        if held is None:
            order.fields[name] = value
            order.given_by[name] = row.line
    product = _text(values.get("sku")) or _text(values.get("product"))
    if not product:
        return f"product: {t('import_lines.no_product')}"
    quantity = _text(values.get("quantity")) or "1"
    spec = LineSpec(product, quantity, _text(values.get("unit_price")) or None, _text(values.get("discount")) or None)
    try:
        line = book._line(spec, "", catalogue)
    except ValidationError as exc:
        return "; ".join(f"{e.field or 'product'}: {e.reason}" for e in exc.errors)
    order.lines.append((row, line))
    return None


def export_lines(crm: Crm, path: str | Path, *, chinese: bool = False, encoding: str = "utf-8") -> int:
    """Every order with its lines to a CSV (one row per line, the order's fields on
    each) or JSON file, which `import_lines` reads back; the number of lines written.
    `chinese` writes Chinese headers; `encoding` utf-8 (with a BOM, for Excel) or gbk."""
    path = Path(path)
    with crm.lock:
        orders = crm.orders.find([Filter("refund_of", "=", None)], order="ordered_at")
        rows: list[dict[str, Any]] = []
        for o in orders:
            for line in crm.order_book.lines(o["id"]):
                rows.append({"order": o["id"], "customer_id": o["customer_id"], "ordered_at": o["ordered_at"],
                             "status": o.get("status"), "owner": o["owner"], "notes": o.get("notes"),
                             "sku": line.get("sku"), "product": None if line.get("sku") else line["product"],
                             "quantity": line["quantity"], "unit_price": line["unit_price"],
                             "discount": line.get("discount")})
    headers = [CHINESE_HEADERS[c] if chinese else c for c in EXPORT_COLUMNS]
    if path.suffix.lower() == ".json":
        with output_file(path, database=crm.path) as fh:
            fh.write(json.dumps([{h: r[c] for h, c in zip(headers, EXPORT_COLUMNS, strict=True)} for r in rows],
                                ensure_ascii=False, indent=1))
    else:
        # GB18030 holds every character (䶮 too); GBK and GB2312 write as GBK
        codec = {"gb18030": "gb18030", "gbk": "gbk", "gb2312": "gbk"}.get(encoding.lower(), "utf-8-sig")
        try:
            with output_file(path, database=crm.path, encoding=codec, newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(headers)
                writer.writerows([csv_cell(r[c]) for c in EXPORT_COLUMNS] for r in rows)
        except UnicodeEncodeError as exc:
            raise ValidationError.one("encoding", t("import_lines.no_gbk", text=repr(exc.object[exc.start:exc.end]))
                                      ) from None
    return len(rows)
