"""Number formats and texts shared by the report renderers, so md, html, csv and xlsx
agree. Every heading, measure and label comes from the catalog (report.*), in the
language of the run; stored codes (complaint types, priorities, statuses, stages,
segments) read as the catalog names them."""

from __future__ import annotations

from typing import Any

from crm_tui.domain.analytics.complaints import UNKNOWN
from crm_tui.i18n import count as i18n_count
from crm_tui.i18n import has, language, quantity, satisfaction, t
from crm_tui.i18n import money as i18n_money


def _none() -> str:
    return t("report.none")


def money(v: float | None) -> str:
    return _none() if v is None else i18n_money(v)


def count(v: int | None) -> str:
    """A count of customers, orders, visits or days: 1,234 (i18n.count)."""
    return _none() if v is None else i18n_count(v)


def pct(v: float | None) -> str:
    return _none() if v is None else f"{100 * v:.1f}%"


def num(v: float | None, digits: int = 1) -> str:
    return _none() if v is None else f"{v:.{digits}f}"


def _coded(prefix: str, code: Any) -> str:
    key = f"{prefix}.{code}"
    return t(key) if has(key) else str(code)


def label(key: str) -> str:
    """A complaint analysis key: a type code, or the free text of a cause or region."""
    if key == UNKNOWN:
        return t("report.unknown")
    return _coded("report.complaint_type", key) if has(f"report.complaint_type.{key}") else key.replace("_", " ")


def segment(name: str) -> str:
    """An RFM segment ("Can't Lose Them") by its catalog name."""
    return _coded("report.segment", name.lower().replace("'", "").replace(" ", "_"))


def status(code: str) -> str:
    return _coded("report.status", code)


def tier(code: str) -> str:
    return _coded("choice.tier", code)


def priority(code: str) -> str:
    return _coded("report.priority", code)


def stage(code: str, data: dict[str, Any] | None = None) -> str:
    """A pipeline stage's label: the catalog's for the default stages, else the label
    the config gives it in the run's language (`data["pipeline"]["stage_labels"]`)."""
    if has(f"report.stage.{code}") or data is None:
        return _coded("report.stage", code)
    labels = data.get("pipeline", {}).get("stage_labels", {}).get(code)
    if not labels:
        return code
    return labels.get(language()) or labels.get("en") or code


def yes(flag: Any) -> str:
    return t("report.yes") if flag else ""


def rep_name(rep: str | None) -> str:
    return rep or t("report.no_rep")


def period_name(kpis: dict[str, Any]) -> str:
    """The period of a KPI table or report: 2026-12, or '2026-12 so far' while it runs."""
    return t("kpi.so_far.period", period=kpis["period"]) if kpis.get("so_far") else kpis["period"]


def so_far_note(kpis: dict[str, Any]) -> str | None:
    """What the figures of a period not over yet are (Analytics.kpis), else None."""
    if not kpis.get("so_far"):
        return None
    return t("kpi.so_far.note", period=kpis["period"], as_of=kpis["as_of"], previous=kpis["previous_period"],
             compared=kpis["previous"], end=kpis["end"])


def pending(kpis: dict[str, Any], key: str) -> str | None:
    """When the overall KPI `key` is not known yet (retention and churn of a period not
    over), when it will be; else None."""
    if kpis.get("so_far") and key in ("retention_rate", "churn_rate") and kpis["overall"][key] is None:
        return t("kpi.so_far.known_after", end=kpis["end"])
    return None


def title(data: dict[str, Any]) -> str:
    return t("report.title", period=period_name(data["kpis"]))


def subtitle(data: dict[str, Any]) -> str:
    line = t("report.subtitle", start=data["start"], end=data["end"], rep=data["rep"] or t("report.all_reps"),
             as_of=data["as_of"])
    note = so_far_note(data["kpis"])
    return f"{line} · {note}" if note else line


def complaints_summary(c: dict[str, Any]) -> str:
    return t("report.complaints_summary", received=c["complaints"], open=c["open"],
             first=num(c["mean_first_response_hours"]), resolution=num(c["mean_resolution_hours"]))


