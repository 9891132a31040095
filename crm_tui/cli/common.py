"""What every CLI command shares: the --db and --json options, opening the API,
printing records as a rich table or JSON, and turning API errors into messages."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup
from typer.exceptions import Abort

from crm_tui.api import Crm, DatabaseError, DatabaseMissing, NotFound, ValidationError
from crm_tui.cli.usage import ClickException, localize_frame, localized
from crm_tui.config import Config, ConfigError
from crm_tui.domain.entities import ENTITIES
from crm_tui.domain.times import is_time_name, shown_time
from crm_tui.domain.validation import display_phone
from crm_tui.i18n import (
    choice_label,
    entity_label,
    has,
    language,
    money,
    quantity,
    resolve_language,
    satisfaction,
    set_language,
    t,
    unit_price,
)

try:  # newer typer runs on its own copy of click, with its own context stack
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer on the real click
    from click import get_current_context  # type: ignore[no-redef]  # the same function, the real click's

if TYPE_CHECKING:  # the context type TyperGroup.invoke takes (typer's click, as installed)
    from typer._click import Command as ClickCommand
    from typer._click import Context as ClickContext

# The most rows a --limit may ask for (and the highest --since): SQLite's integers
# are 64-bit, and a bigger number ended in a traceback.
ROWS_MAX = 10**12

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # messages stay one line each, for grep

DbOpt = Annotated[
    Path | None,
    typer.Option("--db", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json")]


class UserError(Exception):
    """A mistake in the command line that is not a field of a record."""


def db_path(db: Path | None) -> Path | None:
    """`--db` given on the command itself wins over the one before the subcommand."""
    if db is not None:
        return db
    ctx = get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("db"):
            return ctx.params["db"]
        ctx = ctx.parent
    return None


def open_crm(db: Path | None, *, create: bool = False, encrypt: bool = False, key: str | None = None) -> Crm:
    """The API on the command's database. Only commands that put data in (init, add,
    import, seed, demo, sync) may create it: a mistyped --db for any other command is
    an error, not a new empty database. An encrypted database whose key is neither
    in $CRM_DB_KEY nor in the keyring asks for it on a terminal."""
    path = db_path(db)
    if key is None and not encrypt:
        from crm_tui.api import encryption

        if encryption.needs_key(path):
            from crm_tui.cli.encryption import ask_key
            from crm_tui.config import resolve_db_path

            key = ask_key(resolve_db_path(path))
    try:
        crm = Crm(path, create=create, key=key, encrypt=encrypt)
    except DatabaseMissing as exc:
        raise UserError(t("db.missing_hint", error=exc)) from None
    for notice in crm.notices:
        err_console.print(f"[yellow]{t('cli.notice')}{t('sep.label')}[/yellow]{escape(notice)}", highlight=False)
    if crm.is_demo:
        demo_notice(crm.path)
    return crm


def demo_notice(path: Path) -> None:
    """One line on stderr whenever a command works on the demo, not the user's own book."""
    err_console.print(f"[yellow]{escape(t('demo.cli_notice', path=path))}[/yellow]", highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_added(table: str, record: Mapping[str, Any], as_json: bool, show: Callable[[bool], None]) -> None:
    """What every `add` prints, one rule for all, as gh does: to a script (stdout a
    pipe or a file) the new record's id alone on one line, so `K=$(crm complaints add
    …)` holds the id; on a terminal a confirmation naming it and the record as `show`
    prints it; with --json the record (`show(True)`), wherever it goes."""
    if as_json:
        show(True)
    elif sys.stdout.isatty():
        console.print(t("cli.added", entity=t(f"entity.{table}"), id=record["id"]), highlight=False, soft_wrap=True)
        show(False)
    else:
        sys.stdout.write(f"{record['id']}\n")


FOLDED_WIDTH = 24
# A record id as the product makes them: a ULID, 26 digits of Crockford's base32.
_RECORD_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
# A number as a table shows it: a count, an amount (1,234.50), a share (12.5%).
_NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?%?")


def column_title(name: str, table: str | None = None) -> str:
    """A column as the user reads it: in English the field's name as scripts and
    --where use it ('next_action' -> 'next action'); in another language the field's
    label (下一步行动; a product's `name` is 产品名称 where a person's is 姓名, so the
    records' `table` comes first), or the name the reports give that measure
    (recency_days -> 距上次消费天数)."""
    if language() != "en":
        for key in (f"field.{table}.{name}", f"field.{name}", f"report.csv.measure.{name}", f"column.{name}",
                    f"cli.column.{name}"):
            if has(key):
                return t(key)
    return name.replace("_", " ")


# Columns of the CLI's tables that hold stored codes, and the catalog naming them.
_CODE_COLUMNS = {"segment": "report.segment", "stage": "report.stage", "from_stage": "report.stage",
                 "to_stage": "report.stage", "priority": "report.priority", "type": "choice.type",
                 "channel": "choice.channel", "purpose": "choice.purpose", "status": "report.status",
                 "outcome": "report.stage", "tbl": "entities", "op": "changes.op", "role": "server.role",
                 "kind": "server.kind", "active": "cli.bool"}


def cell_text(column: str, value: Any, codes: dict[str, str] | None = None) -> str:
    """A table cell: a stored code (Champions, lead, urgent, insert, True) as the
    catalog names it in a language other than English; anything else as it is.
    `codes` names the catalog of a column whose codes differ in this table (the
    status of an erase request)."""
    text = cell(column, value)
    prefix = (codes or {}).get(column) or _CODE_COLUMNS.get(column)
    if text and prefix and language() != "en":
        key = f"{prefix}.{text.lower().replace(chr(39), '').replace(' ', '_')}"
        if has(key):
            return t(key)
    return text


def counts_text(counts: dict[str, int]) -> str:
    """Records counted by table in the user's language: "3 customers, 13 visits" /
    "客户 3，拜访 13"."""
    return t("cli.list_sep").join(t("cli.count", n=n, records=entity_label(table)) for table, n in counts.items())


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str | None = None,
                caption: str | None = None, codes: dict[str, str] | None = None, table: str | None = None,
                markup: Collection[str] = ()) -> None:
    """A table of `rows`; `columns` come most important first, and those that do not
    fit the terminal are left out (with a note) rather than folded into slivers.
    `table` names the kind of record the rows are, for the columns' titles. A cell
    shows its text as it is (a customer named '[/]' or '[link=…]' is no markup), but
    in the `markup` columns, whose cells the command itself styles."""
    cells = [[cell_text(c, row.get(c), codes) for c in columns] for row in rows]
    # an id is copied into the next command: it never folds (a column left out for
    # width is named in the caption instead); other long text folds, so it claims at
    # most FOLDED_WIDTH
    ids = {col for i, col in enumerate(columns) if col == "id" or col.endswith("_id")
           or (cells and all(not r[i] or any(map(_RECORD_ID.fullmatch, r[i].split("\n"))) for r in cells))}
    # numbers line up by their last digit, as in a spreadsheet
    numbers = {col for i, col in enumerate(columns)
               if any(r[i] for r in cells) and all(_NUMBER.fullmatch(r[i]) or not r[i] for r in cells)}
    # a styled cell ("[red]2026-11-24[/]") is as wide as the text it shows
    plain = [[Text.from_markup(text).plain if col in markup else text for col, text in zip(columns, r, strict=True)]
             for r in cells] if markup else cells
    widths = [min(max([cell_len(column_title(col, table)), *(_cell_width(r[i]) for r in plain)]),
                  99 if col in ids else FOLDED_WIDTH) + 3
              for i, col in enumerate(columns)]
    shown = len(columns)
    while shown > 2 and sum(widths[:shown]) + 1 > console.width:
        shown -= 1
    if shown < len(columns):
        hidden = t("cli.list_sep").join(column_title(c, table) for c in columns[shown:])
        caption = f"{caption + ' · ' if caption else ''}{t('cli.hidden_columns', columns=hidden)}"
    shown_table = Table(title=title, caption=caption, header_style="bold")
    for col in columns[:shown]:
        shown_table.add_column(column_title(col, table), overflow="fold", no_wrap=col in ids,
                               justify="right" if col in numbers else "left")
    for row in cells:
        shown_table.add_row(*(text if col in markup else escape(text)
                              for col, text in zip(columns[:shown], row[:shown], strict=True)))
    console.print(shown_table)


