"""`crm customers|contacts|visits|complaints|orders|opportunities|products add|list|show|edit|delete|update|import|export`.

The commands of the four record kinds are generated from the entity definitions in
`crm_tui.domain.entities`: one option per field (`--company-size`, `--customer` for
the customer a visit belongs to), so a new field shows up in the CLI by itself."""

# No `from __future__ import annotations` here: typer evaluates the annotations of the
# commands made inside `build`, and those refer to its local variables.
import datetime as dt
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from crm_tui.api import Crm, Filter, Record, parse_filter
from crm_tui.api.names import with_customer_names
from crm_tui.cli.agenda import add_follow_up_commands
from crm_tui.cli.common import (
    ROWS_MAX,
    DbOpt,
    JsonOpt,
    UserError,
    add_lazy_group,
    confirm,
    console,
    err_console,
    open_crm,
    print_added,
    print_json,
    print_record,
    print_table,
    readable,
)
from crm_tui.cli.complaints import add_workflow_commands
from crm_tui.cli.duplicates import add_duplicate_commands
from crm_tui.cli.orders import add_order, add_order_commands, add_order_file_commands, show_order
from crm_tui.cli.pipeline import add_opportunity_commands
from crm_tui.cli.privacy import add_privacy_commands
from crm_tui.domain.entities import ENTITIES, Entity, Field
from crm_tui.domain.validation import number_to_call
from crm_tui.i18n import entity_label, entity_name, t

# The record kinds with the full set of verbs; other kinds (surveys ...) have their own commands.
KINDS = ("customers", "contacts", "visits", "complaints", "orders", "opportunities", "products")
TABLE_LIMIT = 100  # rows a table shows when no --limit is given (JSON gives all)
PROGRESS_FROM = 5000  # rows from which imports and exports show a progress bar

# Kinds whose new records are checked against existing ones for a shared phone or email.
DUPLICATE_CHECKED = ("customers", "contacts")


# One typical command line per kind and verb, shown as the example of each --help.
EXAMPLE_ARGS: dict[str, dict[str, str]] = {
    "customers": {"add": '--name 张伟 --mobile "138 1234 5678" --company 华信科技 --region 华东',
                  "list": "--search zw --region 华东", "edit": "--title 采购经理 --notes ''",
                  "update": "--where region=华东 --where tier=B --set territory=浦东片区 --dry-run",
                  "import": "客户.csv --dry-run", "export": "--format csv -o customers.csv"},
    "visits": {"add": "--customer 01JB2X --channel phone --purpose follow_up --next-action-date 2026-12-01",
               "list": "--customer 01JB2X --json", "edit": "--outcome 已报价 --follow-up-done 1",
               "update": "--where channel=phone --where follow_up_done=0 --set follow_up_done=1 --dry-run",
               "import": "visits.csv --skip-invalid", "export": "--format json -o visits.json"},
    "complaints": {"add": '--customer 01JB2X --type delivery --priority high --description "货物晚到一周"',
                   "list": "--status new --priority high", "edit": "--handler 李娜",
                   "update": "--where priority=low --set priority=medium --dry-run",
                   "import": "complaints.csv", "export": "--where status=closed -o closed.csv"},
    "contacts": {"add": "--customer 01JB2X --name 王经理 --title 采购总监 --role 决策者 --attitude 支持",
                 "list": "--customer 01JB2X --role decision_maker", "edit": "--attitude 中立",
                 "update": "--where role=user --set attitude=neutral --dry-run",
                 "import": "联系人.csv --dry-run", "export": "--format csv -o contacts.csv"},
    "products": {"add": "--sku SN-100 --name 工业传感器 --category 传感器 --unit 个 --list-price 1200",
                 "list": "--category 传感器 --active yes", "edit": "--list-price 1100",
                 "update": "--where category=传感器 --set active=no --dry-run",
                 "import": "价目表.csv", "export": "--format csv -o products.csv"},
    "orders": {"add": "--customer 01JB2X --line SN-100:3 --line 旧型号:1:300",
               "list": '--where "amount>=1000" --order -ordered_at', "edit": "--amount 3400",
               "update": "--where product=传感器 --set product=工业传感器 --dry-run",
               "import": "orders.csv --dry-run", "export": '--where "ordered_at>=2026-01-01" -o orders.csv'},
    "opportunities": {"add": '--customer 01JB2X --title "ERP 项目" --amount 120000 --stage qualified '
                             "--close-date 2026-12-15 --products SN-100,SN-200",
                      "list": "--stage proposal --owner wang", "edit": "--close-date 2026-12-31 --next-step 发送报价单",
                      "update": "--where stage=lead --where owner=li --set owner=wang --dry-run",
                      "import": "商机.csv --dry-run", "export": "--where stage=won -o won.csv"},
}


