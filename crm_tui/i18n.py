"""The one catalog of UI strings, in English and Simplified Chinese.

Every label, title, key description and message of the terminal UI goes through
`t(key)`. The catalogs are TOML files in `crm_tui/locale/` (nested tables flatten to
dotted keys); a key missing from Chinese falls back to English, then to the key."""

from __future__ import annotations

import contextlib
import errno
import marshal
import os
import string
import tomllib
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from crm_tui.domain.entities import Entity

LANGUAGES = ("en", "zh")
_LOCALE_DIR = Path(__file__).parent / "locale"
_current = "en"
# The language of the one request being answered, where it is not the process's (the
# sync server answers each laptop in the language it asks for): a context variable,
# so it follows the request into its threads and tasks and no further.
_speaking: ContextVar[str | None] = ContextVar("crm_speaking", default=None)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


CATALOG_CACHE_VERSION = 1  # bump when what the cache holds changes shape


@cache
def catalog(lang: str) -> dict[str, str]:
    source = _LOCALE_DIR / f"{lang}.toml"
    return read_catalog(source, _cache_file(source))


def read_catalog(source: Path, cached: Path) -> dict[str, str]:
    """The texts of the catalog file `source`, keyed by their dotted keys. Parsing the
    TOML costs ~12 ms a language, which `crm --help` would pay at every start: the
    parsed texts are kept in `cached` and used while `source` is the same file (size,
    modification time and CRC of its bytes). A cache that is missing, corrupt, stale
    or cannot be written is no error: the TOML is parsed as before."""
    data = source.read_bytes()
    stat = source.stat()
    stamp = (CATALOG_CACHE_VERSION, stat.st_size, stat.st_mtime_ns, zlib.crc32(data))
    texts = _read_cached(cached, stamp)
    if texts is None:
        texts = _flatten(tomllib.loads(data.decode("utf-8")))
        _write_cached(cached, stamp, texts)
    return texts


def _cache_file(source: Path) -> Path:
    """Where the parsed `source` is kept: one file per catalog file, named by its path
    too, so two installs (two checkouts) never take turns overwriting one file."""
    import platformdirs

    folder = Path(platformdirs.user_cache_dir("crm_tui"))
    return folder / f"catalog-{source.stem}-{zlib.crc32(str(source.resolve()).encode()):08x}.marshal"


def _read_cached(path: Path, stamp: tuple[int, ...]) -> dict[str, str] | None:
    try:
        held = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):  # none yet, unreadable, corrupt
        return None
    if not (isinstance(held, tuple) and len(held) == 2 and held[0] == stamp and isinstance(held[1], dict)):
        return None
    texts = held[1]
    if not all(type(k) is str and type(v) is str for k, v in texts.items()):
        return None
    return texts


def _write_cached(path: Path, stamp: tuple[int, ...], texts: dict[str, str]) -> None:
    """Written whole under another name, then renamed: a reader never sees half a file."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(marshal.dumps((stamp, texts)))
        os.replace(partial, path)
    except OSError:  # a read-only or full cache directory: the next start parses again
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def normalize_language(value: str | None) -> str | None:
    """'zh_CN.UTF-8', 'zh-Hans', 'ZH' -> 'zh'; 'en_US' -> 'en'; others None."""
    if not value:
        return None
    code = value.strip().lower().replace("-", "_").split("_")[0].split(".")[0]
    return code if code in LANGUAGES else None


def system_language() -> str | None:
    """The language of the system locale, as POSIX looks it up: LC_ALL, then
    LC_MESSAGES, then LANG (zh_CN.UTF-8 -> 'zh'); None for C, POSIX or unset."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return normalize_language(value)
    return None


def resolve_language(configured: str | None = None, explicit: str | None = None) -> str:
    """An explicit choice, then CRM_LANG, then the config's `lang`, then the system
    locale (a Chinese desktop gets Chinese), then English."""
    for candidate in (explicit, os.environ.get("CRM_LANG"), configured, system_language()):
        lang = normalize_language(candidate)
        if lang:
            return lang
    return "en"


def set_language(lang: str) -> None:
    global _current
    _current = normalize_language(lang) or "en"


def language() -> str:
    """The language texts are rendered in now: the request's, else the process's."""
    return _speaking.get() or _current