def _cell_width(text: str) -> int:
    return max(map(cell_len, text.split("\n")))


def readable(record: dict[str, Any], table: str | None) -> dict[str, Any]:
    """A record of `table` as a list and a record's view both show it: phones as people
    read them (021 2995 0969) and, in a language other than English, stored codes as
    the catalog names them (potential -> 潜在客户). --json and exports keep E.164 and
    the codes."""
    ent = ENTITIES.get(table) if table else None
    if ent is None:
        return record
    shown = dict(record)
    for f in ent.fields:
        if f.name not in shown:
            continue
        if f.kind == "phone":
            shown[f.name] = display_phone(shown[f.name])
        elif f.kind == "enum" and language() != "en":
            shown[f.name] = choice_label(ent, f.name, shown[f.name])
    return shown


def print_record(record: dict[str, Any], table: str | None = None) -> None:
    shown = Table(show_header=False, box=None)
    shown.add_column(style="bold")
    shown.add_column(overflow="fold")
    for key, value in readable(record, table).items():
        shown.add_row(escape(column_title(key, table)), escape(cell(key, value)))
    console.print(shown)


# Columns that hold unit prices, kept to 6 decimals (crm_tui.i18n.unit_price).
PRICE_COLUMNS = frozenset({"unit_price", "list_price"})
# Columns of the CLI's tables that hold amounts of money: written as every screen writes them.
MONEY_COLUMNS = frozenset({"amount", "monetary", "sales", "gross_sales", "net_sales",
                           "refunds", "returns", "gross", "target", "weighted", "won", "forecast", "weighted_pipeline", "subtotal",
                           "total"})


