"""`crm opportunities move|history|create-order`, `crm pipeline`, `crm forecast`,
`crm funnel` and `crm targets set|list`: the sales pipeline from the command line,
each one call into `crm.pipeline` (rules and checks live in the API)."""


from typing import Annotated

import typer

from crm_tui.api import Crm
from crm_tui.api.opportunities import Pipeline
from crm_tui.cli import app
from crm_tui.cli.analytics import (
    PeriodOpt,
    RepOpt,
    TodayOpt,
    _pct,
    print_attainment,
    print_totalled,
    today_clock,
)
from crm_tui.cli.common import (
    DbOpt,
    JsonOpt,
    UserError,
    cell_text,
    console,
    open_crm,
    print_json,
    print_table,
)
from crm_tui.i18n import money, t

IdArg = Annotated[str, typer.Argument(metavar="ID")]


def _pipeline(crm: Crm, today: str | None) -> Pipeline:
    """crm.pipeline, made to see `--today` as today (tests) when given."""
    clock = today_clock(today)
    if clock is not None:
        crm.now = clock  # the deals' rules see it too
    return crm.pipeline


def add_opportunity_commands(sub: typer.Typer) -> None:
    @sub.command("move", epilog="crm opportunities move 01JB2X --stage won --create-order")
    def move(opportunity_id: IdArg,
             stage: Annotated[str, typer.Option("--stage", "-s")],
             lost_reason: Annotated[str | None, typer.Option("--lost-reason", show_default=False)] = None,
             create_order: Annotated[bool, typer.Option("--create-order")] = False,
             db: DbOpt = None, as_json: JsonOpt = False, today: TodayOpt = None) -> None:
        with open_crm(db) as crm:
            deal, order = _pipeline(crm, today).move(opportunity_id, stage, lost_reason=lost_reason,
                                                     create_order=create_order)
        if as_json:
            print_json({"opportunity": deal, "order": order})
            return
        console.print(t("cli.say.opportunity_now", id=deal["id"], stage=cell_text("stage", deal["stage"])),
                      highlight=False, soft_wrap=True)
        if order:
            console.print(t("cli.say.order_created", id=order["id"], amount=money(order["amount"])),
                          highlight=False, soft_wrap=True)
        elif deal["stage"] == "won" and not deal.get("order_id"):
            console.print(t("cli.say.no_order_yet", id=deal["id"]), highlight=False, soft_wrap=True)

    @sub.command("create-order", epilog="crm opportunities create-order 01JB2X")
    def create_order_command(opportunity_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            deal, order = crm.pipeline.create_order(opportunity_id)
        if as_json:
            print_json({"opportunity": deal, "order": order})
        else:
            console.print(t("cli.say.order_created_for", id=order["id"], opportunity=deal["id"]),
                          highlight=False, soft_wrap=True)

    @sub.command("stale", epilog="crm opportunities stale --rep wang")
    def stale(rep: RepOpt = None, db: DbOpt = None, as_json: JsonOpt = False, today: TodayOpt = None) -> None:
        with open_crm(db) as crm:
            crm.check_rep(rep)
            rows = _pipeline(crm, today).stale(rep=rep)
        if as_json:
            print_json(rows)
        else:
            print_table(rows, ["id", "customer_name", "title", "stage", "close_date", "last_activity", "reason"],
                        title=t("cli.stale_title", n=len(rows)))

    @sub.command("history", epilog="crm opportunities history 01JB2X --json")
    def history(opportunity_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            moves = crm.pipeline.history(opportunity_id)
        if as_json:
            print_json(moves)
        else:
            print_table(moves, ["moved_at", "from_stage", "to_stage", "rep"], title=t("stage_moves.title", n=len(moves)))


@app.command("pipeline", epilog="crm pipeline --rep wang")
def pipeline_command(db: DbOpt = None, rep: RepOpt = None, as_json: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        crm.check_rep(rep)
        result = crm.pipeline.pipeline(rep=rep)
    if as_json:
        print_json(result)
        return
    print_totalled([{**s, "probability": f"{s['probability']}%"} for s in result["stages"]],
                   {k: result[k] for k in ("count", "amount", "weighted")},
                   ["stage", "count", "probability", "amount", "weighted"], {"amount", "weighted"},
                   title=t("cli.pipeline_title", currency=result["currency"]) + (t("cli.of_rep", rep=rep) if rep else ""))


@app.command("forecast", epilog="crm forecast --period 2026-Q4 --rep wang")
def forecast_command(period: PeriodOpt = None, db: DbOpt = None, rep: RepOpt = None, as_json: JsonOpt = False,
                     today: TodayOpt = None) -> None:
    with open_crm(db) as crm:
        crm.check_rep(rep)
        result = _pipeline(crm, today).forecast(period, rep=rep)
    if as_json:
        print_json(result)
        return
    amounts = ("won", "weighted_pipeline", "forecast")
    print_totalled(result["months"], {k: result[k] for k in amounts}, ["month", *amounts], set(amounts),
                   title=t("cli.forecast_title", period=result["period"], currency=result["currency"])
                   + (t("cli.of_rep", rep=rep) if rep else ""))
    if result.get("target"):
        console.print(t("cli.say.target_line", target=money(result["target"]), sales=money(result["sales"]),
                        attainment=_pct(result["attainment"]), forecast=_pct(result["forecast_attainment"])),
                      highlight=False)


@app.command("funnel", epilog="crm funnel --period 2026 --json")
def funnel_command(period: PeriodOpt = None, db: DbOpt = None, rep: RepOpt = None, as_json: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        crm.check_rep(rep)
        result = crm.pipeline.funnel(period, rep=rep)
    if as_json:
        print_json(result)
        return
    # days to one decimal, as the report and the sales cycle below show them (13.1, 11.6)
    print_table([{**s, "conversion": _pct(s["conversion"]),
                  "avg_days": "" if s["avg_days"] is None else f"{s['avg_days']:.1f}"} for s in result["stages"]],
                ["stage", "reached", "conversion", "avg_days"],
                title=t("cli.funnel_title", period=result["period"], n=result["deals"]))
    size, cycle = result["avg_deal_size"], result["sales_cycle_days"]
    console.print(t("cli.funnel_line", won=result["won"], lost=result["lost"], rate=_pct(result["win_rate"]),
                    deal=money(size), cycle="" if cycle is None else f"{cycle:.1f}"),
                  highlight=False)


targets_app = typer.Typer(no_args_is_help=True)
app.add_typer(targets_app, name="targets")


@targets_app.command("set", epilog="crm targets set --rep wang --period 2026-Q4 --amount 500000")
def targets_set(
    period: Annotated[str, typer.Option("--period", "-p")],  # a target is for a period named
    amount: Annotated[str, typer.Option("--amount")],
    rep: Annotated[str | None, typer.Option("--rep")] = None,
    team: Annotated[bool, typer.Option("--team")] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    if team == bool(rep):
        raise UserError(t("cli.say.rep_or_team"))
    with open_crm(db) as crm:
        record = crm.pipeline.set_target(period, amount, rep=rep)
    if as_json:
        print_json(record)
    else:
        console.print(t("cli.say.target_set", rep=record["rep"] or t("cli.team"), period=record["period"],
                        amount=money(record["amount"])), highlight=False)


@targets_app.command("list", epilog="crm targets list --period 2026-Q4")
def targets_list(
    period: Annotated[str | None, typer.Option("--period", "-p")] = None,
    rep: RepOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        crm.check_rep(rep)
        rows = crm.pipeline.targets(period=period, rep=rep)
        for row in rows:
            att = crm.pipeline.attainment(row["period"], rep=row["rep"])
            scope = att["team"] if row["rep"] is None else att["reps"][0]
            row["sales"], row["attainment"] = scope["sales"], scope["attainment"]
    if as_json:
        print_json(rows)
        return
    print_attainment(rows, ["period", "rep", "amount", "sales", "attainment"], title=t("cli.targets_title", n=len(rows)))