def pareto_header(key: str) -> list[str]:
    """The header of a complaint Pareto table (by_type, by_cause ...)."""
    return [t(f"report.col.{key.removeprefix('by_')}"), t("report.col.complaints"), t("report.col.share"),
            t("report.col.cumulative"), t("report.col.vital_few")]


def pareto_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [[label(r["key"]), count(r["count"]), pct(r["share"]), pct(r["cumulative"]), yes(r["vital"])]
            for r in rows]


def sla_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("priority", "complaints", "decided", "breached", "breach_rate")]


def sla_rows(c: dict[str, Any]) -> list[list[str]]:
    return [[priority(p), count(s["complaints"]), count(s["decided"]), count(s["breached"]), pct(s["breach_rate"])]
            for p, s in c["sla"].items()]


def top_header() -> list[str]:
    return ["#", *(t(f"report.col.{k}") for k in ("customer", "company", "orders", "sales"))]


def top_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[str(i), r["name"], r["company"] or "", count(r["orders"]), money(r["sales"])]
            for i, r in enumerate(data["top_customers"], 1)]


def at_risk_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("customer", "segment", "rfm", "days_since_order", "rfm_sales")]


def at_risk_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[r["name"], segment(r["segment"]), r["rfm"], count(r["recency_days"]), money(r["monetary"])]
            for r in data["at_risk"]]


def win_back_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("customer", "tier", "status", "days_since_order", "historical_value")]


def win_back_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[w["name"], tier(w["tier"]), status(w["status"]), count(w["days_since_last_order"]), money(w["value"])]
            for w in data["win_back"]]


def key_figures(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, formatted value) of the headline KPIs, in report order."""
    o = data["kpis"]["overall"]
    loy = data["loyalty"]
    sat = _none() if o["satisfaction"] is None else t("report.satisfaction_value", c=satisfaction(o["satisfaction"]),
                                                        surveys=count(o["surveys"]))
    return [
        (t("report.kpi.customers"), count(o["customers"])),
        (t("report.kpi.new_customers"), count(o["new_customers"])),
        (t("report.kpi.growth_rate"), pct(o["growth_rate"])),
        (t("report.kpi.active_customers"), count(o["active_customers"])),
        (t("report.kpi.retention_rate"), pending(data["kpis"], "retention_rate") or pct(o["retention_rate"])),
        (t("report.kpi.churn_rate"), pending(data["kpis"], "churn_rate") or pct(o["churn_rate"])),
        (t("report.kpi.orders"), count(o["orders"])),
        (t("report.kpi.sales"), money(o["sales"])),
        (t("report.kpi.sales_previous", previous=data["kpis"]["previous"]), money(o["sales_previous"])),
        (t("report.kpi.sales_growth"), pct(o["sales_growth"])),
        (t("report.kpi.satisfaction"), sat),
        (t("report.kpi.complaints"), count(o["complaints"])),
        (t("report.kpi.complaint_rate"), num(o["complaint_rate"], 3)),
        (t("report.kpi.repeat_purchase_rate"), pct(loy["repeat_purchase_rate"])),
        (t("report.kpi.mean_interval_days"), num(loy["mean_interval_days"])),
        (t("report.kpi.core_customers"), count(data["core_customers"])),
    ]


def rep_row(r: dict[str, Any]) -> list[str]:
    return [rep_name(r["rep"]), count(r["visits"]), f"{count(r['follow_ups_done'])}/{count(r['follow_ups_due'])}",
            pct(r["follow_up_rate"]), count(r["orders"]), money(r["sales"]), count(r["complaints_handled"]),
            pct(r["sla_kept_rate"])]


def rep_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("rep", "visits", "follow_ups", "follow_up_rate", "orders", "sales",
                                           "complaints_handled", "sla_kept")]


# -- the pipeline section ------------------------------------------------------------------

def pipeline_figures(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, value) of the pipeline's headline figures."""
    p = data["pipeline"]
    fc, fn, att = p["forecast"], p["funnel"], data["kpis"]["attainment"]["team"]
    return [
        (t("report.pipe.open"), count(p["open"]["count"])),
        (t("report.pipe.open_amount", currency=p["open"]["currency"]), money(p["open"]["amount"])),
        (t("report.pipe.weighted"), money(p["open"]["weighted"])),
        (t("report.pipe.won"), money(fc["won"])),
        (t("report.pipe.forecast"), money(fc["forecast"])),
        (t("report.pipe.team_sales"), money(att["sales"])),
        (t("report.pipe.team_target"), money(att["target"])),
        (t("report.pipe.team_attainment"), pct(att["attainment"])),
        (t("report.pipe.win_rate"), pct(fn["win_rate"])),
        (t("report.pipe.avg_deal"), money(fn["avg_deal_size"])),
        (t("report.pipe.cycle_days"), num(fn["sales_cycle_days"])),
    ]


