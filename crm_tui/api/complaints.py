"""The complaint workflow use cases: open, acknowledge, assign a handler, record the
first response, resolve, close, reopen. Each is one transaction and checks the
transition rules of `crm_tui.domain.complaints`, so the UI, the CLI and scripts
cannot move a complaint along a path the workflow forbids."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crm_tui.api.names import with_customer_names
from crm_tui.api.records import Record
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain import complaints as rules
from crm_tui.domain.validation import ValidationError, clean_value
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api import Crm

Clock = Callable[[], dt.datetime]


class ComplaintWorkflow:
    """Complaint use cases over one `Crm`, with the SLA policy of its config unless
    given. The clock is the Crm's unless `now` is given."""

    def __init__(self, crm: Crm, policy: rules.SlaPolicy | None = None, now: Clock | None = None):
        self.crm = crm
        self.policy = policy or crm.config.sla
        self._now = now

    def now(self) -> dt.datetime:
        return (self._now or self.crm.now)()

    def _stamp(self) -> str:
        return self.now().replace(microsecond=0).isoformat()

    # -- reading -------------------------------------------------------------------

    def queue(self, status: str | None = "open", customer_id: str | None = None, *,
              search: str | None = None) -> list[Record]:
        """Complaints by status ("open" = not yet resolved, None = all), most urgent and
        earliest due first, each with its customer's name; `search` keeps those whose
        customer it finds (name, pinyin, phone) or whose own text holds it."""
        filters: list[Filter] = []
        if status == "open":
            filters += [Filter("status", "!=", rules.RESOLVED), Filter("status", "!=", rules.CLOSED)]
        elif status:
            filters.append(Filter("status", "=", status))
        if customer_id:
            filters.append(Filter("customer_id", "=", customer_id))
        with self.crm.lock:
            rows = self.crm.complaints.find(filters, search=search)
            with_customer_names(self.crm, rows)
        return sorted(rows, key=rules.queue_key)

    def first_response_due(self, complaint: Mapping[str, Any]) -> str:
        return self.policy.first_response_due(complaint["received_at"], complaint["priority"])

    # -- the workflow ----------------------------------------------------------------

    def open(self, data: Mapping[str, Any]) -> Record:
        """Record a new complaint: status new, received now unless given, due by the
        SLA of its priority unless a due time is given."""
        values = dict(data)
        for managed in self.crm.complaints.entity.workflow_fields:
            if values.get(managed):
                raise ValidationError.one(managed, t("workflow.managed_field"))
            values.pop(managed, None)
        values["status"] = rules.NEW
        if not values.get("received_at"):
            values["received_at"] = self._stamp()
        if not values.get("due_at"):
            try:
                received = clean_value(self.crm.complaints.entity.field("received_at"), values["received_at"])
                priority = clean_value(self.crm.complaints.entity.field("priority"), values.get("priority"))
            except ValueError:
                received = priority = None  # create() below reports the field's error
            if received and priority:
                values["due_at"] = self.policy.resolution_due(received, priority)
        return self.crm.complaints.create(values)

    def acknowledge(self, complaint_id: str) -> Record:
        return self._move(complaint_id, rules.ACKNOWLEDGED, {"acknowledged_at": self._stamp()})

    def assign(self, complaint_id: str, handler: str) -> Record:
        """Give the complaint a handler; an unstarted complaint goes in progress."""
        handler = (handler or "").strip()
        if not handler:
            raise ValidationError.one("handler", t("workflow.required_to_assign"))
        with self.crm.lock, transaction(self.crm.conn):
            current = self.crm.complaints.get(complaint_id)
            if current["status"] not in rules.OPEN_STATUSES:
                raise ValidationError.one("status", t("workflow.cannot_assign", status=rules.status_label(current["status"])))
            changes: dict[str, Any] = {"handler": handler}
            if current["status"] != rules.IN_PROGRESS:
                changes["status"] = rules.IN_PROGRESS
                if not current.get("acknowledged_at"):
                    changes["acknowledged_at"] = self._stamp()
            return self.crm.complaints.update(current["id"], changes, workflow=True)

    def record_first_response(self, complaint_id: str) -> Record:
        """Stamp the first response to the customer; a new complaint is acknowledged by it."""
        with self.crm.lock, transaction(self.crm.conn):
            current = self.crm.complaints.get(complaint_id)
            if current.get("first_response_at"):
                raise ValidationError.one("first_response_at", t("workflow.first_response_done", at=current["first_response_at"]))
            if current["status"] not in rules.OPEN_STATUSES:
                raise ValidationError.one("status", t("workflow.no_first_response", status=rules.status_label(current["status"])))
            now = self._stamp()
            changes: dict[str, Any] = {"first_response_at": now}
            if current["status"] == rules.NEW:
                changes.update(status=rules.ACKNOWLEDGED, acknowledged_at=now)
            return self.crm.complaints.update(current["id"], changes, workflow=True)

    def start(self, complaint_id: str) -> Record:
        return self._move(complaint_id, rules.IN_PROGRESS, {})

    def resolve(self, complaint_id: str, resolution: str | None, root_cause: str | None) -> Record:
        rules.check_resolution(resolution, root_cause)
        now = self._stamp()

        def fill(current: Record) -> dict[str, Any]:
            changes = {"resolution": resolution, "root_cause": root_cause, "resolved_at": now}
            # Resolving answers the customer: count it as the first response if none was.
            for stamp in ("acknowledged_at", "first_response_at"):
                if not current.get(stamp):
                    changes[stamp] = now
            return changes

        return self._move(complaint_id, rules.RESOLVED, fill)

    def close(self, complaint_id: str) -> Record:
        """Close a resolved complaint. Its satisfaction follow-up with the customer is
        then on the agenda (crm_tui.db.analytics.SATISFACTION_FOLLOW_UPS): a plan, not
        a visit made, so nothing else is written."""
        return self._move(complaint_id, rules.CLOSED, {"closed_at": self._stamp()})

    def reopen(self, complaint_id: str) -> Record:
        """Back to in progress from resolved or closed; the old resolution is kept for
        reference until the next resolve replaces it."""
        with self.crm.lock:
            current = self.crm.complaints.get(complaint_id)
            if current["status"] not in (rules.RESOLVED, rules.CLOSED):
                raise ValidationError.one("status", t("workflow.cannot_reopen", status=rules.status_label(current["status"])))
        return self._move(complaint_id, rules.IN_PROGRESS, {"resolved_at": None, "closed_at": None})

    def _move(self, complaint_id: str, target: str,
              changes: Mapping[str, Any] | Callable[[Record], Mapping[str, Any]]) -> Record:
        with self.crm.lock, transaction(self.crm.conn):
            current = self.crm.complaints.get(complaint_id)
            rules.check_transition(current["status"], target)
            values = dict(changes(current) if callable(changes) else changes)
            values["status"] = target
            return self.crm.complaints.update(current["id"], values, workflow=True)
