"""The report as Markdown: headline figures, then one table per analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_tui.domain.analytics.complaints import UNKNOWN
from crm_tui.i18n import t
from crm_tui.report import fmt
from crm_tui.report.fmt import (
    attainment_rows,
    closed_rows,
    funnel_rows,
    key_figures,
    money,
    pipeline_figures,
    pipeline_rows,
    rep_row,
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return [f"_{t('report.empty')}_", ""]

    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(data: dict[str, Any]) -> str:
    c = data["complaints"]

    def h(level: int, key: str) -> list[str]:
        return ["#" * level + " " + t(f"report.h.{key}"), ""]

    measure_value = [t("report.col.measure"), t("report.col.value")]
    lines = [
        f"# {fmt.title(data)}", "", fmt.subtitle(data), "",
        *h(2, "key_figures"),
        *_table(measure_value, key_figures(data)),
        *h(2, "sales_by_month"),
        *_table([t("report.col.month"), t("report.col.sales")],
                [[m["month"], money(m["sales"])] for m in data["monthly_sales"]]),
        *h(2, "reps"),
        *_table(fmt.rep_header(), [rep_row(r) for r in data["kpis"]["reps"]]),
        *h(2, "segments"),
        *_table([t("report.col.segment"), t("report.col.customers")],
                [[fmt.segment(k), fmt.count(v)] for k, v in data["segments"].items()]),
        *h(2, "tiers_status"),
        *_table([t("report.col.tier"), t("report.col.customers")],
                [[fmt.tier(k), fmt.count(v)] for k, v in data["tiers"].items()]),
        *_table([t("report.col.status"), t("report.col.customers")],
                [[fmt.status(k), fmt.count(v)] for k, v in data["statuses"].items()]),
        *h(2, "top_customers"),
        *_table(fmt.top_header(), fmt.top_rows(data)),
        *h(2, "at_risk"),
        *_table(fmt.at_risk_header(), fmt.at_risk_rows(data)),
        *h(2, "win_back"),
        *_table(fmt.win_back_header(), fmt.win_back_rows(data)),
        *h(2, "complaints"),
        fmt.complaints_summary(c), "",
    ]
    # By category only when complaints name products of the catalogue.
    categories = ["by_category"] if any(r["key"] != UNKNOWN for r in c.get("by_category", [])) else []
    for key in ("by_type", "by_cause", "by_region", "by_product", *categories):
        lines += h(3, key)
        lines += _table(fmt.pareto_header(key), fmt.pareto_rows(c[key]))
    lines += h(3, "sla")
    lines += _table(fmt.sla_header(), fmt.sla_rows(c))
    lines += [*h(2, "products"),
              *h(3, "sales_by_product"), *_table(fmt.product_header(), fmt.product_rows(data)),
              *h(3, "sales_by_category"), *_table(fmt.category_header(), fmt.category_rows(data)),
              *h(3, "top_products_region"),
              *_table(fmt.top_products_header("region"), fmt.top_products_rows(data, "region")),
              *h(3, "top_products_rep"), *_table(fmt.top_products_header("rep"), fmt.top_products_rows(data, "rep")),
              *h(3, "returns"), *_table(measure_value, fmt.returns_figures(data))]
    lines += [*h(2, "pipeline"), *_table(measure_value, pipeline_figures(data)),
              *h(3, "open_by_stage"), *_table(fmt.pipeline_header(), pipeline_rows(data)),
              *h(3, "forecast_by_month"), *_table(fmt.forecast_header(), fmt.forecast_rows(data)),
              *h(3, "funnel"), *_table(fmt.funnel_header(), funnel_rows(data)),
              *h(3, "attainment"), *_table(fmt.attainment_header(), attainment_rows(data)),
              *h(3, "closed"), *_table(fmt.closed_header(), closed_rows(data))]
    return "\n".join(lines).rstrip("\n") + "\n"
