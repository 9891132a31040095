"""The report as an Excel workbook: one sheet per table of the Markdown report, in the
run's language, with numbers, amounts and percentages as typed cells (a manager can
sum and chart them) and a frozen header row on each sheet."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from crm_tui.domain.analytics.complaints import UNKNOWN
from crm_tui.i18n import t
from crm_tui.report import fmt
from crm_tui.report.xlsx import NUMBER_FORMATS, add_sheet, book_bytes, new_book

_MONEY = re.compile(r"^-?\d{1,3}(?:,\d{3})*\.\d\d$")
_PERCENT = re.compile(r"^-?\d+(?:\.\d+)?%$")
_INT = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+\.\d+$")


def typed(text: str) -> tuple[Any, str | None]:
    """A cell of the shared report tables (fmt.money, pct, num) back as a number with
    its kind, so the workbook holds numbers shown as the other formats show them."""
    if not isinstance(text, str):
        return text, None
    if _MONEY.match(text):
        return float(text.replace(",", "")), "money"
    if _PERCENT.match(text):
        return float(text[:-1]) / 100, "percent"
    if _INT.match(text) and len(text) < 16:
        return int(text), "int"
    if _DECIMAL.match(text):
        return float(text), "decimal"
    return text, None


def _sheet(book: Any, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[typed(c) for c in row] for row in rows]
    ws = add_sheet(book, title, header, [[v for v, _ in row] for row in cells])
    # each cell its own format: a column of key figures mixes counts, amounts and rates
    for r, row in enumerate(cells, start=2):
        for col, (_, kind) in enumerate(row, start=1):
            if kind:
                ws.cell(row=r, column=col).number_format = NUMBER_FORMATS[kind]


def render_xlsx(data: dict[str, Any]) -> bytes:
    c = data["complaints"]
    book = new_book()
    measure_value = [t("report.col.measure"), t("report.col.value")]
    h = lambda key: t(f"report.h.{key}")  # noqa: E731 - a short local alias
    _sheet(book, h("key_figures"), measure_value,
           [[fmt.title(data), ""], [fmt.subtitle(data), ""], *fmt.key_figures(data)])
    _sheet(book, h("sales_by_month"), [t("report.col.month"), t("report.col.sales")],
           [[m["month"], fmt.money(m["sales"])] for m in data["monthly_sales"]])
    _sheet(book, h("reps"), fmt.rep_header(), [fmt.rep_row(r) for r in data["kpis"]["reps"]])
    _sheet(book, h("segments"), [t("report.col.segment"), t("report.col.customers")],
           [[fmt.segment(k), fmt.count(v)] for k, v in data["segments"].items()])
    _sheet(book, t("report.col.tier"), [t("report.col.tier"), t("report.col.customers")],
           [[fmt.tier(k), fmt.count(v)] for k, v in data["tiers"].items()])
    _sheet(book, t("report.col.status"), [t("report.col.status"), t("report.col.customers")],
           [[fmt.status(k), fmt.count(v)] for k, v in data["statuses"].items()])
    _sheet(book, h("top_customers"), fmt.top_header(), fmt.top_rows(data))
    _sheet(book, h("at_risk"), fmt.at_risk_header(), fmt.at_risk_rows(data))
    _sheet(book, h("win_back"), fmt.win_back_header(), fmt.win_back_rows(data))
    _sheet(book, h("complaints"), measure_value, [[fmt.complaints_summary(c), ""]])
    categories = ["by_category"] if any(r["key"] != UNKNOWN for r in c.get("by_category", [])) else []
    for key in ("by_type", "by_cause", "by_region", "by_product", *categories):
        _sheet(book, f"{h('complaints')} {h(key)}", fmt.pareto_header(key), fmt.pareto_rows(c[key]))
    _sheet(book, h("sla"), fmt.sla_header(), fmt.sla_rows(c))
    _sheet(book, h("sales_by_product"), fmt.product_header(), fmt.product_rows(data))
    _sheet(book, h("sales_by_category"), fmt.category_header(), fmt.category_rows(data))
    for group in ("region", "rep"):
        _sheet(book, h(f"top_products_{group}"), fmt.top_products_header(group), fmt.top_products_rows(data, group))
    _sheet(book, h("returns"), measure_value, fmt.returns_figures(data))
    _sheet(book, h("pipeline"), measure_value, fmt.pipeline_figures(data))
    _sheet(book, h("open_by_stage"), fmt.pipeline_header(), fmt.pipeline_rows(data))
    _sheet(book, h("forecast_by_month"), fmt.forecast_header(), fmt.forecast_rows(data))
    _sheet(book, h("funnel"), fmt.funnel_header(), fmt.funnel_rows(data))
    _sheet(book, h("attainment"), fmt.attainment_header(), fmt.attainment_rows(data))
    _sheet(book, h("closed"), fmt.closed_header(), fmt.closed_rows(data))
    return book_bytes(book)
