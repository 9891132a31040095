"""Which follow-ups are overdue, due today or upcoming: pure date rules for the agenda."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import t

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



def check_visit(visit: Mapping[str, Any]) -> None:
    """A visit's next action is dated on or after the visit (the same day counts): a
    follow-up planned before the call that planned it would land in the agenda as
    overdue from the start. The record rule of visits (crm_tui.domain.record_rules),
    so every local write, every replica's check of a synced insert and the server's
    judge of what a pushed edit leaves keep it; a visit with no next date passes."""
    due, visited = visit.get("next_action_date"), visit.get("visited_at")
    if due and visited and str(due)[:10] < str(visited)[:10]:
        raise ValidationError.one("next_action_date", t("reason.record.next_action_date", date=str(visited)[:10]))


def section_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many agenda rows each section holds, every section named (0 for none): what
    the Agenda screen's line above its list and `crm agenda`'s title say."""
    counts = dict.fromkeys(ROW_KINDS, 0)
    for row in rows:
        counts[row["bucket"]] += 1
    return counts