def example(table: str, verb: str) -> str:
    """The example of a command's --help (its epilog): a command line, the same in every language."""
    args = EXAMPLE_ARGS[table].get(verb, "01JB2X" if verb in ("show", "delete") else "")
    if verb == "edit":
        args = "01JB2X " + args
    return f"crm {table} {verb} {args}".rstrip()


def option_name(f: Field) -> str:
    if f.name == "customer_id":
        return "--customer"
    if f.name == "contact_ids":
        return "--contacts"
    if f.name == "product_ids":
        return "--products"
    return "--" + f.name.replace("_", "-")


def field_params(ent: Entity) -> list[inspect.Parameter]:
    """One `--field VALUE` option per field of the entity, all optional strings:
    validation (and its messages) belongs to the API."""
    params = []
    for f in (*(f for f in ent.fields if not f.computed), Field("owner", label="Owner rep")):
        option = typer.Option(option_name(f), show_default=False)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY,
                                        annotation=Annotated[str | None, option], default=None))
    return params


def with_signature(func: Callable[..., Any], params: list[inspect.Parameter]) -> Callable[..., Any]:
    """Give a **kwargs command the parameters typer should offer."""
    func.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return func


def common_params() -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    return [inspect.Parameter("db", kw, annotation=DbOpt, default=None),
            inspect.Parameter("as_json", kw, annotation=JsonOpt, default=False)]


def resolve_customer(crm: Crm, values: dict[str, Any]) -> None:
    """`--customer` takes a unique id prefix; store the full id."""
    if values.get("customer_id"):
        values["customer_id"] = crm.customers.get(values["customer_id"])["id"]


# What `add` fills in when left out, so a rep logs a call without typing the time.
# (Visits default to now in the agenda; complaints get their status, received time and
# SLA due time from the complaint workflow.)
ADD_DEFAULTS: dict[str, dict[str, Callable[[], str]]] = {
    "complaints": {"priority": lambda: "medium"},
    "orders": {"ordered_at": lambda: dt.date.today().isoformat()},  # its status: the field's default
    "products": {"active": lambda: "1"},
}


# What `add` fills in itself besides ADD_DEFAULTS, through the use case it calls (see
# `create`): a visit is logged now, a complaint received now with status new, a deal
# starts at the first open stage. --help marks none of these [required].
FILLED_BY_USE_CASE: dict[str, tuple[str, ...]] = {
    "visits": ("visited_at",),
    "complaints": ("received_at", "status"),
    "opportunities": ("stage",),
}
# Fields an order's --line works out (crm_tui.domain.orders.order_summary): required
# only of an order added without lines.
FROM_LINES: dict[str, tuple[str, ...]] = {"orders": ("product", "amount")}


def required_of_user(table: str, name: str) -> str | None:
    """Whether `crm TABLE add` needs --NAME from the user: "yes", "without_lines"
    (an order's product and amount, unless --line gives them), or None (optional, or
    filled in by the command)."""
    ent = ENTITIES[table]
    if name not in ent.field_names or not ent.field(name).required:
        return None
    if name in ADD_DEFAULTS.get(table, {}) or name in FILLED_BY_USE_CASE.get(table, ()):
        return None
    return "without_lines" if name in FROM_LINES.get(table, ()) else "yes"