def cell(name: str, value: Any) -> str:
    """A value as a table shows it: times local and to the minute, like the UI, and
    amounts as money (--json keeps both as stored)."""
    if value is None:
        return ""
    if name in MONEY_COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return money(value)
    if name in PRICE_COLUMNS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return unit_price(value)  # 0.0035 as it is kept, not 0.00
    if name == "quantity" and isinstance(value, float):
        return quantity(value)
    if name == "c" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return satisfaction(value)  # a survey's C = perceived / expected
    return shown_time(value) if is_time_name(name) else str(value)


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal in the user's language ("[y/N]" /
    "[是(y)/否(N)]") and understand the answer in either language: y, yes, 是, 好 ...
    for yes, n, no, 否, 不 ... or just Enter for no; anything else asks again.
    Ctrl+C or the end of the input aborts, which typer says in the frame's words.
    click's own confirm writes its "[y/N]" and "Error: invalid input" in English."""
    yes, no = _answers("yes"), _answers("no")
    while True:
        answer = typer.prompt(f"{question} {t('cli.confirm.choices')}", default="", show_default=False,
                              prompt_suffix="").strip().lower()
        if answer in yes:
            return True
        if answer in no or not answer:
            return False
        typer.echo(t("cli.confirm.again"))


def _answers(which: str) -> set[str]:
    from crm_tui.i18n import LANGUAGES, t_in

    return {word.lower() for lang in LANGUAGES for word in t_in(lang, f"cli.confirm.{which}").split()}


def report_errors(errors: Iterable[str]) -> None:
    for line in errors:
        # escaped: a message quotes the user's values and files ("[VIP] 张伟", "[sync]")
        err_console.print(f"[red]{t('cli.error')}{t('sep.label')}[/red]{escape(line)}", highlight=False, markup=True)


def cli_language() -> str:
    """The language of this command's output: CRM_LANG, the config's `lang`, the
    system locale (i18n.resolve_language). A broken config file is reported by the
    command that reads it, in English until then."""
    if os.environ.get("CRM_LANG"):
        return resolve_language()
    try:
        configured = Config.load().lang
    except ConfigError:
        configured = None
    return resolve_language(configured)


