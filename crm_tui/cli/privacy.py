"""`crm customers export-person|erase` and `crm erase-requests list|approve|decline`:
a person's rights over their data from the command line (docs/privacy.md)."""


import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from crm_tui.api.privacy import EraseResult
from crm_tui.cli import app
from crm_tui.cli.common import (
    DbOpt,
    JsonOpt,
    confirm,
    console,
    counts_text,
    err_console,
    open_crm,
    print_json,
    print_table,
)
from crm_tui.i18n import entity_label, t

IdArg = Annotated[str, typer.Argument(metavar="ID")]


def _what_goes(preview: dict[str, Any]) -> str:
    parts = {table: n for table, n in preview["records"].items() if table != "orders"}
    text = t("privacy.cli.goes_customer", name=preview["name"])
    if parts:
        text += t("privacy.cli.goes_records", parts=counts_text(parts))
    text += t("privacy.cli.goes_log", n=preview["change_log"])
    orders = preview["records"].get("orders")
    if orders:
        text += t("privacy.cli.goes_orders", n=orders)
    return text


def _print_erase(result: EraseResult, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    if result.erased:
        console.print(t("privacy.cli.erased", id=f"[bold]{escape(result.customer_id)}[/bold]"),
                      highlight=False, soft_wrap=True)
        if not result.purged:
            err_console.print(f"[yellow]{t('cli.warning')}{t('sep.label')}[/yellow]{t('privacy.cli.not_purged')}", highlight=False)
        return
    request = result.request or {}
    console.print(t("privacy.cli.requested", id=f"[bold]{escape(str(request.get('id')))}[/bold]", status=request.get("status")),
                  highlight=False, soft_wrap=True)


def add_privacy_commands(sub: typer.Typer) -> None:
    @sub.command("export-person", epilog="crm customers export-person 01JB2X -o 张伟.json")
    def export_person(
        customer_id: IdArg,
        db: DbOpt = None,
        output: Annotated[Path | None, typer.Option("--output", "-o", show_default=False)] = None,
    ) -> None:
        from crm_tui.api.output import output_file

        with open_crm(db) as crm:
            doc = crm.privacy.export_person(customer_id)
            database = crm.path
        text = json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n"
        if output is None:
            typer.echo(text, nl=False)
        else:
            # only its owner may read it: it holds a person's data
            with output_file(output, database=database, private=True) as fh:
                fh.write(text)
            err_console.print(t("privacy.cli.exported", id=doc["customer"]["id"], file=output), highlight=False)

    @sub.command("erase", epilog="crm customers erase 01JB2X --reason \"客户要求\"")
    def erase(
        customer_id: IdArg,
        db: DbOpt = None,
        as_json: JsonOpt = False,
        yes: Annotated[bool, typer.Option("--yes", "-y")] = False,
        reason: Annotated[str | None, typer.Option("--reason", show_default=False)] = None,
    ) -> None:
        with open_crm(db) as crm:
            preview = crm.privacy.preview(customer_id)
            if not yes:
                key = "privacy.cli.ask_request" if preview["request"] else "privacy.cli.ask_erase"
                if not confirm(t(key, id=preview["customer_id"], what=_what_goes(preview))):
                    raise typer.Exit(1)
            result = crm.privacy.erase(preview["customer_id"], reason=reason)
        _print_erase(result, as_json)


requests_app = typer.Typer(no_args_is_help=True)
app.add_typer(requests_app, name="erase-requests")


@requests_app.command("list", epilog="crm erase-requests list --status pending")
def list_requests(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    status: Annotated[str | None, typer.Option("--status", show_default=False)] = None,
) -> None:
    with open_crm(db) as crm:
        rows = crm.privacy.list_requests(status)
    if as_json:
        print_json(rows)
        return
    print_table(rows, ["id", "created_at", "customer_id", "requested_by", "status", "reason", "decided_by",
                       "decision_reason"], title=entity_label("erase_requests"),
                codes={"status": "choice.erase_requests.status"})


@requests_app.command("approve", epilog="crm erase-requests approve 01JC7Q")
def approve(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
    yes: Annotated[bool, typer.Option("--yes", "-y")] = False,
) -> None:
    with open_crm(db) as crm:
        request = crm.privacy.requests.get(request_id)
        if not yes:
            preview = crm.privacy.preview(request["customer_id"])
            if not confirm(t("privacy.cli.ask_erase", id=preview["customer_id"], what=_what_goes(preview))):
                raise typer.Exit(1)
        result = crm.privacy.approve(request["id"])
    _print_erase(result, as_json)


@requests_app.command("decline", epilog="crm erase-requests decline 01JC7Q --reason \"合同期内须保留\"")
def decline(
    request_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option("--reason")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        request = crm.privacy.decline(request_id, reason)
    if as_json:
        print_json(request)
    else:
        console.print(t("privacy.cli.declined", id=f"[bold]{escape(request['id'])}[/bold]"), highlight=False)
