"""The report as Markdown: headline figures, then one table per analysis."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_tui.domain.analytics.complaints import UNKNOWN
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


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows:
        return ["_None._", ""]

    def esc(cell: str) -> str:
        return str(cell).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def render_markdown(data: dict[str, Any]) -> str:
    c = data["complaints"]
    lines = [
        f"# Sales and analysis report: {data['period']}", "",
        f"Period {data['start']} to {data['end']} · rep: {data['rep'] or 'all'} · "
        f"customer scores as of {data['as_of']}", "",
        "## Key figures", "",
        *_table(["Measure", "Value"], key_figures(data)),
        "## Sales by month", "",
        *_table(["Month", "Sales"], [[m["month"], money(m["sales"])] for m in data["monthly_sales"]]),
        "## Reps", "",
        *_table(REP_HEADER, [rep_row(r) for r in data["kpis"]["reps"]]),
        "## Customer segments (RFM)", "",
        *_table(["Segment", "Customers"], [[k, str(v)] for k, v in data["segments"].items()]),
        "## Value tiers and status", "",
        *_table(["Tier", "Customers"], [[k, str(v)] for k, v in data["tiers"].items()]),
        *_table(["Status", "Customers"], [[k, str(v)] for k, v in data["statuses"].items()]),
        "## Top customers", "",
        *_table(["#", "Customer", "Company", "Orders", "Sales"],
                [[str(i), r["name"], r["company"] or "", str(r["orders"]), money(r["sales"])]
                 for i, r in enumerate(data["top_customers"], 1)]),
        "## At-risk customers", "",
        *_table(["Customer", "Segment", "RFM", "Days since last order", "Sales in RFM window"],
                [[r["name"], r["segment"], r["rfm"], str(r["recency_days"]), money(r["monetary"])]
                 for r in data["at_risk"]]),
        "## Win-back queue", "",
        *_table(["Customer", "Tier", "Status", "Days since last order", "Historical value"],
                [[w["name"], w["tier"], w["status"], str(w["days_since_last_order"]), money(w["value"])]
                 for w in data["win_back"]]),
        "## Complaints", "",
        f"{c['complaints']} received, {c['open']} still open. Mean first response "
        f"{num(c['mean_first_response_hours'])} h, mean resolution {num(c['mean_resolution_hours'])} h.", "",
    ]
    # By category only when complaints name products of the catalogue.
    categories = [("By category", "by_category")] if any(r["key"] != UNKNOWN for r in c.get("by_category", [])) else []
    for title, key in (("By type", "by_type"), ("By cause", "by_cause"), ("By region", "by_region"),
                       ("By product", "by_product"), *categories):
        lines += [f"### {title}", ""]
        lines += _table([title.removeprefix("By ").capitalize(), "Complaints", "Share", "Cumulative", "Vital few"],
                        [[label(r["key"]), str(r["count"]), pct(r["share"]), pct(r["cumulative"]),
                          "yes" if r["vital"] else ""] for r in c[key]])
    lines += ["### SLA by priority", ""]
    lines += _table(["Priority", "Complaints", "Decided", "Breached", "Breach rate"],
                    [[p, str(s["complaints"]), str(s["decided"]), str(s["breached"]), pct(s["breach_rate"])]
                     for p, s in c["sla"].items()])
    fc = data["pipeline"]["forecast"]
    lines += ["## Sales pipeline", "", *_table(["Measure", "Value"], pipeline_figures(data)),
              "### Open pipeline by stage", "", *_table(PIPELINE_HEADER, pipeline_rows(data)),
              "### Forecast by month", "",
              *_table(["Month", "Won", "Weighted pipeline", "Forecast"],
                      [[m["month"], money(m["won"]), money(m["weighted_pipeline"]), money(m["forecast"])]
                       for m in fc["months"]]),
              "### Funnel", "", *_table(FUNNEL_HEADER, funnel_rows(data)),
              "### Attainment per rep", "", *_table(ATTAINMENT_HEADER, attainment_rows(data)),
              "### Opportunities won and lost", "", *_table(CLOSED_HEADER, closed_rows(data))]
    return "\n".join(lines).rstrip("\n") + "\n"