class CrmGroup(TyperGroup):
    """The root of `crm`: speaks the user's language from the start (click's usage
    errors too, with click's exit code 2), and turns the API's errors into a message
    and exit code 1 instead of a traceback."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        # --help is answered while the arguments are parsed: the language and the
        # help texts must be in place before
        if ctx.parent is None:
            set_language(cli_language())
            if ctx.resilient_parsing or any(a in ctx.help_option_names for a in args):
                from crm_tui.cli.helptext import localize

                # `crm --help` (or a help below it): the frame, the root and the list
                # of its commands. Only then: the catalog and typer's renderer cost a
                # command that prints none of them.
                localize_frame()  # "Usage:", the error panel, the help panels' titles
                localize(self, ctx, depth=0)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: ClickContext) -> list[str]:
        # what --help and shell completion list: by panel, the records first
        from crm_tui.cli.helptext import panel_order

        return panel_order(super().list_commands(ctx))

    def resolve_command(self, ctx: ClickContext,
                        args: list[str]) -> tuple[str | None, ClickCommand | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        # Below here a help is shown for --help, by a group given nothing to do, or
        # by shell completion (which parses resiliently): only then its texts are
        # needed (the biggest group takes some milliseconds)
        if ctx.parent is None and name and command is not None and \
                (not rest or ctx.resilient_parsing or any(a in ctx.help_option_names for a in rest)):
            from crm_tui.cli.helptext import localize

            localize_frame()
            localize(command, ctx, (name,))
        return name, command, rest

    def make_context(self, *args: Any, **kwargs: Any) -> ClickContext:
        try:
            return super().make_context(*args, **kwargs)
        except ClickException as exc:  # `crm --bogus`: before any subcommand
            localize_frame()
            raise localized(exc) from None

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except ClickException as exc:  # a subcommand's arguments, or a command's own BadParameter
            localize_frame()
            _localize_placeholders(exc)
            raise localized(exc) from None
        except Abort:  # Ctrl+C or the end of the input at a prompt: typer says "Aborted." in the frame's words
            localize_frame()
            raise
        except ValidationError as exc:
            report_errors(str(e) for e in exc.errors)
        except (NotFound, DatabaseError, ConfigError, UserError) as exc:
            report_errors([str(exc)])
        raise typer.Exit(1)


def _localize_placeholders(exc: ClickException) -> None:
    """The names of the arguments of the command a usage error is about, in the
    user's language: the error names one ('缺少参数 '文件''), its usage line all."""
    ctx = getattr(exc, "ctx", None)
    if ctx is None or ctx.parent is None:
        return
    from crm_tui.cli.helptext import localize_placeholders

    path: list[str] = []
    at = ctx
    while at.parent is not None:
        path.insert(0, at.info_name or "")
        at = at.parent
    localize_placeholders(ctx.command, ctx, tuple(path))


class LazyGroup(TyperGroup):
    """A group whose commands are made when first asked for (click's lazy
    subcommands): typer reads every command's signature to make it, and `crm --help`
    or `crm customers list` needs none of another group's. Up to then the group is its
    name and its text (the catalog's), all a list of commands shows. A subclass per
    group says how to make the commands (`make`) and under which Typer (`parent`), see
    `add_lazy_group`."""

    make: Callable[[], typer.Typer]
    parent: typer.Typer
    _made: MutableMapping[str, ClickCommand] | None = None

    @property  # click's attribute, made on first read
    def commands(self) -> MutableMapping[str, ClickCommand]:
        if self._made is None:
            from typer.main import get_group_from_info
            from typer.models import TyperInfo

            # as typer would have made them inside `parent`, with its settings
            made = get_group_from_info(TyperInfo(type(self).make()),
                                       pretty_exceptions_short=self.parent.pretty_exceptions_short,
                                       rich_markup_mode=self.parent.rich_markup_mode,
                                       suggest_commands=self.parent.suggest_commands)
            self._made = made.commands
        return self._made

    @commands.setter
    def commands(self, commands: MutableMapping[str, ClickCommand]) -> None:
        self._made = commands or None  # typer makes every group with {}: not made yet

    @property
    def is_made(self) -> bool:
        return self._made is not None


def add_lazy_group(parent: typer.Typer, name: str, make: Callable[[], typer.Typer], **settings: Any) -> None:
    """Adds the group `name` to `parent`, its commands made by `make` only when a
    command line goes to them (or their help is shown); `settings` are the group's
    own (no_args_is_help ...)."""
    group = type(f"LazyGroup_{name}", (LazyGroup,), {"make": staticmethod(make), "parent": parent})
    parent.add_typer(typer.Typer(cls=group, **settings), name=name)
