"""`crm quotes add|list|show|edit|delete|accept|render|import|export`: quotations (报价单)
from the command line, each one call into `crm.quote_book` or, for files of quotations
with their lines, `crm_tui.api.quote_file` (rules and checks live in the API)."""


from pathlib import Path
from typing import Annotated, Any

import typer

from crm_tui.cli import app
from crm_tui.cli.common import (
    ROWS_MAX,
    DbOpt,
    JsonOpt,
    UserError,
    cell_text,
    confirm,
    console,
    err_console,
    open_crm,
    print_added,
    print_json,
    print_record,
    print_table,
)
from crm_tui.domain.orders import parse_line
from crm_tui.i18n import money, t

quotes_app = typer.Typer(no_args_is_help=True)
app.add_typer(quotes_app, name="quotes")

IdArg = Annotated[str, typer.Argument(metavar="ID")]
LinesOpt = Annotated[list[str] | None, typer.Option("--line", "-l", show_default=False)]


def _opt(flag: str) -> Any:
    return typer.Option(flag, show_default=False)


TitleOpt = Annotated[str | None, _opt("--title")]
DateOpt = Annotated[str | None, _opt("--date")]
ValidOpt = Annotated[str | None, _opt("--valid-until")]
TermsOpt = Annotated[str | None, _opt("--terms")]
NotesOpt = Annotated[str | None, _opt("--notes")]

SUMMARY = ["id", "quoted_on", "customer_name", "title", "amount", "status", "valid_until"]
_STATUS = {"status": "choice.quotes.status"}  # a quote's status codes, as the catalog names them
LINE_COLUMNS = ["position", "sku", "product", "quantity", "unit_price", "discount", "amount"]


