"""Validation and normalisation of user input, the same on every path (forms, CLI,
import, a user's script through the API). Pure: no IO.

`clean(entity, data)` returns the normalised values or raises `ValidationError`
listing every bad field with its reason."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from crm_tui.domain.entities import SYSTEM_COLUMNS, Entity, Field
from crm_tui.i18n import entity_name, language, record_field_label, subject_label, t

DEFAULT_REGION = "CN"


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def __str__(self) -> str:
        # In Chinese a record's field reads by its label, with the name a command or a
        # CSV header uses beside it: "手机（mobile）：不是有效的电话号码", as does an
        # option ("排序（--order）"); what is no record's field (the file of crm
        # restore) by its label alone: "文件：…".
        if language() != "en":
            label = record_field_label(self.field) or (subject_label(self.field) if self.field[:1] == "-" else None)
            if label:
                return t("validation.field_reason", label=label, field=self.field, reason=self.reason)
            subject = subject_label(self.field)
            if subject:
                return f"{subject}{t('sep.label')}{self.reason}"
        return f"{self.field}: {self.reason}"


class ValidationError(ValueError):
    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))

    @classmethod
    def one(cls, field: str, reason: str) -> ValidationError:
        return cls([FieldError(field, reason)])


# A rep's name: every record they make is owned by it, and every change they push
# carries it (crm_tui.sync.protocol), so a name the server gives a rep fits both.
OWNER_MAX_LEN = 100

# Long text (Field.multiline) keeps its line breaks and tabs; any other control
# character is refused.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every other field is one line. Invisible format characters that a paste from a web
# page, a chat or a spreadsheet brings along and nobody types on purpose are dropped:
# zero-width space, non-joiner and joiner, the soft hyphen, the word joiner and the
# invisible operators, the byte order mark, the Mongolian vowel separator and the
# marks and overrides of bidirectional text. Kept, 张\u200b伟 would show as 张伟 and
# never be found by a search for it.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d"
                                   "\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"))
# What splits a line (str.splitlines' boundaries): refused inside a one-line value.
_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


_SEPARATORS = re.compile(r"[\s\-().]")
# ASCII digits only: a number typed in full-width digits goes the library's way.
_CN_MOBILE = re.compile(r"^(?:\+86|0086|86)?(1[0-9]{10})$")
# A mainland number dialled with the trunk prefix 0: a landline (0571-65263809).
_CN_TRUNK = re.compile(r"0([1-9][0-9]{8,10})")
# How many leading digits of a mainland mobile number decide whether it is valid
# (tests/test_import_bulk_rules.py checks this against phonenumbers).
CN_BLOCK = 7


@lru_cache(maxsize=4096)
def _cn_mobile_block_is_valid(block: str) -> bool:
    """Whether the mainland mobile numbers starting with these 7 digits are valid.
    The numbering plan fixes validity by the leading digits, so one phonenumbers
    check per block serves a whole import (a 100k-row import checks a few hundred)."""
    import phonenumbers  # loaded by the first write, not by every command

    return phonenumbers.is_valid_number(phonenumbers.parse(block + "0" * (11 - len(block)), "CN"))


def _cn_trunk_is_valid(national: str) -> bool:
    """Whether the mainland number dialled as 0 + `national` is valid. Parsing it,
    phonenumbers strips the trunk prefix 0 (no national number starts with 0, so the
    number with it is never the viable one) and keeps country code 86 and this
    national number; what costs is the parse (~25 µs a landline), so only its
    validity check runs here (~6 µs). tests/test_import_bulk_rules.py checks it
    against the whole library."""
    import phonenumbers

    return bool(phonenumbers.is_valid_number(phonenumbers.PhoneNumber(country_code=86,
                                                                      national_number=int(national))))


# An extension (分机) as reps and exports write it, after the main number: 转 801,
# 分机 801, ext. 801, x801, #801, ;ext=801 (the stored form, RFC 3966). At most 10
# digits, so the stored form fits a phone field.
_EXTENSION = re.compile(r"^(?P<main>.*?[0-9)])\s*(?:转|轉|分机|分機|ext\.?|extension|x|#|;ext=)\s*"
                        r"(?P<ext>[0-9]{1,10})\s*$", re.IGNORECASE)
# A main number with its extension after a dash, 010-8888-6666-801: taken as one only
# when the whole is no valid number and the part before the dash is.
_DASH_EXTENSION = re.compile(r"^(?P<main>.*[0-9])\s*[-‐–]\s*(?P<ext>[0-9]{1,6})$")
EXTENSION_MARK = ";ext="


def normalize_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of a phone number, China by default; with an extension, the E.164
    form and ';ext=' and its digits ('+861088886666;ext=801'). ValueError with the reason."""
    marked = _EXTENSION.match(value) if any(c in value for c in "转轉分xX#;eE") else None
    if marked:
        return _main_number(marked["main"], region, value) + EXTENSION_MARK + marked["ext"]
    try:
        return _main_number(value, region, value)
    except ValueError:
        dashed = _DASH_EXTENSION.match(value.strip())
        if dashed:
            try:
                main = _main_number(dashed["main"], region, value)
            except ValueError:
                main = ""
            # A whole number before the dash (11 digits or more with its country code,
            # as a landline with its area code, a mobile, a US number): a short service
            # number before it is more likely a mistyped number than an extension.
            if len(main) >= 12:
                return main + EXTENSION_MARK + dashed["ext"]
        raise


