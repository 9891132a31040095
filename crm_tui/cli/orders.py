"""`crm orders lines|refund|import-lines|export-lines` and the `--line SKU:QTY[:PRICE[:DISCOUNT%]]` option of
`crm orders add`: orders with lines from the command line. The API works out
amounts from the catalogue and checks every line; these commands only name them."""


from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from crm_tui.api import Crm, Record
from crm_tui.cli.common import (
    DbOpt,
    JsonOpt,
    UserError,
    console,
    err_console,
    open_crm,
    print_json,
    print_record,
    print_table,
)
from crm_tui.domain.orders import parse_line
from crm_tui.i18n import money, t

if TYPE_CHECKING:
    from crm_tui.api.order_import import LinesReport

IdArg = Annotated[str, typer.Argument()]
LinesOpt = Annotated[list[str] | None, typer.Option("--line", "-l", show_default=False)]
LINE_COLUMNS = ["sku", "product", "quantity", "unit_price", "discount", "amount"]


def add_order(crm: Crm, data: dict[str, Any], lines: list[str]) -> Record:
    """`orders add` with --line: the order from its lines."""
    return crm.order_book.add(data, [parse_line(text) for text in lines])


def show_order(crm: Crm, record: Record, as_json: bool) -> None:
    lines = crm.order_book.lines(record["id"])
    if as_json:
        print_json({**record, "lines": lines})
        return
    print_record(record, "orders")
    print_table(lines, LINE_COLUMNS, title=t("import_lines.lines_title"), table="order_lines")


def add_order_commands(sub: typer.Typer) -> None:
    @sub.command("lines", epilog="crm orders lines 01JE4K --line SN-100:2 --line 旧型号:1:300")
    def lines(order_id: IdArg, line: LinesOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            order = crm.orders.get(order_id)
            if line:
                order = crm.order_book.set_lines(order["id"], [parse_line(text) for text in line])
            show_order(crm, order, as_json)

    @sub.command("refund", epilog="crm orders refund 01JE4K --line SN-100:1 --notes 退货")
    def refund(order_id: IdArg, line: LinesOpt = None,
               date: Annotated[str | None, typer.Option("--date", show_default=False)] = None,
               notes: Annotated[str | None, typer.Option("--notes", show_default=False)] = None,
               db: DbOpt = None, as_json: JsonOpt = False) -> None:
        with open_crm(db) as crm:
            record = crm.order_book.refund(order_id, [parse_line(text) for text in line or []],
                                           ordered_at=date, notes=notes)
            if not as_json:
                console.print(t("cli.say.refund_order", id=record["id"], order=record["refund_of"],
                                amount=money(record["amount"])), highlight=False, soft_wrap=True)
            show_order(crm, record, as_json)


def add_order_file_commands(sub: typer.Typer) -> None:
    """Orders with several lines in a file: one row per line, grouped by the order key."""

    @sub.command("import-lines", epilog="crm orders import-lines 订单明细.csv --dry-run")
    def import_lines_(
        file: Annotated[Path, typer.Argument(show_default=False)],
        db: DbOpt = None, as_json: JsonOpt = False,
        rejects: Annotated[Path | None, typer.Option("--rejects", show_default=False)] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
        ignore_unknown: Annotated[bool, typer.Option("--ignore-unknown")] = False,
    ) -> None:
        from crm_tui.api.order_import import ImportFileError, import_lines

        with open_crm(db, create=True) as crm:
            try:
                report = import_lines(crm, file, dry_run=dry_run, rejects_path=rejects, ignore_unknown=ignore_unknown)
            except ImportFileError as exc:
                raise UserError(str(exc)) from None
        tell_line_import(report, as_json, dry_run)

    @sub.command("export-lines", epilog="crm orders export-lines -o 订单明细.csv --chinese --encoding gbk")
    def export_lines_(
        output: Annotated[Path, typer.Option("--output", "-o", show_default=False)],
        chinese: Annotated[bool, typer.Option("--chinese")] = False,
        encoding: Annotated[str, typer.Option("--encoding")] = "utf-8",
        db: DbOpt = None,
    ) -> None:
        from crm_tui.api.order_import import export_lines

        check_encoding(encoding)
        with open_crm(db) as crm:
            count = export_lines(crm, output, chinese=chinese, encoding=encoding)
        console.print(t("import_lines.written", count=count, path=output), highlight=False)


def check_encoding(encoding: str) -> None:
    """The encodings a line file is written in."""
    if encoding.lower() not in ("utf-8", "utf8", "gbk", "gb18030", "gb2312"):
        raise UserError(t("import_lines.bad_encoding", encoding=repr(encoding)))


def tell_line_import(report: "LinesReport", as_json: bool, dry_run: bool) -> None:
    """What an import of a line file did (orders, quotations): warnings, the bad rows
    by line and field, the summary; exit 1 when rows were bad (nothing written)."""
    for warning in report.warnings:
        err_console.print(f"[yellow]{t('cli.warning')}{t('sep.label')}[/yellow]{escape(str(warning))}", highlight=False, soft_wrap=True)
    for reject in report.rejected[:1000]:
        err_console.print(f"[red]{t('cli.error')}{t('sep.label')}[/red]{escape(str(reject))}", highlight=False, soft_wrap=True)
    if len(report.rejected) > 1000:
        err_console.print(t("import.more_bad", n=len(report.rejected) - 1000), highlight=False, soft_wrap=True)
    if as_json:
        print_json(report.as_dict())
    elif report.rejected:
        err_console.print(t("import_lines.nothing", bad=len(report.rejected), rows=report.rows,
                            path=report.rejects_path), highlight=False, soft_wrap=True)
    else:
        console.print((t("import.dry_run") if dry_run else "") + report.summary(), highlight=False,
                      soft_wrap=True)
    if report.rejected:
        raise typer.Exit(1)
