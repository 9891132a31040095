"""The `crm` command: a thin typer layer over `crm_tui.api`. Each command parses its
arguments, makes one or a few API calls and prints the result.

Every start builds the whole command tree, reading each command's annotations: the
command modules therefore keep them as objects (no `from __future__ import
annotations`, which would make typer `eval` each one again at every start)."""

from __future__ import annotations

from typing import Annotated

import typer

from crm_tui.cli.common import CrmGroup, DbOpt

app = typer.Typer(
    cls=CrmGroup,
    no_args_is_help=False,
    invoke_without_command=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _show_version(asked: bool) -> None:
    """`crm --version`: the installed version, and what a laptop and a server must
    agree on (the database's schema, the sync protocol), for a bug report."""
    if not asked:
        return
    from importlib.metadata import PackageNotFoundError, version

    from crm_tui.db.migrations import SCHEMA_VERSION
    from crm_tui.i18n import t
    from crm_tui.sync.protocol import PROTOCOL_VERSION

    try:
        installed = version("crm_tui")
    except PackageNotFoundError:  # run from a source tree that was never installed
        installed = "?"
    typer.echo(t("cli.version.text", version=installed, schema=SCHEMA_VERSION, protocol=PROTOCOL_VERSION))
    raise typer.Exit()


@app.callback()
def root(ctx: typer.Context, db: DbOpt = None,
         version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True)] = False) -> None:
    if ctx.invoked_subcommand is None:
        from crm_tui.cli.ui import open_ui

        open_ui(db)


def _register() -> None:
    # Each module adds its commands to `app` when imported.
    from crm_tui.cli import agenda, analytics, backup, data, encryption, quotes, records, server, sync  # noqa: F401


_register()


def run() -> None:
    """Run the command of sys.argv; SystemExit with its exit code, as typer ends."""
    app()


def main() -> None:
    """The `crm` program: the command, then the end of the process (`_exit`)."""
    try:
        run()
        code: str | int | None = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, (str, int)) or exc.code is None else str(exc.code)
    _exit(code)


def _exit(code: str | int | None) -> None:
    """End the process as `sys.exit(code)` would, without tearing the interpreter
    down when nothing else runs: freeing every object one by one at exit took
    0.1-0.3 s after any command that met a Chinese name (pypinyin's dictionaries
    alone, 0.1 s), a tenth of a 30k-row import, and the process ends anyway. The
    exit handlers still run (atexit: logging, temporary files) and the output is
    flushed; with another thread still running, the interpreter ends as usual."""
    import atexit
    import os
    import sys
    import threading

    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # a message, as sys.exit prints it
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (crm ... | head), a closed stream
            status = status or 120  # what the interpreter answers when it cannot flush
    os._exit(status & 0xFF)