def split_extension(stored: str) -> tuple[str, str | None]:
    """A stored phone's main number and extension (None without one)."""
    main, mark, ext = stored.partition(EXTENSION_MARK)
    return main, (ext if mark else None)


def _main_number(value: str, region: str, typed: str) -> str:
    """E.164 of a number without extension; errors quote what was `typed`."""
    if region == "CN":
        compact = _SEPARATORS.sub("", value)
        mobile = _CN_MOBILE.match(compact)
        if mobile:
            national = mobile.group(1)
            if _cn_mobile_block_is_valid(national[:CN_BLOCK]):
                return "+86" + national
            raise ValueError(t("validation.phone_invalid", value=repr(typed)))
        trunk = _CN_TRUNK.fullmatch(compact)
        # A valid landline answers; anything else, and the reason, is left to phonenumbers below.
        if trunk and _cn_trunk_is_valid(trunk[1]):
            return "+86" + trunk[1]
    import phonenumbers  # loaded on first use; the mobile fast path above never needs it

    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError(t("validation.not_a_phone", value=repr(typed))) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(t("validation.phone_invalid", value=repr(typed)))
    main = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # an extension marker phonenumbers knows and the pattern above does not
    return main + EXTENSION_MARK + number.extension if number.extension else main


def number_to_call(record: Mapping[str, Any]) -> str:
    """The number a customer list shows: the phone, else the mobile (most customers
    here have only a mobile), as people read it."""
    return display_phone(record.get("phone") or record.get("mobile"))


def display_phone(value: str | None, region: str = DEFAULT_REGION) -> str:
    """A stored (E.164) phone as people read it: the national format of the default
    region ('021 2995 0969', '138 1234 5678'), the international one for numbers
    elsewhere, an extension after the word the language uses ('010 8888 6666 转 801');
    a value that is not a valid number is shown as it is."""
    if not value:
        return ""
    if EXTENSION_MARK in value:
        main, ext = split_extension(value)
        return t("validation.phone.shown_extension", number=_display_main(main, region), ext=ext)
    return _display_main(value, region)


@lru_cache(maxsize=65536)
def _display_main(value: str, region: str) -> str:
    if region == "CN" and len(value) == 14 and value.startswith("+861") and value[1:].isdigit():
        return f"{value[3:6]} {value[6:10]} {value[10:]}"  # a mobile: no parsing needed
    import phonenumbers

    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_valid_number(number):
        return value
    same = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat.NATIONAL if same else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


_DOT_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str:
    """The normalised domain, checked once per domain by email-validator."""
    from email_validator import validate_email  # loaded by the first write that needs it

    return validate_email("x@" + domain, check_deliverability=False).domain


