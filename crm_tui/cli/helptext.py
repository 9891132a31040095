"""Every `--help` of `crm` in the user's language. The texts live in the catalog's
`cmd` tables, keyed by the command's path (`cmd.customers.list.about`, its options
`cmd.customers.list.opt.search`, its arguments `...arg.file`); the commands in code
carry none of them, only their example (the epilog), a command line that reads the
same in every language. The root command (cli/common.CrmGroup) calls `localize`
while it parses the command line, before any --help is answered: on itself and the
list of its commands, then on the group or command the line goes to when a help may
be shown there.

An option's text is looked up from the command outwards: the command, then the
template of its verb when it is one of the commands every record kind has
(`cmd.records.list.opt.where`), the label of the field it sets, then each group
above it and the root (`cmd.opt.db` for every --db)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from crm_tui.domain.entities import ENTITIES, Entity, Field
from crm_tui.i18n import entity_label, entity_name, field_label, has, t

if TYPE_CHECKING:  # typer's own copy of click, as installed
    from typer._click import Command, Context, Parameter

Path = tuple[str, ...]
RECORDS = "records"  # the catalog table of the verbs every record kind has (add, list ... export)


def walk(command: Command, path: Path = ()) -> Iterator[tuple[Path, Command]]:
    """Every command a user can see, with its path ('customers', 'list'); the root is ()."""
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        if not sub.hidden:
            yield from walk(sub, (*path, name))


def visible_params(command: Command, ctx: Context) -> list[Parameter]:
    """The options and arguments `--help` shows, --help itself included."""
    params = [p for p in command.params if not getattr(p, "hidden", False)]
    help_option = command.get_help_option(ctx)
    return [*params, help_option] if help_option is not None else params


def param_name(param: Parameter) -> tuple[str, str]:
    """('opt', 'skip-invalid') for --skip-invalid, as the user types it; ('arg', 'file') for FILE."""
    if getattr(param, "param_type_name", "") == "argument":
        return "arg", param.name or ""
    longs = [o for o in param.opts if o.startswith("--")] or list(param.opts)
    return "opt", longs[0].lstrip("-")


def _kind(path: Path) -> Entity | None:
    """The record kind of a command every record kind has (`customers list`), else None."""
    if len(path) != 2:
        return None
    from crm_tui.cli.records import KINDS  # here: records is built on the CLI this module serves

    if path[0] in KINDS and has(f"cmd.{RECORDS}.{path[1]}.about"):
        return ENTITIES[path[0]]
    return None


def _key(scope: Path, leaf: str) -> str:
    return ".".join(("cmd", *scope, leaf))


def command_keys(path: Path) -> list[str]:
    """Where the text of the command at `path` may be, most specific first."""
    keys = [_key(path, "about")]
    if _kind(path):
        keys.append(_key((RECORDS, path[1]), "about"))
    return keys


def param_keys(path: Path, param: Parameter) -> list[str]:
    """Where the text of an option or argument of the command at `path` may be."""
    kind, name = param_name(param)
    leaf = f"{kind}.{name}"
    keys = [_key(path, leaf)]
    ent = _kind(path)
    if ent is not None:
        keys.append(_key((RECORDS, path[1]), leaf))
        field = _field(ent, path, param)
        if field is not None:
            keys.append(field_key(field))
        keys.append(_key((RECORDS,), leaf))
    keys += [_key(path[:i], leaf) for i in range(len(path) - 1, -1, -1)]
    return keys


def _field(ent: Entity, path: Path, param: Parameter) -> Field | None:
    """The field an option of `add` or `edit` sets."""
    if path[1] in ("add", "edit") and param.name in ent.field_names:
        return ent.field(param.name)
    return None


def field_key(f: Field) -> str:
    """The catalog's text for an option that sets a field, by what the field holds."""
    if f.choices:
        form = "choices_or" if f.aliases else "choices"
    elif f.kind in ("date", "datetime", "tags", "ref"):
        form = f.kind
    elif f.kind == "refs":
        form = "refs_products" if f.ref == "products" else "refs"
    else:
        form = "plain"
    return f"cmd.field.{form}"


