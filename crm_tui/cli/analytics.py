"""`crm classify`, `crm rfm`, `crm kpi`, `crm report`, `crm greetings`, `crm winback`,
`crm cadence`, `crm complaint-stats` and `crm surveys`: customer intelligence from the
command line, each one call into `crm.analytics`."""


import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from crm_tui.api.names import with_customer_names
from crm_tui.cli import app
from crm_tui.cli.common import (
    DbOpt,
    JsonOpt,
    UserError,
    cell_text,
    column_title,
    console,
    open_crm,
    print_added,
    print_json,
    print_record,
    print_table,
)
from crm_tui.i18n import count, money, satisfaction, t

if TYPE_CHECKING:  # the analytics and the reports load with the command that runs them
    from crm_tui.api import Crm
    from crm_tui.api.analytics import Analytics

TodayOpt = Annotated[str | None, typer.Option("--today", hidden=True)]
RepOpt = Annotated[str | None, typer.Option("--rep")]
# The period of a report: none given, the current month (domain/analytics/period.period_or_month).
PeriodOpt = Annotated[str | None, typer.Option("--period", "-p", show_default=False)]


def today_clock(today: str | None) -> Callable[[], dt.datetime] | None:
    """The clock `--today` asks for (noon of that day), or None without it."""
    if not today:
        return None
    try:
        day = dt.date.fromisoformat(today)
    except ValueError:
        raise UserError(t("cli.say.bad_today", value=repr(today))) from None
    return lambda: dt.datetime.combine(day, dt.time(12, 0))


def analytics(crm: "Crm", today: str | None, rep: str | None = None) -> "Analytics":
    """The analytics on the clock --today asks for; a --rep no record names is refused."""
    from crm_tui.api.analytics import Analytics

    clock = today_clock(today)
    an = crm.analytics if clock is None else Analytics(crm, now=clock)
    crm.check_rep(rep)
    return an


def _pct(v: float | None) -> str:
    """A share as the report writes it: 12.5%, or n/a (无) with nothing to divide by."""
    from crm_tui.report.fmt import pct

    return pct(v)


def _hours(v: float | None) -> str:
    return t("report.none") if v is None else t("cli.say.hours", n=f"{v:.1f}")


def print_totalled(rows: list[dict[str, Any]], total: dict[str, Any], columns: list[str], amounts: set[str],
                   *, title: str) -> None:
    """A table of amounts per line (the `amounts` columns as money) closed by a total
    row named in the run's language: the pipeline's stages, the forecast's months."""
    lines = [*rows, {columns[0]: t("cli.total"), **total}]
    print_table([{k: money(v) if k in amounts else v for k, v in r.items()} for r in lines], columns, title=title)


def print_attainment(rows: list[dict[str, Any]], columns: list[str], *, title: str) -> None:
    """Sales against targets, the team's row (rep none) named in the run's language:
    `crm kpi` and `crm targets list`."""
    print_table([{**{k: money(v) if k in _ATTAINMENT_AMOUNTS else v for k, v in r.items()},
                  "rep": r["rep"] or t("cli.team"), "attainment": _pct(r["attainment"])} for r in rows],
                columns, title=title)


_ATTAINMENT_AMOUNTS = {"amount", "sales", "target"}
_REP_COUNTS = ("visits", "follow_ups_due", "follow_ups_done", "orders", "complaints_handled")


def _kpi_value(key: str, value: Any) -> str:
    """A headline KPI as the report writes it: a share as a percent, sales as money,
    a count thousands separated (1,234), another figure to three decimals."""
    if key.endswith(("rate", "growth")) and key != "complaint_rate":
        return _pct(value)
    if value is None:  # nothing to divide by, no survey: as the report says it
        return t("report.none")
    if key in ("sales", "sales_previous"):
        return money(value)
    return str(round(value, 3)) if isinstance(value, float) else count(value)


# -- classification -----------------------------------------------------------------