def normalize_email(value: str) -> str:
    """Lower-cased, validated by email-validator. A plain ASCII local part is checked
    by the same dot-atom rule email-validator applies, and its domain once per domain."""
    local, _, domain = value.rpartition("@")
    if local and len(local) <= 64 and len(value) <= 254 and local.isascii() and _DOT_ATOM.match(local):
        try:
            return f"{local}@{_email_domain(domain)}".lower()
        except ValueError as exc:  # EmailNotValidError is one; the import is paid only here, not per address
            from email_validator import EmailNotValidError

            if not isinstance(exc, EmailNotValidError):
                raise
            raise ValueError(_email_reason(value, exc)) from None
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(_email_reason(value, exc)) from None


def _email_reason(value: str, exc: Exception) -> str:
    """email-validator explains in English; in another language the catalog's sentence."""
    return str(exc) if language() == "en" else t("validation.email_invalid", value=repr(value))


def normalize_choice(value: str, f: Field) -> str:
    """The stored code of an enum value: the code itself in any case, or one of the
    field's aliases (the Chinese word a rep types, 决策者 for decision_maker)."""
    code = value.strip().lower().replace("-", "_").replace(" ", "_")
    if f.name == "tier":
        code = code.upper()
    if code not in f.choices:
        code = dict(f.aliases).get(value.strip(), code)
    if code not in f.choices:
        words = t("validation.choice_aliases", words=", ".join(word for word, _ in f.aliases)) if f.aliases else ""
        raise ValueError(t("validation.not_a_choice", value=repr(value), choices=", ".join(f.choices), words=words))
    return code


def normalize_refs(value: Any) -> str:
    """Comma-separated references, each trimmed, duplicates left out; ids are kept
    as typed (the API resolves names and id prefixes to ids)."""
    return normalize_tags(value)


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                     "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")


def normalize_date(value: str) -> str:
    text = value.strip()
    # The common form first, without strptime (which looks up the locale on every
    # call): what it gives here is what strptime's %Y-%m-%d gives; anything else,
    # and an impossible date, goes the long way.
    iso = _ISO_DATE.fullmatch(text)
    if iso:
        try:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3])).isoformat()
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(t("validation.not_a_date", value=repr(value)))


def normalize_datetime(value: str) -> str:
    """Local wall time as ISO 'YYYY-MM-DDTHH:MM:SS'; a bare date means midnight."""
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _DATETIME_FORMATS + _DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(t("validation.not_a_datetime", value=repr(value)))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)
    return parsed.replace(microsecond=0).isoformat()


_THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?")


def _decimal_of(value: Any) -> Decimal:
    """A non-negative, finite number as people write an amount: an optional ¥, ￥ or $,
    commas only between thousands. ValueError with the reason."""
    text = str(value).strip().lstrip("¥￥$").strip()
    if "," in text:
        # Only as a thousands separator: '1.234,56' (a decimal comma) or '1,2' read with
        # the commas dropped would be another amount, stored without a word.
        if not _THOUSANDS.fullmatch(text):
            raise ValueError(t("validation.money.comma", value=repr(value)))
        text = text.replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(t("validation.not_an_amount", value=repr(value))) from None
    if not amount.is_finite():
        raise ValueError(t("validation.not_an_amount", value=repr(value)))
    if amount < 0:
        raise ValueError(t("validation.negative"))
    return amount


def normalize_money(value: Any) -> float:
    """An amount of money, to the cent, rounded half up as an invoice rounds: a sum
    of money is never finer than a cent. Unit prices and quantities, which may be,
    are `normalize_decimal`."""
    # A number already in normal form (a float of at most two decimals, as every write
    # stores it, or a whole number) is returned without the round trip through text
    # and Decimal: an import of order lines normalises each amount twice.
    if type(value) is float and 0 <= value < 1e12 and round(value, 2) == value:
        return value
    if type(value) is int and 0 <= value < 10**12:
        return float(value)
    amount = _decimal_of(value)
    if amount >= Decimal("1e12"):
        raise ValueError(t("validation.too_large"))
    # Half up, as an order line's amount (crm_tui.domain.orders) and an invoice round.
    return float(amount.quantize(CENT, rounding=ROUND_HALF_UP))


CENT = Decimal("0.01")
# Digits a stored number keeps exactly: a REAL (a double) holds any 15 significant
# decimal digits and gives them back, so a field of `places` decimals stays below
# 10 ** (15 - places) and its values round-trip through storage, export and sync.
EXACT_DIGITS = 15


