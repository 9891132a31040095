"""What every CLI command shares: the --db and --json options, opening the API,
printing records as a rich table or JSON, and turning API errors into messages."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from crm_tui.api import Crm, DatabaseError, NotFound, ValidationError
from crm_tui.config import ConfigError

try:  # typer >= 0.16 runs on its own copy of click, with its own context stack
    from typer._click.globals import get_current_context
except ImportError:  # pragma: no cover - older typer on the real click
    from click import get_current_context

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # messages stay one line each, for grep

DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="Database file (default: $CRM_DB, then the user data directory).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


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


def open_crm(db: Path | None) -> Crm:
    return Crm(db_path(db))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, title: str | None = None,
                caption: str | None = None) -> None:
    table = Table(title=title, caption=caption, header_style="bold")
    for col in columns:
        table.add_column(col.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


def print_record(record: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in record.items():
        table.add_row(key.replace("_", " "), "" if value is None else str(value))
    console.print(table)


def report_errors(errors: Iterable[str]) -> None:
    for line in errors:
        err_console.print(f"[red]error:[/red] {line}", highlight=False, markup=True)


class CrmGroup(TyperGroup):
    """Turns the API's errors into a message and exit code 1 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            report_errors(str(e) for e in exc.errors)
        except (NotFound, DatabaseError, ConfigError, UserError) as exc:
            report_errors([str(exc)])
        raise typer.Exit(1)
