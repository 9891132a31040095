"""The report as one self-contained HTML file: inline CSS and inline SVG charts, no
scripts and no external resources, so it can be mailed to a manager as is."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from crm_tui.report.fmt import (
    ATTAINMENT_HEADER,
    CLOSED_HEADER,
    FUNNEL_HEADER,
    PIPELINE_HEADER,
    REP_HEADER,
    attainment_rows,
    closed_rows,
    funnel_rows,
    key_figures,
    label,
    money,
    num,
    pct,
    pipeline_figures,
    pipeline_rows,
    rep_row,
)
from crm_tui.report.svg import bar_chart, funnel_chart, hbar_chart, pareto_chart

CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
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
        return "<p><em>None.</em></p>"

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
    sales_chart = bar_chart([(m["month"], m["sales"]) for m in data["monthly_sales"]], title="Sales by month")
    segment_chart = hbar_chart([(k, v) for k, v in data["segments"].items()], title="Customers per RFM segment")
    tier_chart = hbar_chart([(f"Tier {k}", v) for k, v in data["tiers"].items()], title="Customers per value tier",
                            width=320)
    type_chart = pareto_chart([(label(r["key"]), r["count"], r["cumulative"]) for r in c["by_type"]],
                              title="Complaints by type (Pareto)")
    cause_chart = pareto_chart([(label(r["key"]), r["count"], r["cumulative"]) for r in c["by_cause"]],
                               title="Complaints by cause (Pareto)")

    def pareto_table(key: str, name: str) -> str:
        return _table([name, "Complaints", "Share", "Cumulative", "Vital few"],
                      [[label(r["key"]), str(r["count"]), pct(r["share"]), pct(r["cumulative"]),
                        "yes" if r["vital"] else ""] for r in c[key]])

    fc = data["pipeline"]["forecast"]
    funnel_svg = funnel_chart([(s["stage"], s["reached"]) for s in data["pipeline"]["funnel"]["stages"]],
                              title="Sales funnel (opportunities created in the period)")
    forecast_svg = bar_chart([(m["month"], m["forecast"]) for m in fc["months"]],
                             title="Forecast by month (won + weighted pipeline)")
    pipeline_cards = "".join(f'<div class="card"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div>'
                             "</div>" for k, v in pipeline_figures(data))
    title = f"Sales and analysis report: {data['period']}"
    body = f"""
<h1>{escape(title)}</h1>
<p class="sub">Period {escape(data['start'])} to {escape(data['end'])} · rep: {escape(data['rep'] or 'all')} ·
customer scores as of {escape(data['as_of'])}</p>
<h2>Key figures</h2>
<div class="cards">{cards}</div>
<h2>Sales</h2>
<div class="charts">{sales_chart}</div>
<h2>Reps</h2>
{_table(REP_HEADER, [rep_row(r) for r in data['kpis']['reps']])}
<h2>Customers</h2>
<div class="charts">{segment_chart}{tier_chart}</div>
<h3>Top customers</h3>
{_table(["#", "Customer", "Company", "Orders", "Sales"],
        [[str(i), r["name"], r["company"] or "", str(r["orders"]), money(r["sales"])]
         for i, r in enumerate(data["top_customers"], 1)])}
<h3>At-risk customers</h3>
{_table(["Customer", "Segment", "RFM", "Days since last order", "Sales in RFM window"],
        [[r["name"], r["segment"], r["rfm"], str(r["recency_days"]), money(r["monetary"])] for r in data["at_risk"]])}
<h3>Win-back queue</h3>
{_table(["Customer", "Tier", "Status", "Days since last order", "Historical value"],
        [[w["name"], w["tier"], w["status"], str(w["days_since_last_order"]), money(w["value"])]
         for w in data["win_back"]])}
<h2>Complaints</h2>
<p>{c['complaints']} received, {c['open']} still open. Mean first response {num(c['mean_first_response_hours'])} h,
mean resolution {num(c['mean_resolution_hours'])} h.</p>
<div class="charts">{type_chart}{cause_chart}</div>
<h3>By type</h3>{pareto_table("by_type", "Type")}
<h3>By cause</h3>{pareto_table("by_cause", "Cause")}
<h3>By region</h3>{pareto_table("by_region", "Region")}
<h3>By product</h3>{pareto_table("by_product", "Product")}
<h3>SLA by priority</h3>
{_table(["Priority", "Complaints", "Decided", "Breached", "Breach rate"],
        [[p, str(s["complaints"]), str(s["decided"]), str(s["breached"]), pct(s["breach_rate"])]
         for p, s in c["sla"].items()])}
<h2>Sales pipeline</h2>
<div class="cards">{pipeline_cards}</div>
<div class="charts">{funnel_svg}{forecast_svg}</div>
<h3>Open pipeline by stage</h3>
{_table(PIPELINE_HEADER, pipeline_rows(data))}
<h3>Funnel</h3>
{_table(FUNNEL_HEADER, funnel_rows(data))}
<h3>Attainment per rep</h3>
{_table(ATTAINMENT_HEADER, attainment_rows(data))}
<h3>Opportunities won and lost</h3>
{_table(CLOSED_HEADER, closed_rows(data))}
"""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>{body}</body>\n</html>\n")
