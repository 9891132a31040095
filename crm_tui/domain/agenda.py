"""Which follow-ups are overdue, due today or upcoming: pure date rules for the agenda."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

OVERDUE, TODAY, UPCOMING = "overdue", "today", "upcoming"
BUCKETS = (OVERDUE, TODAY, UPCOMING)  # the sections of follow-ups
STALE = "stale"  # open deals past their close or gone quiet, listed after the follow-ups
ROW_KINDS = (*BUCKETS, STALE)  # every section of the agenda, in its order
DEFAULT_HORIZON_DAYS = 14


def bucket(next_action_date: str | None, today: dt.date, horizon_days: int = DEFAULT_HORIZON_DAYS) -> str | None:
    """The agenda section of a follow-up due on `next_action_date`, or None when it is
    beyond the horizon or has no date."""
    if not next_action_date:
        return None
    due = dt.date.fromisoformat(next_action_date[:10])
    if due < today:
        return OVERDUE
    if due == today:
        return TODAY
    if due <= today + dt.timedelta(days=horizon_days):
        return UPCOMING
    return None



def section_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many agenda rows each section holds, every section named (0 for none): what
    the Agenda screen's line above its list and `crm agenda`'s title say."""
    counts = dict.fromkeys(ROW_KINDS, 0)
    for row in rows:
        counts[row["bucket"]] += 1
    return counts