def _values(path: Path) -> dict[str, Any]:
    """What the templates of the record kinds' commands name: the kind and its fields."""
    ent = _kind(path)
    if ent is None:
        return {}
    from crm_tui.api.exporting import FORMATS
    from crm_tui.cli.records import TABLE_LIMIT

    return {"entity": entity_name(ent), "entities": entity_label(ent.table), "limit": TABLE_LIMIT,
            "formats": " | ".join(FORMATS),
            "searchable": t("cli.list_sep").join(field_label(ent, n) for n in ent.searchable)}


def _text(keys: list[str], values: dict[str, Any]) -> str | None:
    for key in keys:
        if has(key):
            return t(key, **values) if values else t(key)
    return None


def command_help(path: Path) -> str | None:
    """The text of the command at `path` in the current language (None: the catalog has none)."""
    return _text(command_keys(path), _values(path))


def param_help(path: Path, param: Parameter, values: dict[str, Any] | None = None) -> str | None:
    """The text of an option or argument of the command at `path` in the current language."""
    values = _values(path) if values is None else values
    ent = _kind(path)
    field = _field(ent, path, param) if ent is not None else None
    if ent is not None and field is not None:
        values = {**values, "label": field_label(ent, field.name), "choices": " | ".join(field.choices),
                  "aliases": " ".join(w for w, _ in field.aliases)}
    text = _text(param_keys(path, param), values)
    if text is None or field is None or path[1] != "add":
        return text  # an edit changes what it is given: nothing is required of it
    from crm_tui.cli.records import required_of_user

    needed = required_of_user(path[0], field.name)
    if needed == "yes":
        return t("cmd.required", text=text)
    return t("cmd.required_options.without_lines", text=text) if needed == "without_lines" else text


EXAMPLE = "crm_example"  # where a command keeps the example its code gave, once localized


# The root's commands in panels, in the order a new user looks for them: the records
# first, then what is made of them, then the team's server and the database itself.
# `crm --help` listed some forty commands in the order their modules were imported,
# the analyses first and the customers near the end.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("records", ("customers", "contacts", "visits", "agenda", "complaints", "orders", "products", "opportunities", "quotes",
                 "surveys", "targets")),
    ("analysis", ("pipeline", "forecast", "funnel", "report", "kpi", "rfm", "value", "classify", "cadence", "winback",
                  "greetings", "complaint-stats", "product-stats")),
    ("sync", ("login", "sync", "conflicts", "changes", "server")),
    ("data", ("init", "demo", "seed", "backup", "restore", "encrypt", "decrypt", "erase-requests")),
)


def panel_order(names: list[str]) -> list[str]:
    """The root's command names in the order of PANELS (any other last)."""
    rank = {name: i for i, name in enumerate(n for _, names_ in PANELS for n in names_)}
    return sorted(names, key=lambda name: rank.get(name, len(rank)))


def localize_panels(root: Command) -> None:
    """Each of the root's commands in its panel, titled in the user's language."""
    commands = getattr(root, "commands", None) or {}
    for panel, names in PANELS:
        for name in names:
            if name in commands:
                commands[name].rich_help_panel = t(f"cli.panel.{panel}")


def localize_about(command: Command, path: Path) -> None:
    """A command's own text: what the list of its group's commands shows."""
    about = command_help(path)
    if about is not None:
        command.help = about
        command.short_help = None


