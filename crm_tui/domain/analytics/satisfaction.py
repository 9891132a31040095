"""Customer satisfaction C = b / a: perceived value (b) over expected value (a), per
survey, per customer (mean of their surveys) and overall (mean of all surveys).
C < 1 dissatisfied, C = 1 satisfied, C > 1 delighted. Pure: no IO."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import t


def satisfaction(expected: float, perceived: float) -> float:
    """C = b / a; a must be positive so the ratio means something."""
    if expected <= 0:
        raise ValidationError.one("expected", t("reason.survey.expected"))
    if perceived < 0:
        raise ValidationError.one("perceived", t("reason.survey.perceived"))
    return perceived / expected


def verdict(c: float | None) -> str:
    if c is None:
        return "no survey"
    if c < 1:
        return "dissatisfied"
    return "satisfied" if c == 1 else "delighted"


def summarize(surveys: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """{overall, count, per_customer: {id: {c, count}}} over survey records with
    expected and perceived scores."""
    per: dict[str, list[float]] = defaultdict(list)
    all_c: list[float] = []
    for s in surveys:
        c = satisfaction(float(s["expected"]), float(s["perceived"]))
        per[s["customer_id"]].append(c)
        all_c.append(c)
    return {
        "overall": sum(all_c) / len(all_c) if all_c else None,
        "count": len(all_c),
        "per_customer": {cid: {"c": sum(v) / len(v), "count": len(v)} for cid, v in sorted(per.items())},
    }
