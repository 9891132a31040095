"""Probable duplicate customers (整合和去重): pairs of customers that share a
normalised phone or email, the same name at one company, names that sound the same
(pinyin) at one company, or a name that is one company's (华为 and 华为技术有限公司),
each with a score and the reasons. A company is compared by its key
(crm_tui.domain.companies.company_key). Pure: no IO; phone and email groups come
from crm_tui.db.records.duplicate_groups, names and companies from `company_groups`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations

from crm_tui.domain.companies import company_key, is_company_name
from crm_tui.i18n import t

# How strongly each kind of match says "the same customer" (a shared mobile is
# nearly certain; names that sound alike at one company less so).
WEIGHTS = {"phone": 0.9, "email": 0.9, "name_company": 0.8, "company_name": 0.7, "pinyin_company": 0.6}
# The reasons' texts are the catalog's `duplicates.reason.<kind>`, in the rep's language.


@dataclass
class DuplicatePair:
    first: str  # the older customer id (ULIDs sort by creation)
    second: str
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)


def name_company_key(name: str | None, company: str | None) -> tuple[str, str] | None:
    """The weak key of a customer: their name at their company, the company by its
    key (张伟 at 华为 and 张伟 at 华为技术有限公司 share it); None without either. The
    one rule by which the duplicates scan (`company_groups`), the warning of a new
    customer and an import (crm_tui.api.importing) call two customers possibly one.
    Only possibly: two people may share a name at one company, so nothing is merged
    by it; a shared phone, mobile or email is what an import merges by."""
    key = company_key(company)
    text = (name or "").strip()
    return (text, key) if key and text else None


def company_groups(customers: Iterable[tuple[str, str, str, str | None]]) -> list[tuple[str, str, list[str]]]:
    """(kind, shown key, ids) groups from (id, name, name's sound, company) rows: the
    same name at one company (name_company), names that sound alike at one company
    (pinyin_company, when the names differ), and customers without a company named
    as one company (company_name: 华为 and 华为技术有限公司, when at least one name
    says it is a company's; two people called 张伟 are not). Companies compare by
    their key, so 张伟 at 华为 and 张伟 at 华为技术 are one name at one company."""
    by_name: dict[tuple[str, str], list[str]] = {}
    by_sound: dict[tuple[str, str], list[tuple[str, str]]] = {}
    spellings: dict[str, list[str]] = {}  # key -> the companies as written, for the reason
    named: dict[str, list[tuple[str, str, bool]]] = {}
    for cid, name, sound, company in customers:
        key = company_key(company)
        if key:
            written = spellings.setdefault(key, [])
            if company not in written:
                written.append(str(company))
            by_name.setdefault(name_company_key(name, company) or (name, key), []).append(cid)
            by_sound.setdefault((sound, key), []).append((cid, name))
        elif name and (own := company_key(name)):
            named.setdefault(own, []).append((cid, name, is_company_name(name)))
    groups: list[tuple[str, str, list[str]]] = []
    for (name, key), ids in by_name.items():
        if len(ids) > 1:
            groups.append(("name_company", f"{name} · {' / '.join(spellings[key])}", ids))
    for (_, key), found in by_sound.items():
        if len({n for _, n in found}) > 1:
            groups.append(("pinyin_company", " / ".join(spellings[key]), [cid for cid, _ in found]))
    for found_named in named.values():
        if len(found_named) > 1 and any(says for _, _, says in found_named):
            groups.append(("company_name", " / ".join(dict.fromkeys(n for _, n, _ in found_named)),
                           [cid for cid, _, _ in found_named]))
    return groups


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
