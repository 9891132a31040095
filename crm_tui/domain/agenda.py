"""Which follow-ups are overdue, due today or upcoming: pure date rules for the agenda."""

from __future__ import annotations

import datetime as dt

OVERDUE, TODAY, UPCOMING = "overdue", "today", "upcoming"
BUCKETS = (OVERDUE, TODAY, UPCOMING)
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
