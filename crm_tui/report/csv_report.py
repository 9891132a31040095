"""The report as CSV in long form (section, item, measure, value), one row per
figure, so a spreadsheet can pivot it. Numbers are plain (no thousands separators);
text (names, complaint causes ...) is neutralised as in every CSV the product writes.

In English the section, item and measure columns hold identifiers and stored codes
(`kpi,overall,churn_rate`, `complaint_type,product_quality,count`), which scripts can
rely on; in Chinese they read as the catalog names them (`指标,总体,流失率`,
`投诉类型,产品质量,数量`), for the manager who pivots it in a spreadsheet."""

from __future__ import annotations

import csv
import io
from typing import Any

from crm_tui.domain.import_mapping import csv_cell
from crm_tui.i18n import has, language, t
from crm_tui.report import fmt

# How the item column of a section reads in a language other than English: the codes
# the catalog names. Other items (ids, months, names, free text) stay as they are.
_ITEM_LABELS = {
    "segment": fmt.segment, "status": fmt.status, "tier": fmt.tier, "sla": fmt.priority,
    "pipeline_stage": fmt.stage, "funnel_stage": fmt.stage, "complaint_type": fmt.label,
    "category_sales": fmt.group_name,
}


def _name(kind: str, code: Any) -> str:
    key = f"report.csv.{kind}.{code}"
    return t(key) if has(key) else str(code)


def _item(section: str, item: Any) -> str:
    if language() == "en" or item is None:
        return "" if item is None else str(item)
    if section in _ITEM_LABELS:
        return _ITEM_LABELS[section](str(item))
    return _name("item", item)


def _v(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return csv_cell(value)


def render_csv(data: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, Any]] = [
        ("report", "period", "label", data["period"]), ("report", "period", "start", data["start"]),
        ("report", "period", "end", data["end"]), ("report", "period", "rep", data["rep"]),
        ("report", "period", "as_of", data["as_of"]),
        ("report", "period", "so_far", data["kpis"]["so_far"]), ("report", "period", "kpis_as_of", data["kpis"]["as_of"]),
        ("report", "period", "previous", data["kpis"]["previous"]),
    ]
    rows += [("kpi", "overall", k, v) for k, v in data["kpis"]["overall"].items()]
    rows += [("kpi", "loyalty", k, v) for k, v in data["loyalty"].items()]
    rows.append(("kpi", "overall", "core_customers", data["core_customers"]))
    for r in data["kpis"]["reps"]:
        rows += [("rep", r["rep"], k, v) for k, v in r.items() if k != "rep"]
    rows += [("sales_by_month", m["month"], "sales", m["sales"]) for m in data["monthly_sales"]]
    rows += [("segment", k, "customers", v) for k, v in data["segments"].items()]
    rows += [("tier", k, "customers", v) for k, v in data["tiers"].items()]
    rows += [("status", k, "customers", v) for k, v in data["statuses"].items()]
    for i, r in enumerate(data["top_customers"], 1):
        rows += [("top_customer", r["id"], "rank", i), ("top_customer", r["id"], "name", r["name"]),
                 ("top_customer", r["id"], "orders", r["orders"]), ("top_customer", r["id"], "sales", r["sales"])]
    for r in data["at_risk"]:
        r = {**r, "segment": _item("segment", r["segment"])}
        rows += [("at_risk", r["id"], k, r[k]) for k in ("name", "segment", "rfm", "recency_days", "monetary")]
    for w in data["win_back"]:
        w = {**w, "tier": _item("tier", w["tier"]), "status": _item("status", w["status"])}
        rows += [("win_back", w["id"], k, w[k]) for k in ("name", "tier", "status", "days_since_last_order", "value")]
    c = data["complaints"]
    rows += [("complaints", "all", k, c[k]) for k in ("complaints", "open", "mean_first_response_hours",
                                                       "mean_resolution_hours")]
    for key in ("by_type", "by_cause", "by_region", "by_product"):
        for r in c[key]:
            rows += [(f"complaint_{key[3:]}", r["key"], m, r[m]) for m in ("count", "share", "cumulative", "vital")]
    for p, s in c["sla"].items():
        rows += [("sla", p, k, v) for k, v in s.items()]
    products = data["products"]
    for r in products["by_product"]:
        r = {**r, "category": _item("category_sales", r["category"])}
        rows += [("product_sales", r["sku"] or r["product"], k, r[k])
                 for k in ("product", "category", "orders", "quantity", "gross", "returns", "sales", "share",
                           "returns_rate")]
    for r in products["by_category"]:
        rows += [("category_sales", r["category"], k, r[k])
                 for k in ("quantity", "gross", "returns", "sales", "share", "returns_rate")]
    for group in ("region", "rep"):
        for r in products[f"top_by_{group}"]:
            item = f"{_item('category_sales', r[group])} #{r['rank']}"
            rows += [(f"top_product_{group}", item, k, r[k]) for k in ("product", "quantity", "sales", "share")]
    rows += [("returns", "all", k, v) for k, v in products["returns"].items()]
    pipe = data["pipeline"]
    rows += [("pipeline", "open", k, pipe["open"][k]) for k in ("count", "amount", "weighted")]
    for st in pipe["open"]["stages"]:
        rows += [("pipeline_stage", st["stage"], k, st[k]) for k in ("count", "amount", "probability", "weighted")]
    fc = pipe["forecast"]
    rows += [("forecast", "period", k, fc[k]) for k in ("won", "weighted_pipeline", "forecast")]
    for m in fc["months"]:
        rows += [("forecast_month", m["month"], k, m[k]) for k in ("won", "weighted_pipeline", "forecast")]
    fn = pipe["funnel"]
    rows += [("funnel", "all", k, fn[k]) for k in ("deals", "won", "lost", "win_rate", "avg_deal_size",
                                                    "sales_cycle_days")]
    for st in fn["stages"]:
        rows += [("funnel_stage", st["stage"], k, st[k]) for k in ("reached", "conversion", "avg_days")]
    att = data["kpis"]["attainment"]
    rows += [("attainment", "team", k, att["team"][k]) for k in ("sales", "target", "attainment")]
    for r in att["reps"]:
        rows += [("attainment", r["rep"], k, r[k]) for k in ("sales", "target", "attainment")]
    for d in pipe["closed"]:
        outcome = {**d, "stage": _item("pipeline_stage", d["stage"])}  # a value here, read as the stage's name
        rows += [("closed_opportunity", d["id"], k, outcome[k]) for k in ("closed_on", "stage", "title", "amount",
                                                                           "owner", "lost_reason")]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([_name("header", h) for h in ("section", "item", "measure", "value")])
    writer.writerows((csv_cell(_name("section", a)), csv_cell(_item(a, b)), csv_cell(_name("measure", m)), _v(v))
                     for a, b, m, v in rows)
    return buf.getvalue()
