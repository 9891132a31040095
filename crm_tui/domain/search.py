"""Search keys and queries. A customer is found by any substring of name, company,
phones and email, and by the pinyin of the name in full ("zhangwei") or by
initials ("zw"). Pure: no IO."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import cache, lru_cache

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


def normalize_query(query: str) -> str:
    """What the user typed, in the form the search text is stored in: lower case, a
    phone fragment without separators. Phones are stored in E.164 (+862129950969), so
    the ways reps type the start of a mainland number become its E.164 start: the
    trunk prefix 0 of a landline ('021-29950969', '(021) 2995 0969') and the
    international prefix 00 ('0086 21 ...') become '+86' and '+'; '+86 21 ...' is
    already one. (A fragment from inside a number that starts with 0 and another
    digit, like '0969', is read as an area code: reps type numbers from the start.)"""
    q = query.strip().lower()
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
