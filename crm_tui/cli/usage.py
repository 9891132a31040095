"""Typer's and click's own texts in the user's language: usage errors (a mistyped
option, a bad value, a missing argument), the frame they are shown in ("Usage:",
"Try ... for help", the panel titles) and the titles of the help screens' panels.

typer 0.28 runs a vendored click whose messages are English f-strings that gettext
cannot reach, so a usage error is rebuilt here from its type and attributes (the
option, the parameter's hint, the possibilities) and, for the messages a parameter
type writes (not one of the choices, not a valid integer, a file that does not
exist), from the one fixed wording each has. A message this module does not know
keeps its own text inside the translated frame rather than being lost."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Sequence
from enum import Enum
from types import ModuleType
from typing import Any

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style

from crm_tui.i18n import os_reason, t

try:  # newer typer runs on its own copy of click
    from typer._click import exceptions as click_errors
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter
except ImportError:  # pragma: no cover - older typer on the real click
    from click import exceptions as click_errors  # type: ignore[no-redef]
    from click.core import Context  # type: ignore[assignment]
    from click.formatting import HelpFormatter  # type: ignore[assignment]


ClickException = click_errors.ClickException


class LocalizedUsageError(click_errors.UsageError):
    """A usage error whose message is already in the user's language (exit code 2)."""


class LocalizedError(click_errors.ClickException):
    """Any other click error (a file that cannot be opened) in the user's language."""


class CatalogHelpFormatter(HelpFormatter):
    """Click's formatter with the catalog's "Usage:" before the command line and its
    names for the placeholders of options and subcommands after it."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        args = args.replace("COMMAND [ARGS]...", t("cli.usage.command_metavar")).replace(
            "[OPTIONS]", t("cli.usage.options_metavar"))
        super().write_usage(prog, args, t('cli.usage.usage') if prefix is None else prefix)


class WrappingConsole(Console):
    """The console typer draws help and errors on: text is broken into lines as
    Chinese is written (widgets/wrap, the rule of the UI's long texts), and a table
    cell's text that does not fit its column goes on to the next line instead of
    ending in "…".

    rich breaks text only at spaces, and cuts a cell's line with "…" (its tables'
    default) in two cases that Chinese meets all the time: a run of text with no
    space wider than the column (Chinese has no spaces between words), and a wrapped
    line that exactly fills the column and ends in a space, which rich fails to drop
    because it counts that line's characters, not its cells (a Chinese character
    takes two) before cutting it to the width. Folding breaks the first anywhere and
    crops only the trailing space of the second; the help's texts then needed a
    space after each full-width comma or colon to break at ("客户， 公司"), and a line
    could start with "，"."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        import rich.text  # typer's renderer has loaded it

        from crm_tui.widgets.wrap import line_spans  # rich alone: no textual

        def divide_line(text: str, width: int, fold: bool = True) -> list[int]:
            """Where rich's Text.wrap starts each line after the first."""
            return [start for start, _ in line_spans(text, width)[1:]]

        # rich.text looks its line breaker up by name at each wrap; for as long as
        # this print draws, that is the Chinese one.
        rich_breaker = rich.text.divide_line
        rich.text.divide_line = divide_line
        try:
            super().print(*objects, **kwargs)
        finally:
            rich.text.divide_line = rich_breaker

    def render_lines(self, renderable: Any, options: ConsoleOptions | None = None, *,
                     style: Style | None = None, pad: bool = True, new_lines: bool = False) -> list[list[Segment]]:
        if options is not None and options.overflow == "ellipsis":
            options = options.update(overflow="fold")
        return super().render_lines(renderable, options, style=style, pad=pad, new_lines=new_lines)


def localize_frame() -> None:
    """Points typer's frame texts at the catalog in the current language: the error
    panel's title, "Try ... for help", "Aborted." and the help screens' panel titles
    and tags. typer reads these module constants each time it draws, so this runs once
    the language is known, and only when a help or an error may be drawn: typer's
    renderer costs a command that prints neither."""
    rich_utils: Any = help_renderer()  # typer.rich_utils, found at run time
    for name, key in (("ERRORS_PANEL_TITLE", "error_title"), ("RICH_HELP", "try_help"),
                      ("ABORTED_TEXT", "aborted"), ("ARGUMENTS_PANEL_TITLE", "arguments"),
                      ("OPTIONS_PANEL_TITLE", "options"), ("COMMANDS_PANEL_TITLE", "commands"),
                      ("DEFAULT_STRING", "default"), ("REQUIRED_LONG_STRING", "required"),
                      ("ENVVAR_STRING", "envvar"), ("DEPRECATED_STRING", "deprecated")):
        setattr(rich_utils, name, t(f"cli.usage.{key}"))
    # Every context (the command's and its subcommands') formats its usage line with it.
    Context.formatter_class = CatalogHelpFormatter
    # typer builds the console it draws help and errors on from this name
    rich_utils.Console = WrappingConsole