def own_language() -> str:
    """The process's own language (a server's, for what it keeps), whatever a
    request being answered speaks."""
    return _current


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Render every text in `lang` inside the block, in this context only."""
    token = _speaking.set(normalize_language(lang) or "en")
    try:
        yield
    finally:
        _speaking.reset(token)


def accepted_language(header: str | None) -> str:
    """The catalog language an HTTP Accept-Language header prefers (RFC 9110: the
    highest q-value; 'zh-CN, en;q=0.8' -> 'zh'); English for none, '*' or only
    languages the catalog does not have."""
    best, best_q = "en", 0.0
    for item in (header or "")[:1000].split(",")[:20]:
        tag, _, params = item.partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = normalize_language(tag)
        if lang and 0.0 < q <= 1.0 and q > best_q:
            best, best_q = lang, q
    return best


def money(amount: float | None, digits: int = 2) -> str:
    """An amount as every table, screen and report writes it: thousands separated,
    `digits` decimals ('' for none). The one place this is decided."""
    return "" if amount is None else f"{float(amount):,.{digits}f}"


def count(n: int | None) -> str:
    """A count as every table, screen and report writes it: thousands separated
    (14,674), as amounts are. The one place this is decided."""
    return "" if n is None else f"{int(n):,}"


class _Counting(string.Formatter):
    """`{n:change|changes}` is the word for the number `n`: the first for one, the second
    for any other ("pushed 1 change", "pushed 3 changes"). English needs it; a language
    without plural forms (Chinese) writes no such placeholder."""

    def format_field(self, value: Any, format_spec: str) -> Any:
        if "|" in format_spec:
            one, other = format_spec.split("|", 1)
            return one if str(value).strip() == "1" else other
        return super().format_field(value, format_spec)


_COUNTING = _Counting()


def _filled(text: str, values: Mapping[str, Any]) -> str:
    if not values:
        return text
    return _COUNTING.vformat(text, (), values) if "|" in text else text.format(**values)


def unit_price(amount: float | None) -> str:
    """A unit price as tables, screens and quotes write it: as money (thousands
    separated, two decimals), with the further decimals it keeps (up to 6: 0.0035)."""
    if amount is None:
        return ""
    whole, _, decimals = f"{float(amount):,.6f}".partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(2, '0')}"


def satisfaction(c: float | None) -> str:
    """A satisfaction C = perceived / expected as every survey list and report writes
    it: three decimals (0.833, 1.000), so a column of them lines up."""
    return "" if c is None else f"{float(c):.3f}"


def quantity(value: float | None) -> str:
    """A quantity as people write it: every decimal it keeps (up to 4), none when whole."""
    if value is None:
        return ""
    return f"{float(value):,.4f}".rstrip("0").rstrip(".")


def t(key: str, **values: Any) -> str:
    """The text of `key` in the current language, with `{name}` placeholders filled."""
    text = catalog(_speaking.get() or _current).get(key)
    if text is None:
        text = catalog("en").get(key, key)
    return _filled(text, values)


def t_in(lang: str, key: str, **values: Any) -> str:
    """`t` in a given language, whatever the UI's (a document rendered for a customer)."""
    text = catalog(normalize_language(lang) or "en").get(key)
    if text is None:
        text = catalog("en").get(key, key)
    return _filled(text, values)


def has(key: str) -> bool:
    return key in catalog("en")


# The system's reasons a file operation fails that users meet, by errno name; the
# system writes them in English whatever the user's language.
_OS_REASONS = ("ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "EEXIST", "ENOSPC", "EROFS", "ENAMETOOLONG")


def os_reason(error: OSError | str) -> str:
    """Why a file operation failed, in the user's language: the catalog's text for the
    error's errno ('No such file or directory' -> '文件或目录不存在'), else the system's."""
    if isinstance(error, OSError):
        code, text = error.errno, error.strerror or str(error)
    else:
        text = error
        code = next((getattr(errno, n) for n in _OS_REASONS if os.strerror(getattr(errno, n)) == text), None)
    name = errno.errorcode.get(code) if code is not None else None
    return t(f"oserror.{name.lower()}") if name in _OS_REASONS else text


# SQLite's result codes whose text the catalog has ([sqlerror]), by the primary code
# (an extended code's low byte) and, for a driver that gives none, by SQLite's text.
_SQLITE_REASONS = {26: "notadb", 14: "cantopen", 11: "corrupt", 8: "readonly", 10: "ioerr", 13: "full"}
_SQLITE_TEXTS = {"file is not a database": "notadb", "unable to open database file": "cantopen",
                 "database disk image is malformed": "corrupt", "attempt to write a readonly database": "readonly",
                 "disk I/O error": "ioerr", "database or disk is full": "full"}


def db_reason(error: BaseException) -> str:
    """Why SQLite could not open or read a file, in the user's language: the catalog's
    text for the error's result code ('file is not a database' -> '不是 SQLite 数据库文件'),
    else SQLite's own."""
    code = getattr(error, "sqlite_errorcode", None)
    name = _SQLITE_REASONS.get(code & 0xFF) if isinstance(code, int) else _SQLITE_TEXTS.get(str(error))
    return t(f"sqlerror.{name}") if name else str(error)


def field_label(ent: Entity, name: str) -> str:
    """The label of a field; labels differ by record kind only where the catalog says."""
    for key in (f"field.{ent.table}.{name}", f"field.{name}"):
        if has(key):
            return t(key)
    return ent.field(name).label if name in ent.field_names else name.replace("_", " ")


def label_of_name(name: str) -> str | None:
    """The label of a field known only by its name (an error about `list_price` that
    does not say whose): the common label (`field.phone`), else the one label every
    record kind having such a field agrees on (`field.products.list_price`); None
    when there is none or they differ; for a name no record has (an error about
    `merge` or `file`), the catalog's `subject` for it."""
    return record_field_label(name) or subject_label(name)


def record_field_label(name: str) -> str | None:
    """label_of_name's label when `name` is a field of a record (what a --where, a CSV
    header or --json spells so), else None."""
    if has(f"field.{name}"):
        return t(f"field.{name}")
    labels = _specific_labels(language()).get(name, set())
    return next(iter(labels)) if len(labels) == 1 else None


def subject_label(name: str) -> str | None:
    """What an error is about when it is no record's field (a merge, the file, --take)."""
    return t(f"subject.{name}") if has(f"subject.{name}") else None


@cache
def _specific_labels(lang: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for key in catalog("en"):
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "field":
            out.setdefault(parts[2], set()).add(t_in(lang, key))
    return out


def entity_name(ent: Entity) -> str:
    """What one record of `ent` is called: 'customer', '客户'."""
    key = f"entity.{ent.table}"
    return t(key) if has(key) else ent.name


def entity_label(table: str) -> str:
    """A table's records as the catalog names them ('customers' -> '客户')."""
    key = f"entities.{table}"
    return t(key) if has(key) else table


def choice_label(ent: Entity, name: str, code: Any) -> str:
    """The display text of a stored enum code ('potential' -> '潜在客户')."""
    if code is None or code == "":
        return ""
    for key in (f"choice.{ent.table}.{name}.{code}", f"choice.{name}.{code}"):
        if has(key):
            return t(key)
    return str(code)
