"""The `crm` command: a thin typer layer over `crm_tui.api`. Each command parses its
arguments, makes one or a few API calls and prints the result.

Every start builds the whole command tree, reading each command's annotations: the
command modules therefore keep them as objects (no `from __future__ import
annotations`, which would make typer `eval` each one again at every start)."""

from __future__ import annotations

import typer

from crm_tui.cli.common import CrmGroup, DbOpt

app = typer.Typer(
    cls=CrmGroup,
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


@app.callback()
def root(ctx: typer.Context, db: DbOpt = None) -> None:
    if ctx.invoked_subcommand is None:
        from crm_tui.cli.ui import open_ui

        open_ui(db)


def _register() -> None:
    # Each module adds its commands to `app` when imported.
    from crm_tui.cli import analytics, backup, data, encryption, quotes, records, server, sync  # noqa: F401


_register()


def main() -> None:
    app()
