"""Where things live (the database file, the user's config file) and the ONE typed
config, loaded and validated once.

Order of precedence for the database: `--db PATH`, then `CRM_DB`, then the user
data directory. The config file is `CRM_CONFIG` or `config.toml` in the user config
directory. `Config.load()` reads it once; `Crm(path, config=...)` builds the
complaint workflow, the agenda and the analytics from it, and the UI uses those same
objects. Nothing else reads the file: code that needs a setting gets it from
`crm.config`. Unknown keys and wrong types are errors naming the key and the file.

Adding a section (docs/architecture.md, "Config"): write a frozen dataclass with a
`from_config(section: Mapping) -> Self` that validates and names bad keys (see
`crm_tui.domain.analytics.settings.AnalyticsSettings`), then add ONE field to
`Config` below whose default is that class's defaults, e.g.

    pipeline: PipelineSettings = field(default_factory=PipelineSettings)

The field name is the `[table]` of the file; loading, unknown-key checks and error
messages come for free."""

from __future__ import annotations

import dataclasses
import getpass
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import platformdirs

from crm_tui.domain.analytics.settings import AnalyticsSettings
from crm_tui.domain.complaints import SlaPolicy
from crm_tui.domain.opportunities import PipelineSettings
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import os_reason, t

APP_NAME = "crm_tui"


def default_db_path() -> Path:
    """`CRM_DB`, then the demo while it is active (`crm demo` until `crm demo --exit`),
    then the user's own database."""
    env = os.environ.get("CRM_DB")
    if env:
        return Path(env).expanduser()
    if demo_active():
        return demo_db_path()
    return own_db_path()


def own_db_path() -> Path:
    """The user's own book: where commands go when neither --db, CRM_DB nor the demo says otherwise."""
    return data_dir() / "crm.db"


# The demo database `crm demo` makes: its size, random seed and rep (crm_tui.api.seed).
DEMO_CUSTOMERS = 2000
DEMO_SEED = 2024
DEMO_REP = "wangfang"


def demo_db_path() -> Path:
    return data_dir() / "demo.db"


# While this file exists, commands without --db or CRM_DB use the demo database, so
# the README's examples run on the demo right after `crm demo`. Every such command
# says so (the CLI on stderr, the UI in its title bar); `crm demo --exit` removes it.
def _demo_marker() -> Path:
    return data_dir() / "demo-active"


def demo_active() -> bool:
    return _demo_marker().exists()


def set_demo_active(active: bool) -> None:
    marker = _demo_marker()
    if active:
        marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        marker.write_text(f"{demo_db_path()}\n", encoding="utf-8")
    else:
        marker.unlink(missing_ok=True)


