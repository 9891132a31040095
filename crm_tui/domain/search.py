"""Search keys and queries. A customer is found by any substring of name, company,
phones and email, and by the pinyin of name and company in full ("zhangwei") or
by initials ("zw"). Pure: no IO."""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

_HAN = re.compile(r"[\u3400-\u9fff]")
_PHONE_QUERY = re.compile(r"^\+?[\d\s\-()]{3,}$")


@lru_cache(maxsize=65536)
def pinyin_key(text: str) -> str:
    """'张伟' -> 'zhangwei zw'; text without Han characters gives ''."""
    if not text or not _HAN.search(text):
        return ""
    han = "".join(_HAN.findall(text))
    full = "".join(lazy_pinyin(han))
    initials = "".join(lazy_pinyin(han, style=Style.FIRST_LETTER))
    return f"{full} {initials}"


def customer_pinyin(name: str | None, company: str | None) -> str | None:
    """The derived `pinyin` column of a customer."""
    parts = [p for p in (pinyin_key(name or ""), pinyin_key(company or "")) if p]
    return " | ".join(parts) or None


def normalize_query(query: str) -> str:
    """What the user typed, in the form the search text is stored in: lower case, a
    phone fragment without separators."""
    q = query.strip().lower()
    if _PHONE_QUERY.match(q):
        return re.sub(r"[\s\-()]", "", q)
    return q
