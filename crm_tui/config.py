"""Where things live: the database file and the user's config (TOML).

Order of precedence for the database: `--db PATH`, then `CRM_DB`, then the user
data directory. The config file is `CRM_CONFIG` or `config.toml` in the user config
directory; it holds the language, key bindings, the rep's name and the sync server."""

from __future__ import annotations

import getpass
import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "crm_tui"


def default_db_path() -> Path:
    env = os.environ.get("CRM_DB")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME)) / "crm.db"


def resolve_db_path(path: str | os.PathLike[str] | None) -> Path:
    return Path(path).expanduser() if path else default_db_path()


def config_path() -> Path:
    env = os.environ.get("CRM_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class ConfigError(Exception):
    pass


def default_rep() -> str:
    """The rep working on a new database: `rep` in the config, else the login name."""
    rep = str(load_config().get("rep") or "").strip()
    if rep:
        return rep
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "rep"


def load_config() -> dict[str, Any]:
    path = config_path()
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


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


def save_config(config: dict[str, Any]) -> Path:
    """Write the config atomically with mode 0600 (it may hold a sync token)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for key, value in config.items():
        if not isinstance(value, dict):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in config.items():
        if isinstance(value, dict):
            lines.append(f"\n[{_toml_key(key)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()]
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