def is_demo_db(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is the demo's database, however it was named."""
    try:
        return Path(path).expanduser().resolve() == demo_db_path().resolve()
    except OSError:
        return False


def data_dir() -> Path:
    """The app's own data directory (kept 0700: it holds the database)."""
    return Path(platformdirs.user_data_dir(APP_NAME))


def resolve_db_path(path: str | os.PathLike[str] | None) -> Path:
    return Path(path).expanduser() if path else default_db_path()


def config_path() -> Path:
    env = os.environ.get("CRM_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class SyncSettings:
    """`[sync]`: the server this laptop syncs with and its token (`crm login` writes them)."""

    server: str | None = None
    token: str | None = None

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        return cls(**_texts("sync", section, ("server", "token")))


@dataclass(frozen=True)
class CompanySettings:
    """`[company]`: who we are, for the header of the documents sent to customers (a
    rendered quotation). Each in English and, with the `_zh` key, in Chinese."""

    name: str | None = None
    name_zh: str | None = None
    address: str | None = None
    address_zh: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    tax_id: str | None = None  # 税号
    bank: str | None = None  # bank and account, printed under the terms

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        return cls(**_texts("company", section, tuple(f.name for f in dataclasses.fields(cls))))

    def text(self, name: str, lang: str) -> str:
        """A setting in `lang` (the `_zh` one in Chinese when set), '' when unset."""
        value = getattr(self, f"{name}_zh", None) if lang == "zh" else None
        return value or getattr(self, name) or ""


@dataclass(frozen=True)
class Keys:
    """`[keys]`: binding id -> Textual key names ("ctrl+a", "f3,ctrl+g")."""

    bindings: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Self:
        bad = [k for k, v in section.items() if not isinstance(v, str)]
        if bad:
            raise ValidationError.one(f"keys.{bad[0]}", t("reason.config.keys"))
        return cls(dict(section))


@dataclass(frozen=True)
class Config:
    """Every setting of crm_tui, validated. Plain keys first, then one field per
    `[section]`, each a frozen dataclass with `from_config`."""

    rep: str | None = None  # the rep new databases on this laptop belong to
    lang: str | None = None  # "en" or "zh"; CRM_LANG overrides it
    keys: Keys = field(default_factory=Keys)
    sync: SyncSettings = field(default_factory=SyncSettings)
    sla: SlaPolicy = field(default_factory=SlaPolicy)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    company: CompanySettings = field(default_factory=CompanySettings)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None) -> Config:
        """The config file (default: `config_path()`), validated; defaults when it
        does not exist. ConfigError names the file and the key."""
        file = Path(path).expanduser() if path else config_path()
        return cls.from_mapping(_read(file), source=str(file))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "config") -> Config:
        """A Config from the parsed TOML `data`; `source` names it in errors."""
        values: dict[str, Any] = {}
        errors: list[str] = []
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key, raw in data.items():
            f = fields.get(key)
            if f is None:
                errors.append(key + t("sep.label") + t("reason.config.not_a_setting", known=", ".join(fields)))
                continue
            if f.default_factory is dataclasses.MISSING:  # a plain text key
                if raw is not None and not isinstance(raw, str):
                    errors.append(key + t("sep.label") + t("reason.config.text"))
                    continue
                values[key] = raw.strip() or None if isinstance(raw, str) else None
                continue
            if not isinstance(raw, Mapping):
                errors.append(key + t("sep.label") + t("reason.config.table", section=key))
                continue
            section_type = type(f.default_factory())
            try:
                values[key] = section_type.from_config(raw)
            except ValidationError as exc:
                errors += [_name(key, e.field) + t("sep.label") + e.reason for e in exc.errors]
            except (TypeError, ValueError, KeyError) as exc:
                errors.append(key + t("sep.label") + str(exc))
        if errors:
            raise ConfigError(f"{source}{t('sep.label')}" + t("sep.reasons").join(errors))
        return cls(**values)


def _name(section: str, key: str) -> str:
    return key if key == section or key.startswith(section + ".") else f"{section}.{key}"


def _texts(section: str, data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    errors = []
    for key, value in data.items():
        if key not in known:
            errors.append(ValidationError.one(f"{section}.{key}", t("reason.config.unknown")).errors[0])
        elif not isinstance(value, str):
            errors.append(ValidationError.one(f"{section}.{key}", t("reason.config.text")).errors[0])
        else:
            out[key] = value.strip() or None
    if errors:
        raise ValidationError(errors)
    return out


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}{t('sep.label')}" + toml_reason(exc)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}{t('sep.label')}" + t("reason.config.not_utf8", position=exc.start)) from exc
    except OSError as exc:
        raise ConfigError(f"{path}{t('sep.label')}{os_reason(exc)}") from exc


def toml_reason(exc: tomllib.TOMLDecodeError) -> str:
    """Why a TOML file does not read, in the user's language: tomllib says where in
    English ("Illegal character '\\n' (at line 1, column 11)")."""
    where = re.search(r"\(at line (?P<line>\d+), column (?P<column>\d+)\)|\(at end of document\)", str(exc))
    if where is None:
        return t("reason.config.toml", detail=str(exc))
    detail = str(exc)[:where.start()].strip()
    if where["line"]:
        return t("reason.config.toml_at", line=where["line"], column=where["column"], detail=detail)
    return t("reason.config.toml_end", detail=detail)


def default_rep(config: Config) -> str:
    """The rep working on a new database: `rep` in the config, else the login name."""
    if config.rep:
        return config.rep
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "rep"


def save_settings(changes: Mapping[str, Any]) -> Path:
    """Merge `changes` ({"rep": ..., "sync": {...}}) into the config file, keeping
    whatever else it holds; the result must still be a valid Config. Written
    atomically with mode 0600 (it may hold a sync token)."""
    path = config_path()
    data = _read(path)
    for key, value in changes.items():
        if isinstance(value, Mapping):
            data[key] = {**(data.get(key) or {}), **value}
        else:
            data[key] = value
    Config.from_mapping(data, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(value, dict):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in data.items():
        if isinstance(value, dict):
            _write_table(lines, [key], value)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def _write_table(lines: list[str], name: list[str], table: Mapping[str, Any]) -> None:
    """A [table] with its plain keys, then its sub-tables ([sla.resolution])."""
    lines.append(f"\n[{'.'.join(_toml_key(n) for n in name)}]")
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for k, v in table.items():
        if isinstance(v, dict):
            _write_table(lines, [*name, k], v)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else _toml_value(key)
