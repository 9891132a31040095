"""`crm server serve|add-rep|list-reps|set-rep|revoke-rep|audit`: run the sync
server, manage the reps' tokens and read the server's audit."""


import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from crm_tui.cli import app
from crm_tui.cli.common import JsonOpt, UserError, cell_text, column_title, console, print_json, print_table
from crm_tui.i18n import t

CLOCK_OFFSET_MAX = 86400.0  # a day: beyond it, a laptop's wrong date is no longer caught
RATE_MIN, RATE_MAX = 0.01, 100_000.0  # requests a second per rep: 0 would let no rep sync

server_app = typer.Typer(no_args_is_help=True)
app.add_typer(server_app, name="server")

StoreOpt = Annotated[
    str | None,
    typer.Option("--db", show_default=False),
]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _store_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Store refusals are user errors: a message, not a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        from crm_tui.sync.server.store import StoreError

        try:
            return fn(*args, **kwargs)
        except StoreError as exc:
            raise UserError(str(exc)) from None

    return wrapper


@server_app.command("serve", epilog="crm server serve --host 127.0.0.1 --port 8765")
@_store_errors
def serve(
    db: StoreOpt = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8765,
    max_clock_offset: Annotated[float, typer.Option(min=0, max=CLOCK_OFFSET_MAX)] = 300.0,
    rate: Annotated[float, typer.Option(min=RATE_MIN, max=RATE_MAX)] = 50.0,
    log_level: Annotated[str, typer.Option()] = "warning",
    ssl_keyfile: Annotated[str | None, typer.Option()] = None,
    ssl_certfile: Annotated[str | None, typer.Option()] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option()] = None,
    workers: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    for name, value in (("--max-clock-offset", max_clock_offset), ("--rate", rate)):
        if math.isnan(value):  # no range refuses it: every comparison with nan is false
            raise UserError(t("server.option.nan", option=name))
    scheme = "https" if ssl_certfile else "http"
    store = admin.redacted(db or admin.default_store_url())

    def ready() -> None:  # said once the store opened: a store that does not is an error alone
        console.print(t("server.serving", url=f"{scheme}://{host}:{port}", store=store), highlight=False)
        if scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
            console.print(t("server.no_tls"), highlight=False)

    admin.serve(db, host, port, max_offset_s=max_clock_offset, rate=rate, log_level=log_level,
                ssl_keyfile=ssl_keyfile, ssl_certfile=ssl_certfile, forwarded_allow_ips=forwarded_allow_ips,
                workers=workers, ready=ready)


@server_app.command("add-rep", epilog="crm server add-rep wangfang --territory 华东")
@_store_errors
def add_rep(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option()] = "rep",
    territory: Annotated[list[str] | None, typer.Option()] = None,
    db: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    rep = admin.add_rep(db, name, role, territory or ())
    if json_out:
        print_json(rep)
        return
    console.print(t("server.rep_added", name=rep["name"], role=cell_text("role", rep["role"])), highlight=False,
                  markup=False)
    console.print(rep["token"], highlight=False, soft_wrap=True, markup=False)
    console.print(t("server.rep_login_hint", token=rep["token"]), highlight=False, soft_wrap=True, markup=False)


@server_app.command("list-reps", epilog="crm server list-reps --json")
@_store_errors
def list_reps(db: StoreOpt = None, json_out: JsonOpt = False) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    reps = admin.list_reps(db)
    if json_out:
        print_json(reps)
    else:
        print_table([{**r, "territories": ", ".join(r["territories"])} for r in reps],
                    ["name", "role", "territories", "active", "created_at", "revoked_at"])


@server_app.command("set-rep", epilog="crm server set-rep wangfang --role manager")
@_store_errors
def set_rep(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str | None, typer.Option()] = None,
    territory: Annotated[list[str] | None, typer.Option()] = None,
    clear_territories: Annotated[bool, typer.Option()] = False,
    db: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    if clear_territories and territory:
        # both would silently clear them: say which one was meant
        raise UserError(t("cli.say.clear_or_territory"))
    territories = [] if clear_territories else territory
    rep = admin.set_rep(db, name, role=role, territories=territories)
    if json_out:
        print_json(rep)
    else:
        console.print(t("server.rep_set", name=rep["name"], role=cell_text("role", rep["role"]),
                        territories=", ".join(rep["territories"]) or t("server.no_territories")),
                      highlight=False, markup=False)


@server_app.command("revoke-rep", epilog="crm server revoke-rep wangfang")
@_store_errors
def revoke_rep(name: Annotated[str, typer.Argument()],
               db: StoreOpt = None) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    admin.revoke_rep(db, name)
    console.print(t("server.rep_revoked", name=name), highlight=False, markup=False)


@server_app.command("audit", epilog="crm server audit --kind refused --since 2026-12-01")
@_store_errors
def audit(
    rep: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option()] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    db: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    entries = admin.audit(db, rep=rep, since=since, kind=kind, limit=limit)
    if json_out:
        print_json(entries)
        return
    if not entries:
        console.print(t("server.audit_empty"), highlight=False)
        return
    rows = [{**e, "detail": _detail(e["detail"])} for e in entries]
    print_table(rows, ["at", "kind", "rep", "node", "address", "count", "detail"])


@server_app.command("backup", epilog="crm server backup -o server.backup --db postgresql://crm@127.0.0.1:5432/crm")
@_store_errors
def backup(
    output: Annotated[Path, typer.Option("-o", "--output")],
    db: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    done = admin.backup(db, output)
    if json_out:
        print_json(done)
    else:
        console.print(t("server.backed_up", store=done["store"], file=done["file"]), highlight=False)


@server_app.command("restore", epilog="crm server restore server.backup --db postgresql://crm@127.0.0.1:5432/crm")
@_store_errors
def restore(
    file: Annotated[Path, typer.Argument()],
    db: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.sync.server import admin  # FastAPI: only for server commands

    done = admin.restore(db, file)
    if json_out:
        print_json(done)
    else:
        console.print(t("server.restored", store=done["store"], file=done["file"], epoch=done["epoch"]),
                      highlight=False)


def _detail(detail: object) -> str:
    """An audit entry's detail for a table: a refusal's reason, or the changed
    settings by their names in the user's language (role: manager -> 角色: 经理)."""
    if detail is None:
        return ""
    if not isinstance(detail, dict):
        return str(detail)
    if "reason" in detail:
        return str(detail["reason"])
    return t("cli.list_sep").join(
        f"{column_title(k)}: {', '.join(map(str, v)) if isinstance(v, list) else cell_text(k, v)}"
        for k, v in detail.items())