def create(crm: Crm, table: str, data: dict[str, Any], lines: list[str] | None = None) -> Record:
    """A new record through its use case: a visit is logged on the agenda, a complaint
    opened in the complaint workflow, an order with --line made from its lines, the
    rest created as they are."""
    if table == "orders" and lines:
        return add_order(crm, data, lines)
    if table == "visits":
        return crm.agenda.log_visit(data)
    if table == "complaints":
        return crm.complaint_workflow.open(data)
    return crm.records(table).create(data)


def show_columns(ent: Entity) -> list[str]:
    cols = ["id", *ent.list_columns]
    return ["customer_name" if c == "customer_id" else c for c in cols]


def split_assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UserError(t("cli.say.set_expected", value=repr(text)))
    return name.strip().replace("-", "_"), value


@contextmanager
def progress_bar(label: str, show: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr (stdout may carry the export) for big jobs, on a
    terminal: elsewhere (a script's log) rich draws none, and its machinery is not
    loaded for nothing."""
    if not show or not err_console.is_terminal:
        yield lambda phase, done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(f"{label}: {phase}", total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    except OSError:
        return 0


def show_record(crm: Crm, record: Record, table: str, as_json: bool) -> None:
    """One record as add, edit and show print it: an order with its lines, an
    opportunity with the products it is about (by SKU and name)."""
    if table == "orders":
        show_order(crm, record, as_json)
        return
    if table == "opportunities":
        products = crm.opportunities.products_of(record)
        record = {**record, "products": products if as_json else
                  ", ".join(f"{p['sku']} {p['name']}" for p in products)}
    print_json(record) if as_json else print_record(record, table)


def register(app: typer.Typer) -> None:
    # each kind's commands are made when a command line goes to that kind
    for table in KINDS:
        add_lazy_group(app, table, functools.partial(build, table), no_args_is_help=True)


def build(table: str) -> typer.Typer:
    ent = ENTITIES[table]
    sub = typer.Typer(no_args_is_help=True)
    kw = inspect.Parameter.KEYWORD_ONLY
    if table == "complaints":
        add_workflow_commands(sub)
    if table == "customers":
        add_privacy_commands(sub)
    if table == "opportunities":
        add_opportunity_commands(sub)
    if table == "orders":
        add_order_commands(sub)
        add_order_file_commands(sub)
    if table == "customers":
        add_duplicate_commands(sub)
    if table == "visits":
        add_follow_up_commands(sub)

    # -- add -------------------------------------------------------------------------
    def add(db: Path | None = None, as_json: bool = False, lines: list[str] | None = None,
            **values: str | None) -> None:
        data = {k: v for k, v in values.items() if v is not None}
        for name, default in ADD_DEFAULTS.get(table, {}).items():
            data.setdefault(name, default())
        # the import's module (csv, the import mapping) loads only for the commands that use it
        from crm_tui.api.importing import possible_duplicates

        with open_crm(db, create=True) as crm:
            resolve_customer(crm, data)
            duplicates = possible_duplicates(crm, data, table) if table in DUPLICATE_CHECKED else []
            record = create(crm, table, data, lines)
            for match, reason in duplicates:
                err_console.print(f"[yellow]{t('cli.warning')}{t('sep.label')}[/yellow]"
                                  + t("cli.possible_duplicate", id=match["id"], name=escape(match.get("name") or ""),
                                      reason=reason), highlight=False, soft_wrap=True)
            print_added(table, record, as_json, lambda as_json: show_record(crm, record, table, as_json))

    add_params = common_params() + field_params(ent)
    if table == "orders":
        add_params.append(inspect.Parameter("lines", kw, default=None, annotation=Annotated[
            list[str] | None, typer.Option("--line", "-l", show_default=False)]))
    sub.command("add", epilog=example(table, "add"))(with_signature(add, add_params))

    # -- list ------------------------------------------------------------------------
    filter_options: dict[str, tuple[str, str]] = {"owner": ("--owner", "owner")}
    if table == "customers":
        filter_options |= {"status": ("--status", "status"), "tier": ("--tier", "tier"),
                           "region": ("--region", "region"), "tag": ("--tag", "tags")}
    elif table != "products":
        filter_options |= {"customer": ("--customer", "customer_id")}
    if table == "complaints":
        filter_options |= {"status": ("--status", "status"), "priority": ("--priority", "priority")}
    if table == "opportunities":
        filter_options |= {"stage": ("--stage", "stage")}
    if table == "contacts":
        filter_options |= {"role": ("--role", "role"), "attitude": ("--attitude", "attitude")}
    if table == "products":
        filter_options = {"category": ("--category", "category"), "active": ("--active", "active")}

    def list_(db: Path | None = None, as_json: bool = False, where: list[str] | None = None,
              search: str | None = None, order: str | None = None, limit: int | None = None,
              **shortcuts: str | None) -> None:
        with open_crm(db) as crm:
            filters = [parse_filter(ent, text) for text in where or []]
            for key, value in shortcuts.items():
                if value is None:
                    continue
                column = filter_options[key][1]
                if column == "customer_id":
                    value = crm.customers.get(value)["id"]
                filters.append(parse_filter(ent, f"{column}={value}"))
            records = crm.records(table)
            shown = limit if limit is not None or as_json else TABLE_LIMIT
            rows = records.find(filters, search=search, order=order, limit=shown)
            if as_json:
                print_json(rows)
                return
            total = records.count(filters, search=search)
            if table != "customers":
                with_customer_names(crm, rows)
            if not total:  # never a bare "0 of 0": say where we looked and what to do
                everything = records.count() if filters or search else 0
                label = entity_label(table)
                # a laptop logged in to a team's server that has never synced: its records are there
                first_sync = (not everything and crm.config.sync.server
                              and crm.sync.status()["last_sync_at"] is None and not crm.sync.never_syncs())
                err_console.print(t("demo.no_match", total=everything, table=label, path=crm.path) if everything
                                  else t("cli.first_sync.no_records", label=label, path=crm.path,
                                         server=crm.config.sync.server) if first_sync
                                  else t("demo.no_records", table=table, label=label, path=crm.path),
                                  highlight=False, markup=False)
                return  # the sentence says it all: no empty table and "0 of 0" beneath it
        caption = t("cli.shown_of", shown=len(rows), total=total) + (t("cli.more") if total > len(rows) else "")
        as_read = [readable(r, table) for r in rows]
        if table == "customers":  # the number to call, as the customer screen shows it
            as_read = [{**r, "phone": number_to_call(row)} for r, row in zip(as_read, rows, strict=True)]
        print_table(as_read, show_columns(ent), title=entity_label(table), caption=caption, table=table)

    list_params = common_params() + [
        inspect.Parameter("where", kw, default=None, annotation=Annotated[
            list[str] | None, typer.Option("--where", "-w", show_default=False)]),
    ]
    if table == "customers" or ent.searchable:
        list_params.append(inspect.Parameter("search", kw, default=None, annotation=Annotated[
            str | None, typer.Option("--search", "-s", show_default=False)]))
    list_params += [
        inspect.Parameter("order", kw, default=None, annotation=Annotated[
            str | None, typer.Option("--order", show_default=False)]),
        inspect.Parameter("limit", kw, default=None, annotation=Annotated[
            int | None, typer.Option("--limit", "-n", min=0, max=ROWS_MAX, show_default=False)]),
    ]
    for key, (flag, _column) in filter_options.items():
        list_params.append(inspect.Parameter(key, kw, default=None, annotation=Annotated[
            str | None, typer.Option(flag, show_default=False)]))
    sub.command("list", epilog=example(table, "list"))(with_signature(list_, list_params))

    # -- show ------------------------------------------------------------------------
    def show(record_id: Annotated[str, typer.Argument(metavar="ID")],
             db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            show_record(crm, crm.records(table).get(record_id), table, as_json)

    sub.command("show", epilog=example(table, "show"))(show)

    # -- edit ------------------------------------------------------------------------
    def edit(record_id: str, db: Path | None = None, as_json: bool = False, **values: str | None) -> None:
        # An empty value ("") clears a field; a left-out option leaves it alone.
        changes = {k: v for k, v in values.items() if v is not None}
        if not changes:
            raise UserError(t("cli.say.edit_nothing_to_change"))
        with open_crm(db) as crm:
            resolve_customer(crm, changes)
            record = crm.records(table).update(record_id, changes)
            if not as_json:
                console.print(t("cli.say.updated", entity=entity_name(ent), id=record["id"]),
                              highlight=False, soft_wrap=True)
            show_record(crm, record, table, as_json)

    id_param = inspect.Parameter("record_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[
        str, typer.Argument(metavar="ID")])
    edit_params = [id_param, *common_params(), *field_params(ent)]
    sub.command("edit", epilog=example(table, "edit"))(
        with_signature(edit, edit_params))

    # -- delete ----------------------------------------------------------------------
    def delete(record_id: Annotated[str, typer.Argument(metavar="ID")],
               db: DbOpt = None, as_json: JsonOpt = False,
               yes: Annotated[bool, typer.Option("--yes", "-y")] = False) -> None:
        with open_crm(db) as crm:
            records = crm.records(table)
            record = records.get(record_id)
            label = (record.get("name") or record.get("title") or record.get("product")
                     or record.get("description") or "")
            if not yes and not confirm(t("cli.say.delete_record", entity=entity_name(ent), id=record["id"],
                                                label=label)):
                raise typer.Exit(1)
            records.delete(record["id"])
        if as_json:
            print_json(record)
        else:
            said = t("cli.say.deleted_customer" if table == "customers" else "cli.say.deleted",
                     entity=entity_name(ent), id=record["id"], label=label)
            console.print(said, highlight=False, soft_wrap=True, markup=False)

    sub.command("delete", epilog=example(table, "delete"))(delete)

    # -- update (bulk) ---------------------------------------------------------------
    def update(
        db: DbOpt = None,
        as_json: JsonOpt = False,
        where: Annotated[list[str] | None, typer.Option(
            "--where", "-w", show_default=False)] = None,
        assignments: Annotated[list[str] | None, typer.Option("--set", show_default=False)] = None,
        every: Annotated[bool, typer.Option("--all")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    ) -> None:
        if not where and not every:
            raise UserError(t("cli.say.where_or_all"))
        changes = dict(split_assignment(a) for a in assignments or [])
        with open_crm(db) as crm:
            filters: list[Filter] = [parse_filter(ent, text) for text in where or []]
            diff = crm.records(table).bulk_update(filters, changes, dry_run=dry_run)
        if as_json:
            print_json(diff)
            return
        ids = {d["id"] for d in diff}
        rows = [{**d, "change": f"{_show(d['old'])} → {_show(d['new'])}"} for d in diff[:TABLE_LIMIT * 5]]
        if rows:
            print_table(rows, ["id", "name", "field", "change"] if table == "customers"
                        else ["id", "field", "change"], title=t("cli.say.dry_run_title") if dry_run else None)
        said = t("cli.say.would_change_fields" if dry_run else "cli.say.changed_fields", fields=len(diff),
                 records=len(ids), entities=entity_label(table))
        console.print(said, highlight=False, soft_wrap=True)

    sub.command("update", epilog=example(table, "update"))(update)

    # -- import ----------------------------------------------------------------------
    def import_(
        file: Annotated[Path, typer.Argument(show_default=False)],
        db: DbOpt = None,
        as_json: JsonOpt = False,
        skip_invalid: Annotated[bool, typer.Option("--skip-invalid")] = False,
        rejects: Annotated[Path | None, typer.Option(
            "--rejects", show_default=False)] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
        ignore_unknown: Annotated[bool, typer.Option("--ignore-unknown")] = False,
        update_on_match: Annotated[bool, typer.Option("--update-on-match")] = False,
        sheet: Annotated[str | None, typer.Option("--sheet", show_default=False)] = None,
    ) -> None:
        from crm_tui.api.importing import ImportFileError, import_records

        show_bar = not as_json and count_lines(file) >= PROGRESS_FROM
        with open_crm(db, create=True) as crm:
            with progress_bar(f"importing {file.name}", show_bar) as progress:
                try:
                    report = import_records(crm, table, file, skip_invalid=skip_invalid, dry_run=dry_run,
                                            rejects_path=rejects, ignore_unknown=ignore_unknown, progress=progress,
                                            update_on_match=update_on_match, sheet=sheet)
                except ImportFileError as exc:
                    raise UserError(str(exc)) from None
            # reported inside the database's block: an import refused whole leaves no new database
            for warning in report.warnings:
                err_console.print(f"[yellow]{t('cli.warning')}{t('sep.label')}[/yellow]{escape(str(warning))}", highlight=False, soft_wrap=True)
            failed = bool(report.rejected) and not skip_invalid
            for reject in report.rejected[:1000]:
                err_console.print(f"[red]{t('cli.error') if failed else t('import.rejected')}{t('sep.label')}[/red]{escape(str(reject))}",
                                  highlight=False, soft_wrap=True)
            if len(report.rejected) > 1000:
                err_console.print(t("import.more_bad", n=len(report.rejected) - 1000), highlight=False, soft_wrap=True)
            if as_json:
                print_json(report.as_dict())
            elif failed and dry_run:
                # the whole picture even when rows are bad: what the good ones would do, and what stops it
                console.print(f"{t('import.dry_run')}{report.summary()}", highlight=False, soft_wrap=True)
                err_console.print(t("cli.say.import_would_stop", bad=len(report.rejected), rows=report.rows),
                                  highlight=False, soft_wrap=True)
            elif failed:
                err_console.print(t("import.nothing", bad=len(report.rejected), rows=report.rows),
                                  highlight=False, soft_wrap=True)
            else:
                prefix = t("import.dry_run") if dry_run else ""
                console.print(f"{prefix}{report.summary()}", highlight=False, soft_wrap=True)
                if report.rejects_path:
                    console.print(t("import.rejects_written", path=report.rejects_path), highlight=False, soft_wrap=True)
            if failed:
                raise typer.Exit(1)

    sub.command("import", epilog=example(table, "import"))(
        import_)

    # -- export ----------------------------------------------------------------------
    def export(
        db: DbOpt = None,
        fmt: Annotated[str, typer.Option("--format", "-f")] = "csv",
        output: Annotated[Path | None, typer.Option("--output", "-o", show_default=False)] = None,
        where: Annotated[list[str] | None, typer.Option("--where", "-w", show_default=False)] = None,
        mask: Annotated[bool, typer.Option("--mask")] = False,
    ) -> None:
        from crm_tui.api.exporting import BINARY_FORMATS, FORMATS, export_records, export_to_path

        if fmt not in FORMATS:
            raise UserError(t("cli.bad_format", fmt=repr(fmt), formats=", ".join(FORMATS)))
        if fmt in BINARY_FORMATS and output is None:
            raise UserError(t("cli.export_needs_output", fmt=fmt))
        with open_crm(db) as crm:
            filters = [parse_filter(ent, text) for text in where or []]
            total = crm.records(table).count(filters)
            with progress_bar(f"exporting {table}", output is not None and total >= PROGRESS_FROM) as progress:
                if output is None:
                    export_records(crm, table, sys.stdout, fmt=fmt, filters=filters, mask=mask)
                else:
                    count = export_to_path(crm, table, output, fmt=fmt, filters=filters, mask=mask,
                                           progress=lambda done, n: progress("writing", done, n))
                    err_console.print(t("import.exported", count=count, table=entity_label(table), path=output),
                                      highlight=False, soft_wrap=True)

    sub.command("export", epilog=example(table, "export"))(export)
    return sub


def _show(value: Any) -> str:
    return "∅" if value is None else str(value)


def _register() -> None:
    from crm_tui.cli import app

    register(app)


_register()