classify_app = typer.Typer(epilog="crm classify --dry-run",
                           invoke_without_command=True)
app.add_typer(classify_app, name="classify")


@classify_app.callback()
def classify_command(
    ctx: typer.Context,
    db: DbOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    # every customer's classification computed, what changed stored (overrides win)
    if ctx.invoked_subcommand is not None:
        return
    with open_crm(db) as crm:
        classes, changed = analytics(crm, today).reclassify(dry_run=dry_run)
    if as_json:
        print_json([c.as_dict() for c in classes])
        return
    counts: dict[str, int] = {}
    for c in classes:
        for key in (t("cli.class_status", status=cell_text("status", c.status)),
                    t("cli.class_stage", stage=t(f"choice.lifecycle_stage.{c.lifecycle_stage}")),
                    t("cli.class_tier", tier=c.tier)):
            counts[key] = counts.get(key, 0) + 1
    print_table([{"class": k, "customers": v} for k, v in sorted(counts.items())], ["class", "customers"],
                title=t("cli.classify_title", n=len(classes), core=sum(c.core for c in classes)))
    console.print(t("cli.would_change" if dry_run else "cli.changed", n=changed), highlight=False)


@classify_app.command("override", epilog="crm classify override 01JB2X --tier A --reason \"战略客户\"")
def override_command(
    customer: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason")],
    status: Annotated[str | None, typer.Option("--status")] = None,
    stage: Annotated[str | None, typer.Option("--stage")] = None,
    tier: Annotated[str | None, typer.Option("--tier")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        record = crm.analytics.set_override(customer, reason=reason, status=status, lifecycle_stage=stage,
                                            tier=tier)
    print_json(record) if as_json else print_record(record)


@classify_app.command("clear", epilog="crm classify clear 01JB2X")
def clear_override_command(
    customer: Annotated[str, typer.Argument()],
    db: DbOpt = None,
) -> None:
    with open_crm(db) as crm:
        crm.analytics.clear_override(customer)
    console.print(t("cli.say.override_cleared"), highlight=False)


# -- RFM ----------------------------------------------------------------------------


@app.command("rfm", epilog="crm rfm --segment Champions --json")
def rfm_command(
    db: DbOpt = None,
    explain: Annotated[str | None, typer.Option("--explain")] = None,
    segment: Annotated[str | None, typer.Option("--segment")] = None,
    rep: RepOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    from crm_tui.domain.analytics.rfm import SEGMENTS

    if segment and segment not in SEGMENTS:
        # the ids are what --segment takes; their names in the user's language beside them
        named = [s if cell_text("segment", s) == s else f"{s} ({cell_text('segment', s)})" for s in SEGMENTS]
        raise UserError(t("cli.say.bad_segment", value=repr(segment), segments=", ".join(named)))
    with open_crm(db) as crm:
        an = analytics(crm, today, rep)
        if explain:
            result = an.explain_rfm(explain)
            if as_json:
                print_json(result)
                return
            console.print(t("cli.say.rfm_head", name=escape(result["name"]), rfm=result["rfm"],
                            score=result["score"], segment=cell_text("segment", result["segment"])))
            for p in result["parts"]:
                # the measure and its unit in the user's language (--json keeps the API's words)
                console.print(t("cli.say.rfm_part", measure=t(f"cli.say.rfm_{p['measure']}"),
                                value=money(p["value"]) if p["measure"] == "monetary" else p["value"],
                                unit=t(f"cli.say.rfm_{p['measure']}_unit", days=result["window_days"]),
                                worse=p["worse_customers"], population=p["population"],
                                formula=p["formula"]), highlight=False, soft_wrap=True, markup=False)
            console.print(t("cli.say.rfm_combined", formula=result["combined_formula"]), highlight=False,
                          soft_wrap=True, markup=False)
            console.print(t("cli.say.rfm_rule", order=", ".join(cell_text("segment", s) for s in result["segment_order"]),
                            rule=result["segment_rule"]), highlight=False, soft_wrap=True, markup=False)
            return
        scores = [s.as_dict() for s in an.rfm_scores(rep=rep).scores if segment in (None, s.segment)]
    if as_json:
        print_json(scores)
    else:
        print_table(sorted(scores, key=lambda s: -s["score"]),
                    ["name", "recency_days", "frequency", "monetary", "rfm", "score", "segment"],
                    title=t("cli.rfm_title", n=len(scores)))


@app.command("value", epilog="crm value 01JB2X")
def value_command(
    customer: Annotated[str, typer.Argument()],
    db: DbOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    with open_crm(db) as crm:
        result = analytics(crm, today).customer_value(customer)
        name = crm.customers.get(result["id"])["name"]
    if as_json:
        print_json(result)
        return
    # each figure named in the user's language, as money, as every screen writes it
    print_record({t("value.customer"): name, "id": result["id"],
                  **{t(f"value.{k}"): money(result[k]) for k in ("historical", "annual", "future", "clv")}})


# -- KPIs and reports ----------------------------------------------------------------


@app.command("kpi", epilog="crm kpi --period 2026-Q3 --rep wangfang")
def kpi_command(period: PeriodOpt = None, db: DbOpt = None, rep: RepOpt = None, as_json: JsonOpt = False,
                today: TodayOpt = None) -> None:
    with open_crm(db) as crm:
        result = analytics(crm, today, rep).kpis(period, rep=rep)
    if as_json:
        print_json(result)
        return
    from crm_tui.report.fmt import pending, period_name, so_far_note

    o = result["overall"]
    print_table([{"measure": column_title(k), "value": pending(result, k) or _kpi_value(k, v)} for k, v in o.items()],
                ["measure", "value"], title=t("cli.kpi_title", period=period_name(result), previous=result["previous"]))
    note = so_far_note(result)
    if note:
        console.print(escape(note), highlight=False)
    print_table([{**r, **{k: count(r[k]) for k in _REP_COUNTS}, "follow_up_rate": _pct(r["follow_up_rate"]),
                  "sla_kept_rate": _pct(r["sla_kept_rate"])} for r in result["reps"]],
                ["rep", "visits", "follow_ups_due", "follow_ups_done", "follow_up_rate", "orders", "sales",
                 "complaints_handled", "sla_kept_rate"], title=t("cli.per_rep"))
    att = result["attainment"]
    print_attainment([{"rep": "", **att["team"]}, *att["reps"]], ["rep", "sales", "target", "attainment"],
                     title=t("cli.attainment_title"))


@app.command("report", epilog="crm report --period 2026-Q3 --format html -o q3.html")
def report_command(
    period: PeriodOpt = None,
    db: DbOpt = None,
    rep: RepOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    today: TodayOpt = None,
    mask: Annotated[bool, typer.Option("--mask")] = False,
) -> None:
    from crm_tui.domain.privacy import mask_report
    from crm_tui.report import BINARY_FORMATS, FORMATS, render

    if fmt not in FORMATS:
        raise UserError(t("cli.bad_format", fmt=repr(fmt), formats=", ".join(FORMATS)))
    if fmt in BINARY_FORMATS and output is None and sys.stdout.isatty():
        raise UserError(t("cli.binary_needs_output", fmt=fmt))
    from crm_tui.api.output import output_file

    with open_crm(db) as crm:
        data = analytics(crm, today, rep).report_data(period, rep=rep)
        text = render(mask_report(data) if mask else data, fmt)
        database = crm.path
    if output is None:
        if isinstance(text, bytes):
            sys.stdout.buffer.write(text)
        else:
            typer.echo(text, nl=False)
    else:
        with output_file(output, database=database, binary=isinstance(text, bytes)) as fh:
            fh.write(text)
        console.print(t("cli.report_written", path=output), highlight=False)


@app.command("complaint-stats", epilog="crm complaint-stats --period 2026-11")
def complaint_stats_command(
    period: PeriodOpt = None,
    db: DbOpt = None,
    rep: RepOpt = None,
    region: Annotated[str | None, typer.Option("--region")] = None,
    product: Annotated[str | None, typer.Option("--product")] = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    from crm_tui.domain.analytics.complaints import UNKNOWN

    with open_crm(db) as crm:
        result = analytics(crm, today, rep).complaint_analytics(period, rep=rep, region=region, product=product)
    if as_json:
        print_json(result)
        return
    for key in ("by_type", "by_cause", "by_product", "by_category"):
        print_table([{**r, "key": t("report.unknown") if r["key"] == UNKNOWN else r["key"], "share": _pct(r["share"]), "cumulative": _pct(r["cumulative"]),
                      "vital": t("cli.say.yes") if r["vital"] else ""} for r in result[key]],
                    ["key", "count", "share", "cumulative", "vital"], title=t(f"cli.say.pareto_{key}"),
                    codes={"key": "choice.type"} if key == "by_type" else None)  # types are codes; the rest, text
    print_table([{"priority": p, **s, "breach_rate": _pct(s["breach_rate"])} for p, s in result["sla"].items()],
                ["priority", "complaints", "decided", "breached", "breach_rate"], title="SLA")
    fr, rs = result["mean_first_response_hours"], result["mean_resolution_hours"]
    console.print(t("cli.say.mean_times", first_response=_hours(fr), resolution=_hours(rs)), highlight=False)


@app.command("product-stats", epilog="crm product-stats --period 2026-Q3 --top 3 --json")
def product_stats_command(
    period: PeriodOpt = None,
    db: DbOpt = None,
    rep: RepOpt = None,
    top: Annotated[int, typer.Option("--top", min=1, max=100)] = 5,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    with open_crm(db) as crm:
        result = analytics(crm, today, rep).product_sales(period, rep=rep, top=top)
    if as_json:
        print_json(result)
        return

    def shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from crm_tui.report.fmt import group_name

        return [{**r, "share": _pct(r.get("share")), "returns_rate": _pct(r.get("returns_rate")),
                 **{k: group_name(r[k]) for k in ("category", "region", "rep") if k in r}} for r in rows]

    print_table(shown(result["by_product"]), ["product", "sku", "category", "orders", "quantity", "sales", "share",
                                              "returns", "returns_rate"], title=t("report.h.sales_by_product"))
    print_table(shown(result["by_category"]), ["category", "quantity", "sales", "share", "returns",
                                               "returns_rate"], title=t("report.h.sales_by_category"))
    for group in ("region", "rep"):
        print_table(shown(result[f"top_by_{group}"]), [group, "rank", "product", "quantity", "sales", "share"],
                    title=t(f"report.h.top_products_{group}"))
    r = result["returns"]
    console.print(t("product_stats.summary", gross=money(r["gross_sales"]), refunds=money(r["refunds"]),
                    net=money(r["net_sales"]), rate=_pct(r["returns_rate"])), highlight=False)


# -- reminders ----------------------------------------------------------------------


@app.command("greetings", epilog="crm greetings --holiday \"Spring Festival\" --mark-sent")
def greetings_command(
    db: DbOpt = None,
    holiday: Annotated[str | None, typer.Option("--holiday")] = None,
    mark_sent: Annotated[bool, typer.Option("--mark-sent")] = False,
    channel: Annotated[str, typer.Option("--channel")] = "wechat",
    rep: RepOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    with open_crm(db) as crm:
        an = analytics(crm, today, rep)
        items = an.greetings(holiday=holiday, rep=rep)
        logged = an.mark_greetings_sent(items, channel=channel) if mark_sent and items else []
    if as_json:
        print_json({"greetings": [g.as_dict() for g in items], "logged": len(logged)})
        return
    from crm_tui.domain.analytics.reminders import occasion_label

    print_table([{**g.as_dict(), "occasion": occasion_label(g.occasion)} for g in items],
                ["date", "occasion", "name", "purpose"], title=t("cli.say.greetings_due", n=len(items)))
    if mark_sent:
        console.print(t("cli.say.greetings_logged", n=len(logged)), highlight=False)


@app.command("winback", epilog="crm winback --rep wangfang --json")
def winback_command(db: DbOpt = None, rep: RepOpt = None, as_json: JsonOpt = False, today: TodayOpt = None) -> None:
    with open_crm(db) as crm:
        items = [w.as_dict() for w in analytics(crm, today, rep).win_back_queue(rep=rep)]
    if as_json:
        print_json(items)
    else:
        print_table([{**i, "value": money(i["value"])} for i in items],
                    # the reason (churned, or so many days without an order) is the status and the days
                    ["name", "tier", "status", "days_since_last_order", "value"],
                    title=t("cli.say.winback_title", n=len(items)))


@app.command("cadence", epilog="crm cadence --state overdue")
def cadence_command(
    db: DbOpt = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    rep: RepOpt = None,
    as_json: JsonOpt = False,
    today: TodayOpt = None,
) -> None:
    if state not in (None, "ok", "due", "overdue"):
        raise UserError(t("cli.say.bad_state", value=repr(state)))
    with open_crm(db) as crm:
        items = [i.as_dict() for i in analytics(crm, today, rep).contact_cadence(rep=rep, state=state)]
    if as_json:
        print_json(items)
        return
    colour = {"ok": "green", "due": "yellow", "overdue": "red"}
    rows = [{**i, "state": f"[{colour[i['state']]}]{t('cadence.state.' + i['state'])}[/]"} for i in items]
    print_table(rows, ["name", "tier", "days_since_contact", "ideal", "maximum", "state"],
                title=t("cadence.title", n=len(items)), markup=("state",))


# -- surveys ------------------------------------------------------------------------

surveys_app = typer.Typer(no_args_is_help=True)
app.add_typer(surveys_app, name="surveys")


@surveys_app.command("add", epilog="crm surveys add 01JB2X --expected 8 --perceived 9")
def survey_add(
    customer: Annotated[str, typer.Argument()],
    expected: Annotated[float, typer.Option("--expected", "-a")],
    perceived: Annotated[float, typer.Option("--perceived", "-b")],
    date: Annotated[str | None, typer.Option("--date")] = None,
    complaint: Annotated[str | None, typer.Option("--complaint")] = None,
    notes: Annotated[str | None, typer.Option("--notes")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        cid = crm.customers.get(customer)["id"]
        record = crm.analytics.add_survey({"customer_id": cid, "expected": expected, "perceived": perceived,
                                           "surveyed_at": date, "complaint_id": complaint, "notes": notes})

    def show(as_json: bool) -> None:
        if as_json:
            print_json(record)
            return
        # the verdict named as the survey list names it (满意 / satisfied), C as every C is written
        print_record({**record, "c": satisfaction(record["c"]),
                      "verdict": cell_text("verdict", record["verdict"], {"verdict": "survey.verdict"})}, "surveys")

    print_added("surveys", record, as_json, show)


@surveys_app.command("list", epilog="crm surveys list --json")
def survey_list(
    customer: Annotated[str | None, typer.Option("--customer")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        rows = crm.analytics.list_surveys(customer)
        summary = crm.analytics.satisfaction(customer)
        if not as_json:
            with_customer_names(crm, rows)
    if as_json:
        print_json({"surveys": rows, "overall": summary["overall"], "count": summary["count"]})
        return
    print_table(rows, ["surveyed_at", "customer_name", "c", "verdict", "expected", "perceived", "customer_id"],
                title=t("cli.say.surveys_title", n=len(rows)), codes={"verdict": "survey.verdict"})
    if summary["overall"] is not None:
        console.print(t("cli.say.overall_satisfaction", c=satisfaction(summary["overall"])), highlight=False)
