"""`crm complaints acknowledge|assign|respond|start|resolve|close|reopen`: the complaint
workflow from the command line. The API checks every transition; these commands
only name them."""


from collections.abc import Callable
from typing import Annotated

import typer

from crm_tui.api import Crm, Record
from crm_tui.cli.common import DbOpt, JsonOpt, console, open_crm, print_json
from crm_tui.domain.entities import COMPLAINT
from crm_tui.i18n import choice_label, t

IdArg = Annotated[str, typer.Argument()]


def _run(db: DbOpt, as_json: bool, step: Callable[[Crm], Record]) -> None:
    with open_crm(db) as crm:
        complaint = step(crm)
    if as_json:
        print_json(complaint)
    else:
        # the status as the lists and the screen name it (In progress, 处理中)
        status = choice_label(COMPLAINT, "status", complaint["status"])
        console.print(t("cli.say.complaint_now", id=complaint["id"], status=status),
                      highlight=False, soft_wrap=True)


def add_workflow_commands(sub: typer.Typer) -> None:
    @sub.command("acknowledge", epilog="crm complaints acknowledge 01JB2X")
    def acknowledge(complaint_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _run(db, as_json, lambda crm: crm.complaint_workflow.acknowledge(complaint_id))

    @sub.command("assign", epilog="crm complaints assign 01JB2X 李娜")
    def assign(complaint_id: IdArg, handler: Annotated[str, typer.Argument()],
               db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _run(db, as_json, lambda crm: crm.complaint_workflow.assign(complaint_id, handler))

    @sub.command("respond", epilog="crm complaints respond 01JB2X")
    def respond(complaint_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _run(db, as_json, lambda crm: crm.complaint_workflow.record_first_response(complaint_id))

    @sub.command("start", epilog="crm complaints start 01JB2X")
    def start(complaint_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _run(db, as_json, lambda crm: crm.complaint_workflow.start(complaint_id))

    @sub.command("resolve", epilog="crm complaints resolve 01JB2X --resolution \"已补发\" --root-cause \"物流外包延误\"")
    def resolve(complaint_id: IdArg,
                resolution: Annotated[str, typer.Option("--resolution")],
                root_cause: Annotated[str, typer.Option("--root-cause")],
                db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _run(db, as_json, lambda crm: crm.complaint_workflow.resolve(complaint_id, resolution, root_cause))

    @sub.command("close", epilog="crm complaints close 01JB2X")
    def close(complaint_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _run(db, as_json, lambda crm: crm.complaint_workflow.close(complaint_id))

    @sub.command("reopen", epilog="crm complaints reopen 01JB2X")
    def reopen(complaint_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        _run(db, as_json, lambda crm: crm.complaint_workflow.reopen(complaint_id))
