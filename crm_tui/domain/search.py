"""Search keys and queries. A customer is found by any substring of name, company,
phones and email, and by the pinyin of the name in full ("zhangwei") or by
initials ("zw"), however the query is typed (`fold`). Pure: no IO."""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

_HAN = re.compile(r"[\u3400-\u9fff]")
_PHONE_QUERY = re.compile(r"^\+?[\d\s\-()]{3,}$")


@lru_cache(maxsize=65536)
def pinyin_key(text: str) -> str:
    """'张伟' -> 'zhangwei zw'; text without Han characters gives ''. A name is read
    character by character, each character by its usual reading: a name is not a
    phrase of the dictionary, which read 殷红霞 as 殷红 'yanhong' (dark red), 柏林 as
    Berlin 'bolin' and 张朝阳 as 朝阳 'zhaoyang' (the morning sun), where their people
    are Yin, Bai and Chaoyang (docs/benchmarks.md, the import log's step 14)."""
    chars = _HAN.findall(text) if text else []
    if not chars:
        return ""
    # A list is text already cut into words (pypinyin's API): one character a word.
    syllables = [s for s in _lazy_pinyin()(chars) if s]
    return "".join(syllables) + " " + "".join(s[0] for s in syllables)


@cache
def _lazy_pinyin() -> Callable[..., list[str]]:
    """pypinyin's lazy_pinyin, imported only when a Chinese name is met, without its
    phrase dictionary, which names never use (above) and which took three quarters
    of its import (~0.15 s of a process): PYPINYIN_NO_PHRASES, its documented switch,
    is read once, when pypinyin is imported; the environment is left as it was. (Were
    pypinyin imported before with its phrases, the keys would be the same: the
    characters are handed over one by one.)"""
    before = os.environ.get(_NO_PHRASES)
    os.environ[_NO_PHRASES] = "1"
    try:
        from pypinyin import lazy_pinyin
    finally:
        if before is None:
            del os.environ[_NO_PHRASES]
        else:
            os.environ[_NO_PHRASES] = before
    return lazy_pinyin


_NO_PHRASES = "PYPINYIN_NO_PHRASES"


def customer_pinyin(name: str | None) -> str:
    """The derived `pinyin` column of a customer: the pinyin of the name, '' for a
    name without Chinese characters (NULL is left for rows a script wrote, still to
    be filled in). Company names are searched by their characters only: they are
    mostly unique, and a conversion of each was the largest cost of an import."""
    return pinyin_key(name or "")


def fold(text: str) -> str:
    """Text as search compares it, the one rule of every search (customers, their
    records, deals, the catalogue): "ÉMILE", "Émile" and "emile" are one, as are
    "STRASSE" and "Straße", "İstanbul" and "istanbul", "ＺＷ１３８" and "zw138". Letters
    are case-folded in full (Unicode's case folding, not only A-Z), compatibility forms
    become their plain letters (full-width, ligatures) and the accents of the Latin,
    Greek and Cyrillic scripts (the combining marks U+0300-U+036F) are dropped, so a
    rep finds a name however it is typed. Letters of their own stay apart (ø, ł, đ, ı),
    as do marks that change a letter of another script (the kana's dakuten). Folding
    folded text changes nothing, so the trigram index's own folding of it is a no-op:
    its matches are this rule's."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return unicodedata.normalize("NFC", _ACCENTS.sub("", decomposed))


_ACCENTS = re.compile("[\u0300-\u036f]")
# The characters fold changes as SQL's lower() and LIKE do (A-Z, any case) or not at all:
# ASCII and the Han characters of the unified blocks (no case, no other form), which
# most names and texts here are made of. Text of these alone needs no fold of its own.
PLAIN_RANGES = (("\x01", "\x7f"), ("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"))
_FOLDABLE = re.compile("[^" + "".join(f"{first}-{last}" for first, last in PLAIN_RANGES) + "]")


def folded_text(record: Mapping[str, Any], fields: Sequence[str]) -> str:
    """The derived `folded` column of a customer or contact: its searched fields
    (`fields`, in the order the search text holds them) folded, or '' where SQL's
    lower(), which the search-text triggers apply to them, gives the same. That is
    every ASCII or Chinese text, so most records store nothing more and are indexed
    by the triggers alone (crm_tui/db/migrations.py, _search_folded)."""
    for name in fields:
        value = record.get(name)
        if value and not (isinstance(value, str) and value.isascii()) and _FOLDABLE.search(str(value)):
            break
    else:
        return ""  # the quick answer for most records (~0.8 us a row, ~2.7 us by fold)
    text = " ".join(str(record.get(name) or "") for name in fields)
    folded = fold(text)
    # SQL's lower() folds A-Z only (SQLite without ICU), as bytes.lower() does.
    return "" if folded.encode() == text.encode().lower() else folded


def normalize_query(query: str) -> str:
    """What the user typed, in the form the search text is stored in: folded (`fold`), a
    phone fragment without separators. Phones are stored in E.164 (+862129950969), so
    the ways reps type the start of a mainland number become its E.164 start: the
    trunk prefix 0 of a landline ('021-29950969', '(021) 2995 0969') and the
    international prefix 00 ('0086 21 ...') become '+86' and '+'; '+86 21 ...' is
    already one. (A fragment from inside a number that starts with 0 and another
    digit, like '0969', is read as an area code: reps type numbers from the start.)"""
    q = fold(query.strip())
    if _PHONE_QUERY.match(q):
        digits = re.sub(r"[\s\-()]", "", q)
        if len(digits) >= 3 and digits[:2] == "00" and digits[2] != "0":  # 00 + a country code
            return "+" + digits[2:]
        if len(digits) >= 3 and digits[0] == "0" and digits[1] != "0":  # 0 + an area code (10, 21, 755 ...)
            return "+86" + digits[1:]
        return digits
    return q


def name_key(name: str | None) -> str:
    """A name as it sounds: the pinyin of a Chinese name, a Latin one in lower case
    without spaces, so 张伟, "Zhang Wei" and "zhangwei" are one name."""
    text = (name or "").strip()
    full = pinyin_key(text).split(" ")[0]
    return full or re.sub(r"[\s.\-]", "", text.casefold())
