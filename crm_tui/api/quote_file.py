"""Quotations with their lines in a file and back (`crm quotes import` / `export`):
one row per line, the rows of one quotation sharing its key (报价单号), the quotation's
own fields (customer, opportunity, title, dates, status, terms, notes, owner) on its
first row and blank or the same on the others, as orders with lines are
(crm_tui.api.order_import, whose reading, grouping and writing this shares). CSV in
UTF-8 or GBK, JSON, or an Excel workbook; headers in English or Chinese.

All or nothing: every row is checked first, a bad one named by its line and field
(and kept in the rejects file); a clean file is written in ONE transaction, through
the write funnel of quotes and quote lines. Each line is priced by the order rules
(a SKU of the catalogue at its list price unless a price is given, or a name with a
price), a line's amount given in the file must be what its quantity, price and
discount make, and a quotation's amount is the sum of its lines (domain.quotes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crm_tui.api.importing import no_cycle_collection
from crm_tui.api.order_import import (
    LineFile,
    LinesReport,
    read_groups,
    reject_group,
    write_groups,
    write_line_file,
)
from crm_tui.api.records import Record, new_ids, utc_now
from crm_tui.domain import quotes as quote_rules
from crm_tui.domain.quotes import QUOTE_LINE_ROW, QUOTE_ROW_FIELDS, quote_totals, valid_until_default
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import entity_label, t

if TYPE_CHECKING:
    from crm_tui.api import Crm

QUOTE_FILE = LineFile(QUOTE_LINE_ROW, "quote", QUOTE_ROW_FIELDS, "quote_file")
DEFAULT_STATUS = "draft"
# The columns an export writes, in order; with Chinese headers, these words.
EXPORT_COLUMNS = ("quote", "customer_id", "opportunity_id", "title", "quoted_on", "valid_until", "status", "terms",
                  "notes", "order_id", "owner", "position", "sku", "product", "quantity", "unit_price", "discount",
                  "amount")
CHINESE_HEADERS = {"quote": "报价单号", "customer_id": "客户编号", "opportunity_id": "商机编号", "title": "标题",
                   "quoted_on": "报价日期", "valid_until": "有效期至", "status": "状态", "terms": "条款",
                   "notes": "备注", "order_id": "订单编号", "owner": "负责人", "position": "序号",
                   "sku": "产品编号", "product": "产品", "quantity": "数量", "unit_price": "单价",
                   "discount": "折扣", "amount": "金额"}
# How an xlsx export types each column (crm_tui.report.xlsx): the rest is text.
XLSX_KINDS = {"quoted_on": "date", "valid_until": "date", "position": "int", "quantity": "number",
              "unit_price": "number", "discount": "number", "amount": "money"}

Progress = Callable[[str, int, int], None]


def import_quotes(crm: Crm, path: str | Path, *, dry_run: bool = False, rejects_path: str | Path | None = None,
                  ignore_unknown: bool = False, sheet: str | None = None,
                  progress: Progress | None = None) -> LinesReport:
    """Import quotations with their lines from `path` (see the module docstring)."""
    path = Path(path)
    book = crm.quote_book
    with crm.lock, no_cycle_collection():
        read = read_groups(crm, path, QUOTE_FILE, dry_run=dry_run, ignore_unknown=ignore_unknown, sheet=sheet,
                           progress=progress)
        local_rep = crm.replica["rep"]
        today = crm.now().date().isoformat()
        known: dict[tuple[str, str], bool] = {}
        made_quotes: list[Record] = []
        made_lines: list[Record] = []
        now = utc_now()
        ids = iter(new_ids(sum(1 + len(g.lines) for g in read.groups.values())))
        for group in read.groups.values():
            if not group.lines:
                continue  # every row of it was rejected
            data = {k: v for k, v in group.fields.items() if k != "owner"}
            data.setdefault("status", DEFAULT_STATUS)
            data.setdefault("quoted_on", today)
            data.setdefault("valid_until", valid_until_default(data["quoted_on"]))
            owner = group.fields.get("owner") or local_rep
            lines = [values for _, values in group.lines]
            try:
                if not data.get("customer_id"):
                    raise ValidationError.one("customer_id", QUOTE_FILE.say("no_customer", order=group.key))
                record = book.quotes.prepare({**data, "amount": quote_totals(lines)["total"]}, owner=owner, now=now,
                                             record_id=next(ids))
                book.quotes.check_refs([record], known=known)
                quote_rules.check_record(record)
                _check_deal(crm, record)
            except ValidationError as exc:
                reject_group(read, QUOTE_FILE, group, exc)
                continue
            made_quotes.append(record)
            for position, values in enumerate(lines, start=1):
                made_lines.append(book.lines_api.prepare(
                    {**values, "quote_id": record["id"], "customer_id": record["customer_id"], "position": position},
                    owner=owner, now=now, record_id=next(ids)))
        return write_groups(crm, read, (book.quotes, made_quotes), (book.lines_api, made_lines), dry_run=dry_run,
                            rejects_path=rejects_path)


def _check_deal(crm: Crm, quote: Record) -> None:
    """A quotation of an opportunity is for that opportunity's customer (as `quotes add` makes it)."""
    if quote.get("opportunity_id"):
        deal = crm.opportunities.get(quote["opportunity_id"])
        if deal["customer_id"] != quote["customer_id"]:
            raise ValidationError.one("opportunity_id", t("reason.quote_other_customer", id=deal["id"]))


def export_quotes(crm: Crm, path: str | Path | None, *, fmt: str = "csv", chinese: bool = False,
                  encoding: str = "utf-8") -> int:
    """Every quotation with its lines, one row per line (the quotation's fields on
    each), in the format `import_quotes` reads; to stdout when `path` is None (csv,
    json). The number of lines written."""
    book = crm.quote_book
    rows: list[dict[str, Any]] = []
    with crm.lock:
        for quote in book.quotes.find([], order="quoted_on"):
            head = {name: quote.get(name) for name in EXPORT_COLUMNS if name in QUOTE_ROW_FIELDS}
            for line in book.get(quote["id"])["lines"]:
                rows.append({"quote": quote["id"], **head, "position": line.get("position"), "sku": line.get("sku"),
                             "product": None if line.get("sku") else line["product"],
                             "quantity": line["quantity"], "unit_price": line["unit_price"],
                             "discount": line.get("discount"), "amount": line["amount"]})
    headers = [CHINESE_HEADERS[c] if chinese else c for c in EXPORT_COLUMNS]
    write_line_file(crm, Path(path) if path is not None else None, fmt, headers, EXPORT_COLUMNS, rows,
                    encoding=encoding, kinds=XLSX_KINDS, title=entity_label("quotes"))
    return len(rows)
