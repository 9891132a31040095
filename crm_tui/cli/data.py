"""`crm init`, `crm seed`, `crm demo` and `crm changes list`: a new database, demo
data and the local change log."""

import json
import os
from typing import Annotated, Any

import typer

from crm_tui.api import Crm
from crm_tui.cli import app
from crm_tui.cli.common import (
    ROWS_MAX,
    DbOpt,
    JsonOpt,
    UserError,
    console,
    counts_text,
    db_path,
    err_console,
    open_crm,
    print_json,
    print_table,
)
from crm_tui.config import (
    DEMO_CUSTOMERS,
    DEMO_REP,
    DEMO_SEED,
    default_db_path,
    demo_active,
    demo_db_path,
    set_demo_active,
)
from crm_tui.i18n import t


@app.command("init", epilog="crm init --db ~/crm/east.db\ncrm init --encrypt --remember")
def init_command(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    encrypt: Annotated[bool, typer.Option("--encrypt")] = False,
    remember: Annotated[bool, typer.Option("--remember")] = False,
) -> None:
    from crm_tui.api import encryption
    from crm_tui.cli.encryption import ask_key, say
    from crm_tui.config import resolve_db_path

    path = db_path(db)
    if path is None and demo_active():
        # `crm init` is the start of real work: it makes the user's own book, not the demo's.
        set_demo_active(False)
        err_console.print(t("demo.left", path=default_db_path()), highlight=False)
    existed = Crm.exists(path)
    key = None
    if encrypt and not existed:
        key = ask_key(resolve_db_path(path), new=True)
    with open_crm(db, create=True, encrypt=encrypt and not existed, key=key) as crm:
        info = {"path": str(crm.path), "created": not existed, "encrypted": crm.encrypted}
        if existed and encrypt and not crm.encrypted:
            raise UserError(t("db.already_plain", path=crm.path))
    outcome = encryption.remember(crm.path, key) if key and remember else None
    info["key_in_keyring"] = bool(outcome and outcome.remembered)
    if as_json:
        print_json(info)
    else:
        if info["created"] and crm.encrypted:
            console.print(t("encryption.created", path=info["path"]), highlight=False, soft_wrap=True)
        else:
            console.print(t("cli.db_created" if info["created"] else "cli.db_exists", path=info["path"]),
                          highlight=False, soft_wrap=True)
        if outcome:
            say(outcome.messages())


@app.command("seed", epilog="crm seed --customers 1000 --seed 7")
def seed_command(
    db: DbOpt = None,
    customers: Annotated[int, typer.Option("--customers", "-n", min=0)] = 100,
    seed_value: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
) -> None:
    from crm_tui.api.seed import seed  # the demo generator loads only for the commands that seed

    with open_crm(db, create=True) as crm, console.status(t("cli.seeding", n=customers)):
        report = seed(crm, customers=customers, seed=seed_value)
    if as_json:
        print_json(report.as_dict())
    else:
        console.print(t("cli.seeded", counts=counts_text(report.as_dict()), path=crm.path),
                      highlight=False, soft_wrap=True)
        if not crm.is_demo:
            err_console.print(t("seed.made_up", path=crm.path), highlight=False, soft_wrap=True)


@app.command("demo", epilog="crm demo; crm customers list --search zw; crm demo --exit")
def demo(
    db: DbOpt = None,
    leave: Annotated[bool, typer.Option("--exit")] = False,
    no_ui: Annotated[bool, typer.Option("--no-ui")] = False,
    customers: Annotated[int, typer.Option("--customers", min=1)] = DEMO_CUSTOMERS,
) -> None:
    from crm_tui.api.seed import seed
    from crm_tui.cli import ui

    if leave:
        was_active = demo_active()
        set_demo_active(False)
        console.print(t("demo.left" if was_active else "demo.exit.not_active", path=default_db_path()),
                      highlight=False, soft_wrap=True)
        return
    path = db_path(db) or demo_db_path()
    with Crm(path) as crm:
        # A database that never had a write is new; a demo the user emptied stays empty.
        if not crm.changes(limit=1):
            crm.set_rep(DEMO_REP)
            with console.status(t("demo.creating", path=path)):
                report = seed(crm, customers=customers, seed=DEMO_SEED)
            console.print(t("demo.created", path=path, counts=counts_text(report.as_dict())),
                          highlight=False, soft_wrap=True)
    if db_path(db) is None:
        set_demo_active(True)
        # CRM_DB names the user's database on purpose: it still wins over the demo.
        shadowed = os.environ.get("CRM_DB")
        console.print(t("demo.shadowed", env=shadowed, path=path) if shadowed else t("demo.active"),
                      highlight=False, soft_wrap=True)
    if not no_ui:
        ui.open_ui(path)


changes_app = typer.Typer(no_args_is_help=True)
app.add_typer(changes_app, name="changes")


def _decoded(change: dict[str, Any]) -> dict[str, Any]:
    out = dict(change)
    for key in ("data", "old", "base"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


@changes_app.command("list", epilog="crm changes list --table customers --limit 20")
def list_changes(
    db: DbOpt = None,
    as_json: JsonOpt = False,
    table: Annotated[str | None, typer.Option("--table", "-t", show_default=False)] = None,
    record: Annotated[str | None, typer.Option("--record", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=0, max=ROWS_MAX)] = 50,
    since: Annotated[int, typer.Option("--since", min=0, max=ROWS_MAX)] = 0,
    local_only: Annotated[bool, typer.Option("--local-only")] = False,
) -> None:
    with open_crm(db) as crm:
        rows = crm.changes(table=table, row_id=record, since=since, local_only=local_only)
    if limit:
        rows = rows[-limit:]
    rows = [_decoded(r) for r in rows]
    if as_json:
        print_json(rows)
        return
    shown = [{**r, "change": _summary(r)} for r in rows]
    print_table(shown, ["seq", "tbl", "op", "change", "row_id", "rep", "node"], title=t("cli.changes_title"))


def _summary(change: dict[str, Any]) -> str:
    """A short line for a table: the new values of an update; inserts and deletes
    touch every field, which --json shows."""
    if change["op"] != "update":
        return ""
    text = ", ".join(f"{k}={v}" for k, v in change["data"].items() if k != "updated_at")
    return text if len(text) <= 80 else text[:79] + "…"