def normalize_decimal(value: Any, places: int) -> float:
    """A number kept to at most `places` decimals (a unit price of 0.0035, a quantity
    of 2.5 kg), exactly as given: a value with more decimals is refused, naming how
    many the field keeps, rather than rounded without a word."""
    if type(value) is int and 0 <= value < 10 ** (EXACT_DIGITS - places):
        return float(value)
    if type(value) is float and 0 <= value < 10 ** (EXACT_DIGITS - places) and round(value, places) == value:
        return value
    amount = _decimal_of(repr(value) if type(value) is float else value)
    if amount >= Decimal(10) ** (EXACT_DIGITS - places):
        raise ValueError(t("validation.too_large"))
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(t("validation.decimal.places", value=repr(value), places=places))
    return float(amount)


def _without_percent_sign(value: Any) -> Any:
    """A percent as written with its sign (5%, 12.5 ％) as its number: a discount
    typed in --line, a form or a file's 折扣 column."""
    return value.strip().rstrip("%％").strip() if isinstance(value, str) else value


def normalize_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(t("validation.not_a_whole_number", value=repr(value))) from None
    if number < 0:
        raise ValueError(t("validation.negative"))
    if number > 2**53:
        raise ValueError(t("validation.too_large"))
    return number


def normalize_percent(value: Any) -> int:
    """A whole percent from 0 to 100, written 50, 50% or 50 ％ (a probability). A
    number below 1 with a fraction (0.5) is refused rather than guessed: it reads as
    a share (50 %) to one rep and as half a percent to another."""
    if isinstance(value, bool):
        raise ValueError(t("validation.percent.whole", value=repr(value)))
    text = str(value).strip()
    bare = text.rstrip("%％").strip() if isinstance(value, str) else text
    try:
        number = Decimal(bare)
    except InvalidOperation:
        raise ValueError(t("validation.percent.whole", value=repr(value))) from None
    if not number.is_finite():
        raise ValueError(t("validation.percent.whole", value=repr(value)))
    if number != number.to_integral_value():
        if 0 < number < 1 and bare == text:
            share = number * 100
            raise ValueError(t("validation.percent.share", value=repr(value), percent=f"{share.normalize():f}"))
        raise ValueError(t("validation.percent.whole", value=repr(value)))
    if not 0 <= number <= 100:
        raise ValueError(t("validation.percent.range", value=repr(value)))
    return int(number)


_TRUE = frozenset({"1", "true", "yes", "y", "on", "是", "有效", "启用", "在售"})
_FALSE = frozenset({"0", "false", "no", "n", "off", "否", "无效", "停用", "停售"})


def normalize_bool(value: Any) -> int:
    """1 or 0 from a flag as people write it (yes/no, true/false, 1/0, 是/否)."""
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return 1
    if text in _FALSE:
        return 0
    raise ValueError(t("validation.not_yes_no", value=repr(value)))


_TAG_SEPARATORS = re.compile(r"[,，;；]")


def normalize_tags(value: Any) -> str:
    if type(value) is str:
        return _tags_of_text(value)
    items = value if isinstance(value, (list, tuple)) else _TAG_SEPARATORS.split(str(value))
    return _join_tags(items)


@lru_cache(maxsize=4096)
def _tags_of_text(value: str) -> str:
    """Tags typed as text; cached by the exact text, as an import repeats a few sets."""
    return _join_tags(_TAG_SEPARATORS.split(value))


def _join_tags(items: Any) -> str:
    tags: list[str] = []
    for item in items:
        tag = str(item).strip()
        if tag and tag not in tags:
            tags.append(tag)
    return ",".join(tags)


def _check_type(f: Field, value: Any) -> None:
    """A value from JSON or a script is text or a number; a list only for tags; a
    yes/no only for a 0/1 field. Anything else would be stored as its Python text
    ('True', "{'a': 1}", 'nan'), so it is refused."""
    if isinstance(value, bool):
        if f.kind != "int":
            raise ValueError(t("validation.bool_not_kind", value=str(value).lower(),
                               kind=t(f"validation.kind.{_KIND_KEYS.get(f.kind, 'text')}")))
    elif isinstance(value, (list, tuple)):
        if f.kind != "tags" or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise ValueError(t("validation.list_not_single") if f.kind != "tags" else t("validation.tags_list"))
    elif isinstance(value, float | Decimal):
        if not math.isfinite(value):
            raise ValueError(t("validation.not_finite", value=value))
    elif not isinstance(value, (str, int, dt.date)):
        raise ValueError(t("validation.not_single", kind=type(value).__name__ if not isinstance(value, dict)
                           else "JSON object"))