# What typer's renderer imports from rich only for what `crm` never asks of it: the
# "markdown" markup mode (rich.markdown, which loads markdown-it: ~45 ms of CPU) and
# pretty tracebacks (rich.traceback, which loads pygments). `crm` renders help with
# rich_markup_mode="rich" and pretty_exceptions_enable=False.
_UNUSED_BY_CRM = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}


def _deferred(module: str, name: str) -> type:
    """A stand-in for class `name` of `module` that makes the real one when called."""

    class Deferred:
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module(module), name)(*args, **kwargs)

    Deferred.__name__ = Deferred.__qualname__ = name
    return Deferred


def help_renderer() -> ModuleType:
    """typer's help and error renderer (typer.rich_utils), imported without loading
    rich's Markdown and Traceback: while it imports, `rich.markdown` and
    `rich.traceback` are stand-in modules whose classes load the real ones if ever
    called, then they are taken out of `sys.modules`, so any other import of them
    gets the real module. Should typer come to import anything else from them, the
    renderer is imported the ordinary way."""
    if "typer.rich_utils" in sys.modules:
        return sys.modules["typer.rich_utils"]
    stand_ins: dict[str, ModuleType] = {}
    for module, name in _UNUSED_BY_CRM.items():
        if module not in sys.modules:
            stand_in = ModuleType(module, "a stand-in while typer's renderer imports (crm_tui.cli.usage)")
            setattr(stand_in, name, _deferred(module, name))
            stand_ins[module] = sys.modules[module] = stand_in
    try:
        return importlib.import_module("typer.rich_utils")
    except ImportError:  # typer takes more from them than the stand-ins have
        pass
    finally:
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]
    return importlib.import_module("typer.rich_utils")


def localized(exc: click_errors.ClickException) -> click_errors.ClickException:
    """`exc` with its message from the catalog, in the current language; `exc` itself
    when it is already translated, is the help shown for a bare group, or is not a
    message this module knows."""
    if isinstance(exc, (LocalizedUsageError, LocalizedError, click_errors.NoArgsIsHelpError)):
        return exc
    message = _message(exc)
    if message is None:
        return exc
    out: click_errors.ClickException
    if isinstance(exc, click_errors.UsageError):
        out = LocalizedUsageError(message, exc.ctx)
    else:
        out = LocalizedError(message)
    out.exit_code = exc.exit_code
    return out


def _message(exc: click_errors.ClickException) -> str | None:
    if isinstance(exc, click_errors.NoSuchOption):
        if exc.possibilities:
            return t("cli.usage.no_such_option_possible", option=exc.option_name,
                     options=", ".join(sorted(exc.possibilities)))
        return t("cli.usage.no_such_option", option=exc.option_name)
    if isinstance(exc, click_errors.MissingParameter):
        return _missing(exc)
    if isinstance(exc, click_errors.BadParameter):
        hint = _hint(exc)
        reason = _rewrite(exc.message, _VALUE_MESSAGES)
        return t("cli.usage.bad_value", name=hint, reason=reason) if hint else t("cli.usage.bad_value_bare", reason=reason)
    if isinstance(exc, click_errors.FileError):
        return t("cli.usage.file_error", file=repr(exc.ui_filename), reason=os_reason(exc.message))
    if isinstance(exc, click_errors.UsageError):
        return _option_meant(exc) or _rewrite(exc.message, _USAGE_MESSAGES)
    return None


def _option_meant(exc: click_errors.UsageError) -> str | None:
    """`crm sync status` for `crm sync --status`: a command word that is no command
    of the group but one of its options, named as the option it is."""
    match = re.fullmatch(r"No such command '(?P<name>[\w-]+)'\..*", exc.message.strip(), re.S)
    if match is None or exc.ctx is None:
        return None
    option = f"--{match['name']}"
    if not any(option in param.opts for param in exc.ctx.command.params):
        return None
    return t("cli.usage.no_such_command_option", name=repr(match["name"]),
             command=f"{exc.ctx.command_path} {option}")


def _hint(exc: click_errors.BadParameter) -> str | None:
    """How click names the parameter: "'--limit' / '-n'", "'file'"."""
    hint: Sequence[str] | str | None = exc.param_hint
    if hint is None and exc.param is not None:
        hint = exc.param.get_error_hint(exc.ctx) if exc.ctx is not None else repr(exc.param.name)
    if hint is not None and not isinstance(hint, str):
        hint = " / ".join(repr(x) for x in hint)
    return hint


