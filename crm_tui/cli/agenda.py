"""`crm agenda` and `crm visits done|reschedule`: the follow-up agenda from the command
line, what the Agenda screen (F3) shows and does, for a rep's morning script. Each
command is one call into `crm.agenda`."""


from typing import Annotated

import typer

from crm_tui.api import Record
from crm_tui.cli import app
from crm_tui.cli.common import DbOpt, JsonOpt, console, open_crm, print_json, print_table
from crm_tui.domain.agenda import DEFAULT_HORIZON_DAYS, section_counts
from crm_tui.i18n import t

# How each kind of row is marked, as the Agenda screen colours them.
_COLOURS = {"overdue": "red", "today": "yellow", "stale": "yellow"}


@app.command("agenda", epilog="crm agenda --days 7")
def agenda_command(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    days: Annotated[int, typer.Option("--days", min=0, max=366)] = DEFAULT_HORIZON_DAYS,
    customer: Annotated[str | None, typer.Option("--customer", show_default=False)] = None,
) -> None:
    with open_crm(db) as crm:
        rows = crm.agenda.items(days, crm.customers.get(customer)["id"] if customer else None)
    if as_json:
        print_json(rows)
        return
    # The day coloured as the Agenda screen colours its row; who and what in one column
    # (王芳: 寄送样品), so that an 80-column terminal shows the id to act on, the day and the
    # follow-up; which section a row is in comes last.
    shown = [{**r, "due": f"[{_COLOURS[r['bucket']]}]{r['next_action_date']}[/]" if r["bucket"] in _COLOURS
              else r["next_action_date"],
              "follow_up": f"{r['customer_name']}{t('sep.label')}{r['next_action'] or ''}",
              "when": t("agenda." + r["bucket"])} for r in rows]
    counts = section_counts(rows)
    print_table(shown, ["id", "due", "follow_up", "when"], markup=("due",),
                title=t("agenda.cli.title", overdue=counts["overdue"], today=counts["today"],
                        upcoming=counts["upcoming"], stale=counts["stale"]),
                caption=None if rows else t("agenda.empty"), table="visits")


def add_follow_up_commands(sub: typer.Typer) -> None:
    """`crm visits done|reschedule`: a visit's follow-up (its next action) marked done
    or moved, as the Agenda screen's d and n keys do."""

    @sub.command("done", epilog="crm visits done 01JB2X")
    def done(visit_id: Annotated[str, typer.Argument(metavar="ID")], db: DbOpt = None,
             as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            visit = crm.agenda.mark_done(visit_id)
        _said(visit, as_json, "agenda.cli.done")

    @sub.command("reschedule", epilog="crm visits reschedule 01JB2X --date 2026-12-10 --action \"送样品\"")
    def reschedule(visit_id: Annotated[str, typer.Argument(metavar="ID")],
                   date: Annotated[str, typer.Option("--date")],
                   action: Annotated[str | None, typer.Option("--action", show_default=False)] = None,
                   db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            visit = crm.agenda.schedule_next(visit_id, date, action)
        _said(visit, as_json, "agenda.cli.rescheduled")


def _said(visit: Record, as_json: bool, key: str) -> None:
    if as_json:
        print_json(visit)
    else:
        console.print(t(key, id=visit["id"], date=visit.get("next_action_date") or "",
                        action=visit.get("next_action") or ""), highlight=False, soft_wrap=True, markup=False)