# The kind of a field as the catalog names it (validation.kind.*).
_KIND_KEYS = {"phone": "phone", "email": "email", "enum": "choice", "date": "date",
               "datetime": "datetime", "money": "money", "decimal": "money", "ref": "ref", "tags": "tags"}


def kind_name(kind: str) -> str | None:
    """What a value of a field kind is called, in the language spoken ('phone' ->
    'phone number'); None for a kind the catalog does not name (int, bool, text)."""
    key = _KIND_KEYS.get(kind)
    return t(f"validation.kind.{key}") if key else None


def clean_value(f: Field, value: Any) -> Any:
    """The normalised value of one field, None for empty; ValueError with the reason."""
    if type(value) is str:  # text (every cell of a CSV) passes the type check as it is
        value = value.strip()
        # A printable text holds no control nor format character: most values end here.
        if not value.isprintable():
            value = _irregular_text(f, value)
        if value == "":
            return None
        if f.kind == "text":  # most fields: kept as typed, within their length
            if not value.isascii() and not f.multiline:
                # One form of each character (composed, NFC), so that é typed in two
                # ways is found by either. Not NFKC: full-width Ａ１ stays as typed.
                value = unicodedata.normalize("NFC", value)
            if len(value) > f.max_len:
                raise ValueError(t("validation.too_long", length=len(value), max=f.max_len))
            return value
    elif value is None:
        return None
    else:
        _check_type(f, value)
        if isinstance(value, str):
            return clean_value(f, str(value))
    normalize = _NORMALIZERS.get(f.kind)
    result: Any = normalize(f, value) if normalize is not None else str(value)
    if isinstance(result, str) and len(result) > f.max_len:
        raise ValueError(t("validation.too_long", length=len(result), max=f.max_len))
    return result


def _irregular_text(f: Field, value: str) -> str:
    """`value`, stripped, when it holds a character that is not printable: long text
    refuses the control characters other than line breaks and tabs; a one-line value
    drops the invisible format characters (_INVISIBLE) and refuses a line break, a
    tab or any other control or format character, saying which."""
    if f.multiline:
        if _CONTROL.search(value):
            raise ValueError(t("validation.control_characters"))
        return value
    value = value.translate(_INVISIBLE).strip()
    if value.isprintable():
        return value
    for char in value:
        if char in _LINE_BREAKS:
            raise ValueError(t("validation.one_line.line_break"))
        if char == "\t":
            raise ValueError(t("validation.one_line.tab"))
        category = unicodedata.category(char)
        # Control and format characters; not private use (rare Chinese characters of old
        # encodings live there), unassigned (a newer Unicode's characters) nor a lone
        # surrogate (no text: refused where it is stored, as not UTF-8).
        if category in ("Cc", "Cf"):
            raise ValueError(t("validation.one_line.control", code=f"U+{ord(char):04X}"))
    return value  # spaces other than ' ' (a full-width space, a no-break space) are kept


# The normaliser of each kind of field (text is kept as it is), looked up once per value.
_NORMALIZERS: dict[str, Callable[[Field, Any], Any]] = {
    "phone": lambda f, v: normalize_phone(str(v)),
    "email": lambda f, v: normalize_email(str(v)),
    "enum": lambda f, v: normalize_choice(str(v), f),
    "date": lambda f, v: normalize_date(str(v)),
    "datetime": lambda f, v: normalize_datetime(str(v)),
    "money": lambda f, v: normalize_money(v),
    "decimal": lambda f, v: normalize_decimal(_without_percent_sign(v) if f.percent else v, f.decimals),
    "int": lambda f, v: normalize_int(v),
    "percent": lambda f, v: normalize_percent(v),
    "tags": lambda f, v: normalize_tags(v) or None,
    "bool": lambda f, v: normalize_bool(v),
    "refs": lambda f, v: normalize_refs(v) or None,
}


