"""Search keys and queries. A customer is found by any substring of name, company,
phones and email, and by the pinyin of the name in full ("zhangwei") or by
initials ("zw"). Pure: no IO."""

from __future__ import annotations

import re
from functools import lru_cache

_HAN = re.compile(r"[\u3400-\u9fff]")
_PHONE_QUERY = re.compile(r"^\+?[\d\s\-()]{3,}$")


@lru_cache(maxsize=65536)
def pinyin_key(text: str) -> str:
    """'张伟' -> 'zhangwei zw'; text without Han characters gives ''."""
    if not text or not _HAN.search(text):
        return ""
    # pypinyin loads its phrase dictionary on import: only when a Chinese name is met.
    from pypinyin import lazy_pinyin

    # One conversion serves both forms: the initials are the syllables' first letters.
    syllables = [s for s in lazy_pinyin("".join(_HAN.findall(text))) if s]
    return "".join(syllables) + " " + "".join(s[0] for s in syllables)


def customer_pinyin(name: str | None) -> str:
    """The derived `pinyin` column of a customer: the pinyin of the name, '' for a
    name without Chinese characters (NULL is left for rows a script wrote, still to
    be filled in). Company names are searched by their characters only: they are
    mostly unique, and a phrase-aware conversion of each (~0.3 ms) was the largest
    cost of an import."""
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