def _missing(exc: click_errors.MissingParameter) -> str:
    kind = exc.param_type or (exc.param.param_type_name if exc.param is not None else "parameter")
    hint = _hint(exc) or ""
    key = f"cli.usage.missing_{kind if kind in ('argument', 'option') else 'parameter'}"
    choices = getattr(exc.param.type, "choices", None) if exc.param is not None else None
    if choices:
        text = t(f"{key}_choices", name=hint, choices=", ".join(
            str(c.value) if isinstance(c, Enum) else str(c) for c in choices))
    else:
        text = t(key, name=hint)
    # a message given by whoever raised it is theirs, in the user's language already
    return f"{text} {exc.message}" if exc.message else text


def _type_name(match: re.Match[str]) -> dict[str, str]:
    return {"value": match["value"], "type": t(f"cli.usage.type.{match['type'].replace(' ', '_')}")}


def _path(match: re.Match[str]) -> dict[str, str]:
    return {"kind": t(f"cli.usage.path_kind.{match['kind'].lower()}"), "path": match["path"]}


def _os(match: re.Match[str]) -> dict[str, str]:
    return {"file": match["file"], "reason": os_reason(match["reason"])}


Rule = tuple[re.Pattern[str], str, Callable[[re.Match[str]], dict[str, Any]]]


def _groups(match: re.Match[str]) -> dict[str, Any]:
    return match.groupdict()


# The messages click's and typer's parameter types write when a value does not convert,
# each with the catalog text that says the same (the part after "Invalid value for X:").
_VALUE_MESSAGES: list[Rule] = [
    (re.compile(r"(?P<value>.+) is not one of (?P<choices>.+)\."), "cli.usage.not_one_of", _groups),
    (re.compile(r"(?P<value>.+) is not a valid boolean\. Recognized values: (?P<values>.+)"), "cli.usage.not_boolean", _groups),
    (re.compile(r"(?P<value>.+) is not a valid (?P<type>int range|float range|integer|int|float)\."),
     "cli.usage.not_valid", _type_name),
    (re.compile(r"(?P<value>.+) is not in the range (?P<range>.+)\."), "cli.usage.not_in_range", _groups),
    (re.compile(r"(?P<value>.+) does not match the formats (?P<formats>.+)\."), "cli.usage.not_a_date", _groups),
    (re.compile(r"(?P<kind>File|Directory|Path) (?P<path>.+) does not exist\."), "cli.usage.path_missing", _path),
    (re.compile(r"(?P<kind>File|Directory|Path) (?P<path>.+) is a file\."), "cli.usage.path_is_file", _path),
    (re.compile(r"(?P<kind>File|Directory|Path) (?P<path>.+) is a directory\."), "cli.usage.path_is_dir", _path),
    (re.compile(r"(?P<kind>File|Directory|Path) (?P<path>.+) is not readable\."), "cli.usage.path_unreadable", _path),
    (re.compile(r"(?P<kind>File|Directory|Path) (?P<path>.+) is not writable\."), "cli.usage.path_unwritable", _path),
    (re.compile(r"(?P<want>\d+) values are required, but (?P<got>\d+) given\."), "cli.usage.values_count", _groups),
    (re.compile(r"Takes (?P<want>\d+) values but (?P<got>\d+) given\."), "cli.usage.values_count", _groups),
    (re.compile(r"Value must be an iterable\."), "cli.usage.not_iterable", _groups),
    (re.compile(r"(?P<file>'.*'): (?P<reason>.+)"), "cli.usage.cannot_open", _os),
]

# The messages of usage errors that carry no attributes to build them from.
_USAGE_MESSAGES: list[Rule] = [
    (re.compile(r"No such command (?P<name>.+?)\.(?: Did you mean (?P<suggestions>.+)\?)?"), "cli.usage.no_such_command",
     _groups),
    (re.compile(r"Missing command\."), "cli.usage.missing_command", _groups),
    (re.compile(r"Got unexpected extra argument\(s\) \((?P<args>.*)\)"), "cli.usage.extra_arguments", _groups),
    (re.compile(r"Option (?P<option>.+) requires an argument\."), "cli.usage.option_needs_value", _groups),
    (re.compile(r"Option (?P<option>.+) requires (?P<n>\d+) arguments\."), "cli.usage.option_needs_values", _groups),
    (re.compile(r"Option (?P<option>.+) does not take a value\."), "cli.usage.option_takes_no_value", _groups),
    (re.compile(r"Argument (?P<name>.+) takes (?P<n>\d+) values\."), "cli.usage.argument_values", _groups),
]


def _rewrite(message: str, rules: list[Rule]) -> str:
    """The catalog's text for `message`, or `message` as it is when no rule knows it:
    a message our own commands raise is already in the user's language."""
    for pattern, key, values in rules:
        match = pattern.fullmatch(message.strip())
        if match:
            filled = {name: value for name, value in values(match).items() if value is not None}
            # typer appends "Did you mean ...?" to an unknown command when one is close
            return t(f"{key}_suggest" if "suggestions" in filled else key, **filled)
    return message
