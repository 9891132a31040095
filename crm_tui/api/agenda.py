"""The follow-up agenda: visits whose next action is due today, overdue or coming up
(and the satisfaction follow-ups of closed complaints), and the use cases around them (log a visit, mark a follow-up done, schedule the next).
Each write is one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crm_tui.api.names import with_customer_names
from crm_tui.api.records import Record
from crm_tui.db.analytics import satisfaction_follow_ups
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain import agenda as rules
from crm_tui.domain.validation import ValidationError, clean_value
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api import Crm


class Agenda:
    """Follow-ups of one `Crm`, on its clock unless `now` is given."""

    def __init__(self, crm: Crm, now: Callable[[], dt.datetime] | None = None):
        self.crm = crm
        self._now = now

    def now(self) -> dt.datetime:
        return (self._now or self.crm.now)()

    def today(self) -> dt.date:
        return self.now().date()

    def follow_ups(self, horizon_days: int = rules.DEFAULT_HORIZON_DAYS,
                   customer_id: str | None = None) -> list[Record]:
        """Pending follow-ups up to `horizon_days` ahead, oldest due first, each with
        its `bucket` (overdue / today / upcoming) and its customer's name."""
        today = self.today()
        last = (today + dt.timedelta(days=horizon_days)).isoformat()
        filters = [Filter("next_action_date", "<=", last), Filter("follow_up_done", "!=", 1)]
        if customer_id:
            filters.append(Filter("customer_id", "=", customer_id))
        days = self.crm.config.analytics.satisfaction_follow_up_days
        with self.crm.lock:
            rows = self.crm.visits.find(filters, order="next_action_date")
            # closed complaints' satisfaction follow-ups: planned, not visits (see close())
            after_complaints = satisfaction_follow_ups(self.crm.conn, days, last, customer_id=customer_id)
            rows = sorted(rows + [{**c, "kind": "complaint", "purpose": "follow_up",
                                   "next_action": t("workflow.satisfaction_survey")} for c in after_complaints],
                          key=lambda row: row["next_action_date"])
            with_customer_names(self.crm, rows)
        for row in rows:
            row["bucket"] = rules.bucket(row["next_action_date"], today, horizon_days)
        return [r for r in rows if r["bucket"]]

    def items(self, horizon_days: int = rules.DEFAULT_HORIZON_DAYS, customer_id: str | None = None) -> list[Record]:
        """What the agenda shows, the Agenda screen and `crm agenda` alike: the pending
        follow-ups (above), then the stale open deals (past their expected close, or
        quiet for the configured days) as rows of bucket "stale", each `kind`
        "opportunity", dated by its close (or last activity), its next action naming
        the deal and why it is stale."""
        deals = [d for d in self.crm.pipeline.stale() if customer_id in (None, d["customer_id"])]
        return self.follow_ups(horizon_days, customer_id) + [
            {"id": d["id"], "kind": "opportunity", "bucket": rules.STALE, "customer_id": d["customer_id"],
             "customer_name": d["customer_name"],
             "next_action_date": d["close_date"] if d["reason"] == "overdue" else d["last_activity"],
             "next_action": t(f"agenda.stale_{d['reason']}", title=d["title"])} for d in deals]

    def counts(self) -> dict[str, int]:
        """How many follow-ups are overdue, due today and coming up."""
        counts = rules.section_counts(self.follow_ups())
        return {bucket: counts[bucket] for bucket in rules.BUCKETS}

    def log_visit(self, data: Mapping[str, Any], *, follow_up_of: str | None = None) -> Record:
        """Record a visit (now unless `visited_at` is given). When it answers a pending
        follow-up (`follow_up_of`), that follow-up is marked done in the same
        transaction."""
        values = dict(data)
        if not values.get("visited_at"):
            values["visited_at"] = self.now().isoformat()
        values.setdefault("follow_up_done", None)
        with self.crm.lock, transaction(self.crm.conn):
            if follow_up_of:
                self._set_done(follow_up_of)
            return self.crm.visits.create(values)

    def mark_done(self, visit_id: str) -> Record:
        with self.crm.lock, transaction(self.crm.conn):
            return self._set_done(visit_id)

    def schedule_next(self, visit_id: str, next_action_date: str, next_action: str | None = None) -> Record:
        """Move a pending follow-up to another day (and optionally change what to do)."""
        try:
            when = clean_value(self.crm.visits.entity.field("next_action_date"), next_action_date)
        except ValueError as exc:
            raise ValidationError.one("next_action_date", str(exc)) from None
        if not when:
            raise ValidationError.one("next_action_date", t("reason.follow_up_date_required"))
        changes: dict[str, Any] = {"next_action_date": when, "follow_up_done": None}
        if next_action is not None and next_action.strip():
            changes["next_action"] = next_action
        with self.crm.lock, transaction(self.crm.conn):
            return self.crm.visits.update(visit_id, changes)

    def _set_done(self, visit_id: str) -> Record:
        current = self.crm.visits.get(visit_id)
        if not current.get("next_action_date"):
            raise ValidationError.one("follow_up_done", t("reason.no_follow_up"))
        return self.crm.visits.update(current["id"], {"follow_up_done": 1})
