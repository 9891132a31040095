"""Probable duplicate customers, found on demand (`crm customers duplicates`): the
groups come from SQL, the pairs and their scores from crm_tui.domain.duplicates."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_tui.db import records as sql
from crm_tui.domain.duplicates import company_groups, duplicate_pairs

if TYPE_CHECKING:
    from crm_tui.api import Crm


def find_duplicates(crm: Crm, *, min_score: float = 0.0) -> list[dict[str, Any]]:
    """Pairs of customers that are probably one, highest score first: {first,
    first_name, second, second_name, score, reasons}."""
    with crm.lock:
        groups = sql.duplicate_groups(crm.conn) + company_groups(sql.customer_companies(crm.conn))
        pairs = [p for p in duplicate_pairs(groups) if p.score >= min_score]
        names = {cid: (crm.customers.get(cid).get("name") or "") for p in pairs for cid in (p.first, p.second)}
    return [{"first": p.first, "first_name": names[p.first], "second": p.second, "second_name": names[p.second],
             "score": p.score, "reasons": p.reasons} for p in pairs]
