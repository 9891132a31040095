"""The complaint workflow as pure rules: statuses, allowed transitions, what each step
needs, and the SLA due times by priority. No IO; the API enforces these on writes.

    new -> acknowledged -> in_progress -> resolved -> closed
    resolved | closed -> in_progress   (reopen)

A complaint may skip ahead along the main line (a phone call that acknowledges and
resolves at once): acknowledged and in_progress may be passed through, but never
resolved, which needs a resolution and a root cause; closed needs resolved first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_tui.domain.entities import COMPLAINT_PRIORITIES, COMPLAINT_STATUSES, ENTITIES
from crm_tui.domain.validation import FieldError, ValidationError
from crm_tui.i18n import choice_label, t

NEW, ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CLOSED = COMPLAINT_STATUSES
OPEN_STATUSES = (NEW, ACKNOWLEDGED, IN_PROGRESS)

# status -> the statuses a complaint may move to from there.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    NEW: (ACKNOWLEDGED, IN_PROGRESS, RESOLVED),
    ACKNOWLEDGED: (IN_PROGRESS, RESOLVED),
    IN_PROGRESS: (RESOLVED,),
    RESOLVED: (CLOSED, IN_PROGRESS),
    CLOSED: (IN_PROGRESS,),
}

# Most urgent first: the order of the complaints queue.
PRIORITY_RANK = {p: i for i, p in enumerate(reversed(COMPLAINT_PRIORITIES))}


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, ())


def status_label(code: str | None) -> str:
    """A complaint status as the user reads it (新建, 已解决 ...)."""
    return choice_label(ENTITIES["complaints"], "status", code) or str(code)


def check_transition(current: str, target: str) -> None:
    """Raise ValidationError on the `status` field when the move is not allowed."""
    if not can_move(current, target):
        allowed = ", ".join(status_label(s) for s in TRANSITIONS.get(current, ())) or t("workflow.nothing")
        raise ValidationError.one("status", t("workflow.cannot_move", current=status_label(current),
                                               target=status_label(target), allowed=allowed))


def check_resolution(resolution: str | None, root_cause: str | None) -> None:
    errors = []
    if not (resolution or "").strip():
        errors.append(FieldError("resolution", t("workflow.required_to_resolve")))
    if not (root_cause or "").strip():
        errors.append(FieldError("root_cause", t("workflow.required_to_resolve")))
    if errors:
        raise ValidationError(errors)


def check_record(complaint: Mapping[str, Any]) -> None:
    """A complaint as a whole agrees with the workflow: what its status says happened
    is recorded. Checked on every write: a complaint is created (a form, an import of
    past complaints, a pulled conflict settled) only in a state the workflow could
    have brought it to, and an edit cannot take away what that state needs."""
    status = complaint.get("status")
    errors = []
    if status in (RESOLVED, CLOSED):
        for name in ("resolution", "root_cause", "resolved_at"):
            if not str(complaint.get(name) or "").strip():
                errors.append(FieldError(name, t("workflow.required_for_status", status=status_label(status))))
    elif complaint.get("resolved_at"):
        errors.append(FieldError("resolved_at", t("workflow.set_but_not", status=status_label(status),
                                                         target=status_label(RESOLVED))))
    if status == CLOSED and not complaint.get("closed_at"):
        errors.append(FieldError("closed_at", t("workflow.required_for_status", status=status_label(CLOSED))))
    elif status != CLOSED and complaint.get("closed_at"):
        errors.append(FieldError("closed_at", t("workflow.set_but_not", status=status_label(status),
                                                       target=status_label(CLOSED))))
    if errors:
        raise ValidationError(errors)


def hours(days: float = 0, h: float = 0) -> dt.timedelta:
    return dt.timedelta(days=days, hours=h)


@dataclass(frozen=True)
class SlaPolicy:
    """How long a complaint of each priority may wait for a first response and for
    its resolution, counted from when it was received."""

    first_response: Mapping[str, dt.timedelta] = field(default_factory=lambda: {
        "urgent": hours(h=1), "high": hours(h=4), "medium": hours(h=24), "low": hours(h=72)})
    resolution: Mapping[str, dt.timedelta] = field(default_factory=lambda: {
        "urgent": hours(h=4), "high": hours(h=24), "medium": hours(h=72), "low": hours(days=7)})

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SlaPolicy:
        """The `[sla]` section: `[sla.first_response]` and `[sla.resolution]` tables of
        hours per priority override the defaults; unknown keys, unknown priorities
        and bad numbers are errors naming the key."""
        default = cls()
        tables = {}
        for kind in section:
            if kind not in ("first_response", "resolution"):
                raise ValidationError.one(f"sla.{kind}", t("reason.config.sla_key"))
        for kind in ("first_response", "resolution"):
            merged = dict(getattr(default, kind))
            given = section.get(kind) or {}
            if not isinstance(given, Mapping):
                raise ValidationError.one(f"sla.{kind}", t("reason.config.sla_table"))
            for prio, value in given.items():
                if prio not in COMPLAINT_PRIORITIES:
                    raise ValidationError.one(f"sla.{kind}.{prio}", t("reason.config.sla_priority", priorities=", ".join(COMPLAINT_PRIORITIES)))
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                    raise ValidationError.one(f"sla.{kind}.{prio}", t("reason.config.sla_hours"))
                merged[prio] = hours(h=float(value))
            tables[kind] = merged
        return cls(**tables)

    def first_response_due(self, received_at: str, priority: str) -> str:
        return _add(received_at, self.first_response[priority])

    def resolution_due(self, received_at: str, priority: str) -> str:
        return _add(received_at, self.resolution[priority])


def _add(stamp: str, delta: dt.timedelta) -> str:
    return (dt.datetime.fromisoformat(stamp) + delta).replace(microsecond=0).isoformat()


def is_overdue(complaint: Mapping[str, Any], now: dt.datetime) -> bool:
    """An open complaint past its resolution due time."""
    due = complaint.get("due_at")
    return (isinstance(due, str) and bool(due) and complaint.get("status") not in (RESOLVED, CLOSED)
            and dt.datetime.fromisoformat(due) < now)


def first_response_overdue(complaint: Mapping[str, Any], now: dt.datetime, policy: SlaPolicy) -> bool:
    if complaint.get("first_response_at") or complaint.get("status") in (RESOLVED, CLOSED):
        return False
    due = policy.first_response_due(complaint["received_at"], complaint["priority"])
    return dt.datetime.fromisoformat(due) < now


def due_soon(complaint: Mapping[str, Any], now: dt.datetime, within: dt.timedelta = hours(h=24)) -> bool:
    due = complaint.get("due_at")
    if not due or complaint.get("status") in (RESOLVED, CLOSED):
        return False
    when = dt.datetime.fromisoformat(due)
    return now <= when < now + within


def sla_kept(complaint: Mapping[str, Any]) -> bool | None:
    """Whether a resolved complaint was resolved by its due time; None while open."""
    if not complaint.get("resolved_at") or not complaint.get("due_at"):
        return None
    return complaint["resolved_at"] <= complaint["due_at"]


def queue_key(complaint: Mapping[str, Any]) -> tuple:
    """Sort key of the complaints queue: open before done, most urgent first, then the
    earliest due."""
    done = complaint.get("status") in (RESOLVED, CLOSED)
    return (done, PRIORITY_RANK.get(complaint.get("priority") or "", 99), complaint.get("due_at") or "9999",
            complaint.get("received_at") or "")
