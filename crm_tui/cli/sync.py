"""`crm login`, `crm sync [--status]`, `crm sync rejected [retry|discard]`, `crm sync
set-aside` and `crm conflicts list|resolve`: the client side of sync, each a call
into `crm_tui.api.sync`."""


from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape

from crm_tui.cli import app
from crm_tui.cli.common import (
    DbOpt,
    JsonOpt,
    UserError,
    cell_text,
    column_title,
    console,
    err_console,
    open_crm,
    print_json,
    print_table,
)
from crm_tui.domain.times import shown_time
from crm_tui.i18n import count, entity_label, t

PROGRESS_FROM = 5000  # changes from which a sync shows a progress bar

conflicts_app = typer.Typer(no_args_is_help=True)
app.add_typer(conflicts_app, name="conflicts")
sync_app = typer.Typer(epilog="crm sync\ncrm sync --status\ncrm sync rejected\ncrm sync set-aside",
                       invoke_without_command=True)
app.add_typer(sync_app, name="sync")
rejected_app = typer.Typer(epilog="crm sync rejected --all\ncrm sync rejected retry 3",
                           invoke_without_command=True)
sync_app.add_typer(rejected_app, name="rejected")


@app.command("login", epilog="crm login --server http://10.0.0.5:8765 --token 3f9a…")
def login_command(
    server: Annotated[str, typer.Option()],
    token: Annotated[str, typer.Option()],
    check: Annotated[bool, typer.Option()] = True,
    json_out: JsonOpt = False,
) -> None:
    from crm_tui.api.sync import SyncError, login  # the sync client loads with the sync commands

    try:
        info = login(server, token, check=check)
    except SyncError as exc:
        raise UserError(str(exc)) from None
    if json_out:
        print_json(info)
        return
    who = t("sync.msg.login_as", rep=info["rep"], role=cell_text("role", info["role"])) if info.get("rep") else ""
    console.print(t("sync.msg.logged_in", server=info["server"], who=who, config=info["config"]), highlight=False,
                  soft_wrap=True)  # one line: the path is copied whole
    if info.get("warning"):
        err_console.print(f"[yellow]{t('cli.warning')}{t('sep.label')}[/yellow]{escape(t('sync.msg.saved_anyway', warning=info['warning']))}",
                          highlight=False)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Any]:
    """A progress callback that shows a bar once a phase is big enough."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bars: dict[str, Any] = {}
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=err_console, transient=True)

    def update(phase: str, done: int, total: int) -> None:
        if phase not in bars:
            if total < PROGRESS_FROM:
                return
            if not progress.live.is_started:
                progress.start()
            bars[phase] = progress.add_task(phase, total=total)
        progress.update(bars[phase], completed=done, total=max(total, done))

    try:
        yield update
    finally:
        if progress.live.is_started:
            progress.stop()


def _describe(report: dict[str, Any]) -> str:
    tables = ", ".join(f"{entity_label(tbl)} {n}" for tbl, n in sorted(report["by_table"].items()))
    text = t("sync.msg.pushed_pulled", pushed=report["pushed"], pulled=report["pulled"])
    if tables:
        text += t("sync.msg.by_table", tables=tables)
    if report["orphans"]:
        text += t("sync.msg.orphans", n=report["orphans"])
    return text


@sync_app.callback(invoke_without_command=True)
def sync_command(
    ctx: typer.Context,
    db: DbOpt = None,
    status: Annotated[bool, typer.Option("--status")] = False,
    json_out: JsonOpt = False,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from crm_tui.api.sync import SyncError  # the sync client loads with the sync commands

    with open_crm(db, create=True) as crm:  # a new laptop's first sync fills a new database
        syncer = crm.sync
        if status:
            info = syncer.status()
            if json_out:
                print_json(info)
                return
            console.print(t("sync.msg.status_server", server=info["server"] or t("sync.msg.not_logged_in_short")),
                          highlight=False)
            if info["never_syncs"]:
                console.print(t(f"sync_never.{info['never_syncs']}"), highlight=False)
            console.print(t("sync.msg.status_pending", n=info["pending"]), highlight=False)
            console.print(t("sync.msg.status_last", when=shown_time(info["last_sync_at"]) or t("sync.never")), highlight=False)
            console.print(t("sync.msg.status_conflicts", n=info["open_conflicts"]), highlight=False)
            if info["last_error"]:
                console.print(t("sync.msg.status_error", error=info["last_error"]), highlight=False)
            if info["clock_warning"]:
                console.print(t("sync.msg.status_clock", warning=info["clock_warning"]), highlight=False)
            if info["rejected"]:
                console.print(t("sync.cli.rejected", n=info["rejected"]), highlight=False)
            if info["set_aside"]:
                console.print(t("sync.cli.set_aside", n=info["set_aside"]), highlight=False)
            return
        try:
            with _progress_bar(not json_out) as progress:
                # A big pull's pages fetched and checked by a second process (the laptop's second core).
                report = syncer.run(progress=progress, second_process=True).as_dict()
        except SyncError as exc:
            raise UserError(t("sync.msg.failed", error=exc)) from None
    if json_out:
        print_json(report)
        return
    if report["new_epoch"]:
        console.print(t("sync.cli.new_epoch"), highlight=False)
    console.print(_describe(report), highlight=False)
    if report["gone"]:  # customers that left this laptop: no longer in its lists
        console.print(t("sync.gone", n=count(report["gone"])), highlight=False)
    if report["conflicts"]:
        console.print(t("sync.msg.conflicts_kept", n=report["conflicts"]), highlight=False)
    if report["clock_warning"]:
        err_console.print(f"[yellow]{t('sync.msg.clock_label')}{t('sep.label')}[/yellow]{escape(str(report['clock_warning']))}", highlight=False)
    if report["rejected"]:
        err_console.print(t("sync.cli.new_rejected", n=report["rejected"]), highlight=False)
    if report["set_aside"]:
        err_console.print(t("sync.cli.new_set_aside", n=report["set_aside"]), highlight=False)
    for erased in report.get("erased", []):
        console.print(f"[yellow]{t('privacy.erased_title')}{t('sep.label')}[/yellow]{escape(str(erased))}", highlight=False, soft_wrap=True)

@rejected_app.callback(invoke_without_command=True)
def rejected_list(
    ctx: typer.Context,
    db: DbOpt = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
    json_out: JsonOpt = False,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    with open_crm(db) as crm:
        rows = crm.sync.rejected(include_resolved=all_)
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print(t("rejected.none"), highlight=False)
        return
    # The reason first (what to fix); of a refused new record, the fields it filled.
    print_table(
        [{**r, "status": r["resolution"] or ""} for r in rows],
        ["id", "record", "op", *(["status"] if all_ else []), "code", "reason", "fields", "rejected_at"],
        caption=t("rejected.caption"), codes={"code": "rejected.code"},
    )


@rejected_app.command("retry", epilog="crm customers edit ID --territory east && crm sync rejected retry 3 && crm sync")
def rejected_retry(
    rejected_id: Annotated[int | None, typer.Argument()] = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    if (rejected_id is None) == (not all_):
        raise UserError(t("rejected.id_or_all"))
    with open_crm(db) as crm:
        results = crm.sync.retry_all() if rejected_id is None else [crm.sync.retry(rejected_id)]
    if json_out:
        print_json(results if all_ else results[0])
        return
    if not results:
        console.print(t("rejected.none"), highlight=False)
    for result in results:
        console.print(t("rejected.retried", id=result["id"], record=result["record"]), highlight=False)


@rejected_app.command("discard", epilog="crm sync rejected discard 3")
def rejected_discard(
    rejected_id: Annotated[int, typer.Argument()],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        result = crm.sync.discard(rejected_id)
    if json_out:
        print_json(result)
        return
    console.print(t("rejected.discarded", id=rejected_id, record=result["record"]), highlight=False)


@sync_app.command("set-aside", epilog="crm sync set-aside --json")
def set_aside_list(db: DbOpt = None, json_out: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        rows = crm.sync.set_aside()
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print(t("set_aside.none"), highlight=False)
        return
    print_table(rows, ["id", "tbl", "row_id", "op", "code", "reason", "node", "node_seq", "set_aside_at"],
                caption=t("set_aside.caption"))


@conflicts_app.command("list", epilog="crm conflicts list --json")
def conflicts_list(
    db: DbOpt = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
    json_out: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        rows = crm.sync.conflicts(include_resolved=all_)
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print(t("cli.say.no_conflicts"))
        return
    print_table(
        [{**r, "mine": _show(r["mine"]), "theirs": _show(r["theirs"]),
          "by": f"{r['mine_rep']} / {r['theirs_rep']}"} for r in rows],
        ["id", "record", "field", "mine", "theirs", "by", "detected_at"],
        caption=t("cli.say.resolve_with"),
    )


def _show(value: Any) -> str:
    return t("cli.say.empty") if value is None else str(value)


@conflicts_app.command("resolve", epilog="crm conflicts resolve 12 --keep theirs")
def conflicts_resolve(
    conflict_id: Annotated[int, typer.Argument()],
    keep: Annotated[str, typer.Option()],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    with open_crm(db) as crm:
        result = crm.sync.resolve(conflict_id, keep)
    if json_out:
        print_json(result)
        return
    console.print(t("cli.say.conflict_settled", id=conflict_id, field=column_title(result["field"]),
                    value=_show(result["kept"])), highlight=False, markup=False)