def _show(quote: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(quote)
        return
    lines, totals = quote["lines"], quote["totals"]
    head = {k: v for k, v in quote.items() if k not in ("lines", "totals", "expired")}  # expired: in the status
    head["status"] = cell_text("status", quote["status"], _STATUS)
    if quote.get("expired"):
        head["status"] += f" ({t('quotes.expired')})"
    print_record(head, "quotes")
    print_table(lines, LINE_COLUMNS, title=t("quotes.cli_lines"), table="quote_lines")
    console.print(t("quotes.cli_totals", subtotal=money(totals["subtotal"]), discount=money(totals["discount"]),
                    total=money(totals["total"])), highlight=False, soft_wrap=True, markup=False)


@quotes_app.command("add", epilog="crm quotes add --opportunity 01JB2X --line SN-100:3::5 --line 安装费:1:800 --terms '预付30%，30天交货'")
def add(opportunity: Annotated[str | None, _opt("--opportunity")]
        = None,
        customer: Annotated[str | None, _opt("--customer")] = None,
        line: LinesOpt = None, title: TitleOpt = None, date: DateOpt = None, valid_until: ValidOpt = None,
        terms: TermsOpt = None, notes: NotesOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        quote = crm.quote_book.add({"opportunity_id": opportunity, "customer_id": customer, "title": title,
                                    "quoted_on": date, "valid_until": valid_until, "terms": terms, "notes": notes},
                                   [parse_line(text) for text in line or []])
    print_added("quotes", quote, as_json, lambda as_json: _show(quote, as_json))


@quotes_app.command("list", epilog="crm quotes list --opportunity 01JB2X")
def list_(customer: Annotated[str | None, _opt("--customer")] = None,
          opportunity: Annotated[str | None, _opt("--opportunity")] = None,
          status: Annotated[str | None, _opt("--status")]
          = None,
          limit: Annotated[int | None, typer.Option("--limit", "-n", min=1, max=ROWS_MAX, show_default=False)] = None,
          db: DbOpt = None, as_json: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        rows = crm.quote_book.find(customer_id=customer, opportunity_id=opportunity, status=status, limit=limit)
    if as_json:
        print_json(rows)
        return
    shown = [{**r, "status": cell_text("status", r["status"], _STATUS) + (f" ({t('quotes.expired')})" if r["expired"] else "")}
             for r in rows]
    print_table(shown, SUMMARY, title=t("quotes.cli_count", count=len(rows)), table="quotes")


@quotes_app.command("show", epilog="crm quotes show 01JF3Q")
def show(quote_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        quote = crm.quote_book.get(quote_id)
    _show(quote, as_json)


@quotes_app.command("edit", epilog="crm quotes edit 01JF3Q --status sent --valid-until 2026-12-31")
def edit(quote_id: IdArg, line: LinesOpt = None, title: TitleOpt = None, date: DateOpt = None,
         valid_until: ValidOpt = None, terms: TermsOpt = None, notes: NotesOpt = None,
         status: Annotated[str | None, _opt("--status")]
         = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    changes = {k: v for k, v in {"title": title, "quoted_on": date, "valid_until": valid_until, "terms": terms,
                                 "notes": notes, "status": status}.items() if v is not None}
    if not changes and not line:
        raise UserError(t("cli.say.quote_nothing_to_change"))
    with open_crm(db) as crm:
        quote = crm.quote_book.edit(quote_id, changes, [parse_line(text) for text in line] if line else None)
    if not as_json:
        console.print(t("quotes.cli_updated", id=quote["id"]), highlight=False, soft_wrap=True, markup=False)
    _show(quote, as_json)


@quotes_app.command("delete", epilog="crm quotes delete 01JF3Q --yes")
def delete(quote_id: IdArg, yes: Annotated[bool, typer.Option("--yes", "-y")] = False,
           db: DbOpt = None, as_json: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        quote = crm.quote_book.get(quote_id)
        if not yes and not confirm(t("cli.say.delete_quote", id=quote["id"], title=quote.get("title") or "")):
            raise typer.Exit(1)
        crm.quote_book.delete(quote["id"])
    if as_json:
        print_json(quote)
    else:
        console.print(t("quotes.cli_deleted", id=quote["id"]), highlight=False, soft_wrap=True, markup=False)


@quotes_app.command("accept", epilog="crm quotes accept 01JF3Q")
def accept(quote_id: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    with open_crm(db) as crm:
        quote, order, deal = crm.quote_book.accept(quote_id)
    if as_json:
        print_json({"quote": quote, "order": order, "opportunity": deal})
        return
    said = t("quotes.cli_accepted", id=quote["id"], order=order["id"], amount=money(order["amount"]))
    if deal:
        said += "; " + t("quotes.cli_won", id=deal["id"])
    console.print(said, highlight=False, soft_wrap=True, markup=False)


@quotes_app.command("render", epilog="CRM_LANG=zh crm quotes render 01JF3Q --format html -o 报价单.html")
def render(quote_id: IdArg,
           fmt: Annotated[str, typer.Option("--format", "-f")] = "html",
           output: Annotated[Path | None, typer.Option("--output", "-o", show_default=False)] = None,
           lang: Annotated[str | None, _opt("--lang")]
           = None,
           db: DbOpt = None) -> None:
    from crm_tui.i18n import normalize_language, resolve_language

    if fmt != "html":
        raise UserError(t("cli.say.quote_format", value=repr(fmt)))
    if lang is not None and normalize_language(lang) is None:
        raise UserError(t("cli.say.bad_lang", value=repr(lang)))
    from crm_tui.api.output import output_file

    with open_crm(db) as crm:
        text = crm.quote_book.render(quote_id, lang=resolve_language(crm.config.lang, lang))
        database = crm.path
    if output is None:
        typer.echo(text, nl=False)
        return
    with output_file(output, database=database) as fh:
        fh.write(text)
    console.print(t("quotes.cli_written", path=str(output)), highlight=False, soft_wrap=True, markup=False)


@quotes_app.command("import", epilog="crm quotes import 报价单.csv --dry-run")
def import_(file: Annotated[Path, typer.Argument(show_default=False)],
            db: DbOpt = None, as_json: JsonOpt = False,
            rejects: Annotated[Path | None, _opt("--rejects")] = None,
            dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
            ignore_unknown: Annotated[bool, typer.Option("--ignore-unknown")] = False,
            sheet: Annotated[str | None, _opt("--sheet")] = None) -> None:
    from crm_tui.api.importing import ImportFileError
    from crm_tui.api.quote_file import import_quotes
    from crm_tui.cli.orders import tell_line_import

    with open_crm(db, create=True) as crm:
        try:
            report = import_quotes(crm, file, dry_run=dry_run, rejects_path=rejects, ignore_unknown=ignore_unknown,
                                   sheet=sheet)
        except ImportFileError as exc:
            raise UserError(str(exc)) from None
    tell_line_import(report, as_json, dry_run)


@quotes_app.command("export", epilog="crm quotes export --format xlsx -o 报价单.xlsx --chinese")
def export(db: DbOpt = None,
           fmt: Annotated[str, typer.Option("--format", "-f")] = "csv",
           output: Annotated[Path | None, typer.Option("--output", "-o", show_default=False)] = None,
           chinese: Annotated[bool, typer.Option("--chinese")] = False,
           encoding: Annotated[str, typer.Option("--encoding")] = "utf-8") -> None:
    from crm_tui.api.exporting import BINARY_FORMATS, FORMATS
    from crm_tui.api.quote_file import export_quotes
    from crm_tui.cli.orders import check_encoding

    if fmt not in FORMATS:
        raise UserError(t("cli.bad_format", fmt=repr(fmt), formats=", ".join(FORMATS)))
    if fmt in BINARY_FORMATS and output is None:
        raise UserError(t("cli.export_needs_output", fmt=fmt))
    check_encoding(encoding)
    with open_crm(db) as crm:
        count = export_quotes(crm, output, fmt=fmt, chinese=chinese, encoding=encoding)
    if output is not None:
        err_console.print(t("quote_file.written", count=count, path=output), highlight=False, soft_wrap=True,
                          markup=False)
