"""Number formats shared by the report renderers, so md, html and csv agree."""

from __future__ import annotations

from typing import Any

NONE = "n/a"

COMPLAINT_LABELS = {"product_quality": "product quality", "service_attitude": "service attitude"}


def money(v: float | None) -> str:
    return NONE if v is None else f"{v:,.2f}"


def pct(v: float | None) -> str:
    return NONE if v is None else f"{100 * v:.1f}%"


def num(v: float | None, digits: int = 1) -> str:
    return NONE if v is None else f"{v:.{digits}f}"


def label(key: str) -> str:
    return COMPLAINT_LABELS.get(key, key.replace("_", " "))


def key_figures(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, formatted value) of the headline KPIs, in report order."""
    o = data["kpis"]["overall"]
    loy = data["loyalty"]
    sat = NONE if o["satisfaction"] is None else f"{o['satisfaction']:.3f} ({o['surveys']} surveys)"
    return [
        ("Customers at period end", str(o["customers"])),
        ("New customers", str(o["new_customers"])),
        ("Customer growth rate", pct(o["growth_rate"])),
        ("Active customers (ordered)", str(o["active_customers"])),
        ("Retention rate", pct(o["retention_rate"])),
        ("Churn rate", pct(o["churn_rate"])),
        ("Orders", str(o["orders"])),
        ("Sales", money(o["sales"])),
        (f"Sales previous period ({data['kpis']['previous']})", money(o["sales_previous"])),
        ("Sales growth", pct(o["sales_growth"])),
        ("Satisfaction C = b / a", sat),
        ("Complaints received", str(o["complaints"])),
        ("Complaints per active customer", num(o["complaint_rate"], 3)),
        ("Repeat-purchase rate", pct(loy["repeat_purchase_rate"])),
        ("Mean days between purchases", num(loy["mean_interval_days"])),
        ("Core customers (tier A)", str(data["core_customers"])),
    ]


def rep_row(r: dict[str, Any]) -> list[str]:
    return [r["rep"] or "(none)", str(r["visits"]), f"{r['follow_ups_done']}/{r['follow_ups_due']}",
            pct(r["follow_up_rate"]), str(r["orders"]), money(r["sales"]), str(r["complaints_handled"]),
            pct(r["sla_kept_rate"])]


REP_HEADER = ["Rep", "Visits", "Follow-ups done/due", "Follow-up rate", "Orders", "Sales",
              "Complaints handled", "SLA kept"]


# -- the pipeline section ------------------------------------------------------------------

def pipeline_figures(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, value) of the pipeline's headline figures."""
    p = data["pipeline"]
    fc, fn, att = p["forecast"], p["funnel"], data["kpis"]["attainment"]["team"]
    return [
        ("Open opportunities", str(p["open"]["count"])),
        (f"Open pipeline ({p['open']['currency']})", money(p["open"]["amount"])),
        ("Weighted open pipeline", money(p["open"]["weighted"])),
        ("Won in the period", money(fc["won"])),
        ("Forecast (won + weighted, closing in the period)", money(fc["forecast"])),
        ("Team sales (orders + won without order)", money(att["sales"])),
        ("Team target", money(att["target"])),
        ("Team attainment", pct(att["attainment"])),
        ("Win rate (opportunities created in the period)", pct(fn["win_rate"])),
        ("Average won deal", money(fn["avg_deal_size"])),
        ("Sales cycle (days)", num(fn["sales_cycle_days"])),
    ]


PIPELINE_HEADER = ["Stage", "Opportunities", "Amount", "Stage default probability", "Weighted"]
FUNNEL_HEADER = ["Stage", "Reached", "Conversion to next", "Average days in stage"]
ATTAINMENT_HEADER = ["Rep", "Sales", "Target", "Attainment"]
CLOSED_HEADER = ["Closed", "Outcome", "Customer", "Opportunity", "Amount", "Rep", "Lost reason"]


def pipeline_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[s["stage"], str(s["count"]), money(s["amount"]), f"{s['probability']}%", money(s["weighted"])]
            for s in data["pipeline"]["open"]["stages"]]


def funnel_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[s["stage"], str(s["reached"]), pct(s["conversion"]), num(s["avg_days"])]
            for s in data["pipeline"]["funnel"]["stages"]]


def attainment_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[r["rep"], money(r["sales"]), money(r["target"]), pct(r["attainment"])]
            for r in data["kpis"]["attainment"]["reps"]]


def closed_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[d["closed_on"], d["stage"], d["customer_name"], d["title"], money(d["amount"]), d["owner"],
             d["lost_reason"] or ""] for d in data["pipeline"]["closed"]]