def localize(command: Command, ctx: Context, path: Path = (), *, depth: int = -1) -> None:
    """Put the current language's texts on a command, its options and arguments, and
    its example (its epilog, command lines, gets its heading); then on its
    subcommands `depth` levels down (-1: all), the level below those by their text only."""
    localize_about(command, path)
    example = command.__dict__.setdefault(EXAMPLE, command.epilog)
    if example:
        lines = [escape(line) for line in example.splitlines()]
        command.epilog = t("cmd.example", command=lines[0]) if len(lines) == 1 else \
            t("cmd.examples", commands=" · ".join(lines))
    values = _values(path)
    for param in visible_params(command, ctx):
        text = param_help(path, param, values)
        if text is not None:
            param.help = text  # type: ignore[attr-defined]  # options and typer's arguments have help
    localize_placeholders(command, ctx, path)
    if not path:
        localize_panels(command)
    for name, sub in (getattr(command, "commands", None) or {}).items():
        if depth:
            localize(sub, ctx, (*path, name), depth=depth - 1)
        else:
            localize_about(sub, (*path, name))


CODE_METAVAR = "crm_metavar"  # where a parameter keeps the placeholder its code gave, once localized


def localize_placeholders(command: Command, ctx: Context, path: Path) -> None:
    """The placeholders of a command's options and arguments in the current language:
    what --help shows for the value each takes (`<path>` / `<路径>`) and the names of
    its arguments in the usage line, the help and usage errors (`FILE` / `文件`).

    click writes an option's placeholder from its metavar, else from its type's name;
    an argument's name from its metavar and its type column from the type alone. So an
    option gets the catalog's text as its metavar, and an argument its name as metavar
    and a copy of its type (click shares one instance of a type among parameters) that
    gives the catalog's text for the type column. A placeholder the code wrote (KEEP,
    ID) is a symbol the help texts use: kept, unless the catalog has one for it."""
    for param in visible_params(command, ctx):
        code = param.__dict__.setdefault(CODE_METAVAR, param.metavar)
        kind, name = param_name(param)
        own = _placeholder_text([_key(path[:i], f"placeholder.{name}") for i in range(len(path), 0, -1)])
        typed = _type_placeholder(param, ctx)
        if kind == "opt":
            if getattr(param, "is_flag", False) or getattr(param, "count", False):
                continue
            param.metavar = own or code or typed
            continue
        param.metavar = own or code or _placeholder_text([f"cli.placeholder.arg.{name}"]) or name
        param.get_usage_pieces = _in_usage(param)  # type: ignore[method-assign,assignment]
        if typed is not None:
            if not param.__dict__.get("crm_own_type"):
                param.type = copy.copy(param.type)
                param.__dict__["crm_own_type"] = True
            # typer asks the argument's type for the text of its type column
            param.type.get_metavar = _showing(typed)  # type: ignore[method-assign,assignment]


def _in_usage(param: Parameter) -> Callable[[Context], list[str]]:
    """How an argument reads in the usage line: its name alone, upper case as click
    and the docs write it (`crm customers import [OPTIONS] FILE`, `… [选项] 文件`),
    in brackets when it may be left out. typer writes a required one `{file}`, which
    no other command's help does and a shell user reads as brace expansion."""

    def get_usage_pieces(ctx: Context) -> list[str]:
        name = (param.metavar or param.name or "").upper() + ("..." if param.nargs != 1 else "")
        return [name if param.required else f"[{name}]"]

    return get_usage_pieces


def _showing(text: str) -> Callable[[Parameter, Context], str]:
    def get_metavar(param: Parameter, ctx: Context) -> str:
        return text

    return get_metavar


def _placeholder_text(keys: list[str]) -> str | None:
    return next((t(key) for key in keys if has(key)), None)


def _type_placeholder(param: Parameter, ctx: Context) -> str | None:
    """The catalog's placeholder for the type of value `param` takes; None for a type
    that writes its own (its choices, its date formats), asked before any copy."""
    if "crm_type_metavar" not in param.__dict__:
        param.__dict__["crm_type_metavar"] = param.type.get_metavar(param, ctx)
    if param.__dict__["crm_type_metavar"] is not None:
        return None
    key = f"cli.placeholder.{param.type.name.replace(' ', '_')}"
    return t(key) if has(key) else None