def pipeline_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("stage", "opportunities", "amount", "stage_probability", "weighted")]


def funnel_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("stage", "reached", "conversion", "avg_days_in_stage")]


def attainment_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("rep", "sales", "target", "attainment")]


def closed_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("closed", "outcome", "customer", "opportunity", "amount", "rep",
                                           "lost_reason")]


def forecast_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("month", "won", "weighted_pipeline", "forecast")]


def forecast_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[m["month"], money(m["won"]), money(m["weighted_pipeline"]), money(m["forecast"])]
            for m in data["pipeline"]["forecast"]["months"]]


def pipeline_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[stage(s["stage"], data), count(s["count"]), money(s["amount"]), f"{s['probability']}%", money(s["weighted"])]
            for s in data["pipeline"]["open"]["stages"]]


def funnel_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[stage(s["stage"], data), count(s["reached"]), pct(s["conversion"]), num(s["avg_days"])]
            for s in data["pipeline"]["funnel"]["stages"]]


def attainment_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[r["rep"], money(r["sales"]), money(r["target"]), pct(r["attainment"])]
            for r in data["kpis"]["attainment"]["reps"]]


def closed_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[d["closed_on"], stage(d["stage"], data), d["customer_name"], d["title"], money(d["amount"]), d["owner"],
             d["lost_reason"] or ""] for d in data["pipeline"]["closed"]]


# -- products (issue 13): sales by product and category, top products, returns ---------
# "top_products_*", not "top_*": top_header/top_rows are the top customers'.

def _qty(v: float) -> str:
    return quantity(v)


def group_name(value: str | None) -> str:
    """A group key of the products' figures: a region, rep or category, or none."""
    return t("report.unknown") if value in (None, UNKNOWN) else str(value)


def product_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("product", "sku", "category", "orders", "quantity", "sales", "share",
                                           "returns", "returns_rate")]


def product_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[r["product"], r["sku"] or "", group_name(r["category"]), count(r["orders"]), _qty(r["quantity"]),
             money(r["sales"]), pct(r["share"]), money(r["returns"]), pct(r["returns_rate"])]
            for r in data["products"]["by_product"]]


def category_header() -> list[str]:
    return [t(f"report.col.{k}") for k in ("category", "quantity", "sales", "share", "returns", "returns_rate")]


def category_rows(data: dict[str, Any]) -> list[list[str]]:
    return [[group_name(r["category"]), _qty(r["quantity"]), money(r["sales"]), pct(r["share"]),
             money(r["returns"]), pct(r["returns_rate"])] for r in data["products"]["by_category"]]


def top_products_header(group: str) -> list[str]:
    """The header of the top products per `group` ("region" or "rep")."""
    return [t(f"report.col.{group}"), "#", t("report.col.product"), t("report.col.quantity"),
            t("report.col.sales"), t(f"report.col.share_of_{group}")]


def top_products_rows(data: dict[str, Any], group: str) -> list[list[str]]:
    return [[group_name(r[group]), str(r["rank"]), r["product"], _qty(r["quantity"]), money(r["sales"]),
             pct(r["share"])] for r in data["products"][f"top_by_{group}"]]


def returns_figures(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(measure, value) of the returns: gross, refunds, net, rate, order counts."""
    r = data["products"]["returns"]
    return [(t("report.ret.gross_sales"), money(r["gross_sales"])), (t("report.ret.refunds"), money(r["refunds"])),
            (t("report.ret.net_sales"), money(r["net_sales"])), (t("report.ret.returns_rate"), pct(r["returns_rate"])),
            (t("report.ret.sale_orders"), count(r["sale_orders"])),
            (t("report.ret.refund_orders"), count(r["refund_orders"]))]