_UNKNOWN = object()  # not yet in a clean() memo
MEMO_SIZE = 4096  # values remembered per column by a clean() memo


def remembered(f: Field, given: Any, memo: dict[str, dict[str, Any]], column: str) -> Any:
    """`clean_value(f, given)`, a text or a number `given` looked up first in
    `memo`, which a caller keeps across the rows of one file (`clean`; the read of a
    file of orders with lines, crm_tui.api.order_import), by the column the value came
    from: a column's repeated values are checked once. `clean_value` is a function of the
    field and the value alone; only values it accepts are remembered, so a bad one is
    checked, and named, on every row that holds it; a column's first MEMO_SIZE values
    are remembered."""
    kind = type(given)
    if kind is str:
        key: Any = given
    elif (kind is float or kind is int) and given:
        # a number (what a file's reading made of a cell) by its type too: 3 and 3.0
        # are one key to a dict, not always one value to a field (nor is 0 to -0.0)
        key = (kind, given)
    else:
        return clean_value(f, given)
    known = memo.get(column)
    if known is None:
        known = memo[column] = {}
    value = known.get(key, _UNKNOWN)
    if value is _UNKNOWN:
        value = clean_value(f, given)
        if len(known) < MEMO_SIZE:
            known[key] = value
    return value


def clean(ent: Entity, data: Mapping[str, Any], *, partial: bool = False,
          memo: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Validate and normalise `data` for `ent`. With `partial`, only the given fields
    are checked (an edit); otherwise required fields must be present (a create).
    Errors come unknown keys first, then by the entity's field order.

    `memo`, kept by the caller across the rows of one file, remembers the normal
    value of each text or number a field was given (`remembered`): a column's
    repeated values (regions, industries, sizes, tags, names, prices) are checked
    once. A column's first MEMO_SIZE values are remembered: the repeating ones show
    up early, and a column of unique values (mobiles, emails) does not hold the
    whole file twice."""
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    by_name = ent.fields_by_name  # made once per kind
    found: list[FieldError] = []  # errors of fields, put in field order below
    # Only the given keys are visited: a row of five cells costs five checks, not
    # one per field of the entity.
    for key, given in data.items():
        f = by_name.get(key)
        if f is None:
            if key != "owner":
                reason = t("validation.system_field") if key in SYSTEM_COLUMNS else t("validation.unknown_field",
                                                                                      kind=entity_name(ent))
                errors.append(FieldError(key, reason))
            continue
        if f.computed:
            found.append(FieldError(key, t("validation.computed")))
            continue
        try:
            if memo is None:
                value = clean_value(f, given)
            else:  # a text seen before, found here; anything else through `remembered`
                known = memo.get(key)
                value = known.get(given, _UNKNOWN) if known is not None and type(given) is str else _UNKNOWN
                if value is _UNKNOWN:
                    value = remembered(f, given, memo, key)
        except ValueError as exc:
            found.append(FieldError(key, str(exc)))
            continue
        if value is None and f.required:
            found.append(FieldError(key, t("validation.required")))
            continue
        out[key] = value
    if not partial:
        found.extend(FieldError(name, t("validation.required")) for name in ent.required_names if name not in data)
        for name, default in ent.defaults:  # left out or blank: the same new record
            if out.get(name) is None:
                out[name] = default
    if found:
        order = ent.field_names
        errors.extend(sorted(found, key=lambda e: order.index(e.field)))
    if partial and len(out) > 1:  # an edit's changes in field order, as diffs show them
        out = {name: out[name] for name in ent.field_names if name in out}
    if "owner" in data:
        owner = str(data["owner"] or "").strip()
        if len(owner) > OWNER_MAX_LEN:
            errors.append(FieldError("owner", t("validation.too_long", length=len(owner), max=OWNER_MAX_LEN)))
        if owner:
            out["owner"] = owner
        elif partial:  # every record has an owner rep; a new one gets the laptop's rep
            errors.append(FieldError("owner", t("validation.required")))
    if errors:
        raise ValidationError(errors)
    return out
