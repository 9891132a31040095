"""The report as one self-contained HTML file: inline CSS and inline SVG charts, no
scripts and no external resources, so it can be mailed to a manager as is."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from crm_tui.i18n import language, t
from crm_tui.report import fmt
from crm_tui.report.fmt import (
    attainment_rows,
    closed_rows,
    funnel_rows,
    key_figures,
    label,
    pipeline_figures,
    pipeline_rows,
    rep_row,
)
from crm_tui.report.svg import bar_chart, funnel_chart, hbar_chart, pareto_chart

CSS = """
body { font-family: system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
.sub { color: #666; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: 0.6rem; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.5rem 0.7rem; }
.card .v { font-size: 1.25rem; font-weight: 600; } .card .k { color: #666; font-size: 0.8rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border-bottom: 1px solid #eee; padding: 0.25rem 0.6rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    if not rows:
        return f"<p><em>{escape(t('report.empty'))}</em></p>"

    def cell(v: str) -> str:
        numeric = v.replace(",", "").replace(".", "").replace("%", "").replace("/", "").lstrip("-").isdigit()
        return f'<td class="n">{escape(v)}</td>' if numeric else f"<td>{escape(v)}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(str(c)) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(data: dict[str, Any]) -> str:
    c = data["complaints"]
    cards = "".join(f'<div class="card"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div></div>'
                    for k, v in key_figures(data))
    sales_chart = bar_chart([(m["month"], m["sales"]) for m in data["monthly_sales"]], title=t("report.chart.sales"))
    segment_chart = hbar_chart([(fmt.segment(k), v) for k, v in data["segments"].items()],
                               title=t("report.chart.segments"))
    tier_chart = hbar_chart([(t("report.chart.tier", tier=fmt.tier(k)), v) for k, v in data["tiers"].items()],
                            title=t("report.chart.tiers"), width=320)
    type_chart = pareto_chart([(label(r["key"]), r["count"], r["cumulative"]) for r in c["by_type"]],
                              title=t("report.chart.types"))
    cause_chart = pareto_chart([(label(r["key"]), r["count"], r["cumulative"]) for r in c["by_cause"]],
                               title=t("report.chart.causes"))

    def pareto_table(key: str) -> str:
        return f"<h3>{h('by_' + key.removeprefix('by_'))}</h3>" + _table(fmt.pareto_header(key), fmt.pareto_rows(c[key]))

    def h(key: str) -> str:
        return escape(t(f"report.h.{key}"))

    fc = data["pipeline"]["forecast"]
    funnel_svg = funnel_chart([(fmt.stage(s["stage"], data), s["reached"]) for s in data["pipeline"]["funnel"]["stages"]],
                              title=t("report.chart.funnel"))
    forecast_svg = bar_chart([(m["month"], m["forecast"]) for m in fc["months"]], title=t("report.chart.forecast"))
    pipeline_cards = "".join(f'<div class="card"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div>'
                             "</div>" for k, v in pipeline_figures(data))
    product_chart = hbar_chart([(r["product"], r["sales"]) for r in data["products"]["by_product"][:10]],
                               title=t("report.chart.products"))
    title = fmt.title(data)
    body = f"""
<h1>{escape(title)}</h1>
<p class="sub">{escape(fmt.subtitle(data))}</p>
<h2>{h("key_figures")}</h2>
<div class="cards">{cards}</div>
<h2>{h("sales")}</h2>
<div class="charts">{sales_chart}</div>
<h2>{h("reps")}</h2>
{_table(fmt.rep_header(), [rep_row(r) for r in data['kpis']['reps']])}
<h2>{h("customers")}</h2>
<div class="charts">{segment_chart}{tier_chart}</div>
<h3>{h("top_customers")}</h3>
{_table(fmt.top_header(), fmt.top_rows(data))}
<h3>{h("at_risk")}</h3>
{_table(fmt.at_risk_header(), fmt.at_risk_rows(data))}
<h3>{h("win_back")}</h3>
{_table(fmt.win_back_header(), fmt.win_back_rows(data))}
<h2>{h("complaints")}</h2>
<p>{escape(fmt.complaints_summary(c))}</p>
<div class="charts">{type_chart}{cause_chart}</div>
{pareto_table("by_type")}
{pareto_table("by_cause")}
{pareto_table("by_region")}
{pareto_table("by_product")}
<h3>{h("sla")}</h3>
{_table(fmt.sla_header(), fmt.sla_rows(c))}
<h2>{h("products")}</h2>
<div class="charts">{product_chart}</div>
<h3>{h("sales_by_product")}</h3>
{_table(fmt.product_header(), fmt.product_rows(data))}
<h3>{h("sales_by_category")}</h3>
{_table(fmt.category_header(), fmt.category_rows(data))}
<h3>{h("top_products_region")}</h3>
{_table(fmt.top_products_header("region"), fmt.top_products_rows(data, "region"))}
<h3>{h("top_products_rep")}</h3>
{_table(fmt.top_products_header("rep"), fmt.top_products_rows(data, "rep"))}
<h3>{h("returns")}</h3>
{_table([t("report.col.measure"), t("report.col.value")], fmt.returns_figures(data))}
<h2>{h("pipeline")}</h2>
<div class="cards">{pipeline_cards}</div>
<div class="charts">{funnel_svg}{forecast_svg}</div>
<h3>{h("open_by_stage")}</h3>
{_table(fmt.pipeline_header(), pipeline_rows(data))}
<h3>{h("funnel")}</h3>
{_table(fmt.funnel_header(), funnel_rows(data))}
<h3>{h("attainment")}</h3>
{_table(fmt.attainment_header(), attainment_rows(data))}
<h3>{h("closed")}</h3>
{_table(fmt.closed_header(), closed_rows(data))}
"""
    lang = "zh-CN" if language() == "zh" else "en"
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>{body}</body>\n</html>\n")
