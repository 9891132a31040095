"""Probable duplicate customers (整合和去重): pairs of customers that share a
normalised phone or email, the same name and company, or names that sound the same
(pinyin) at one company, each with a score and the reasons. Pure: no IO; the
candidate groups come from crm_tui.db.records.duplicate_groups."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from crm_tui.i18n import t

# How strongly each kind of match says "the same customer" (a shared mobile is
# nearly certain; names that sound alike at one company less so).
WEIGHTS = {"phone": 0.9, "email": 0.9, "name_company": 0.8, "pinyin_company": 0.6}
# The reasons' texts are the catalog's `duplicates.reason.<kind>`, in the rep's language.


@dataclass
class DuplicatePair:
    first: str  # the older customer id (ULIDs sort by creation)
    second: str
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)


def duplicate_pairs(groups: Iterable[tuple[str, str, list[str]]]) -> list[DuplicatePair]:
    """From (kind, key, customer ids) groups (name and company before their sound):
    one pair per two customers, its score 1 − Π(1 − weight) over the kinds of match,
    highest first."""
    pairs: dict[tuple[str, str], DuplicatePair] = {}
    seen: dict[tuple[str, str], set[str]] = {}
    for kind, key, ids in groups:
        for a, b in combinations(sorted(set(ids)), 2):
            kinds = seen.setdefault((a, b), set())
            if kind == "pinyin_company" and "name_company" in kinds:
                continue  # the same name at one company says it already
            pair = pairs.setdefault((a, b), DuplicatePair(a, b))
            pair.reasons.append(t(f"duplicates.reason.{kind}", value=key))
            kinds.add(kind)
    for ab, pair in pairs.items():
        miss = 1.0
        for kind in seen[ab]:
            miss *= 1 - WEIGHTS[kind]
        pair.score = round(1 - miss, 3)
    return sorted(pairs.values(), key=lambda p: (-p.score, p.first, p.second))
