"""A person's rights over their data (PIPL, GDPR): export everything held about a
customer, and erase it everywhere. An erase is a synced record (`erasures`, keyed by
the customer's id): every replica that receives it scrubs the customer, and nothing
that arrives later brings them back (DESIGN invariant 10). On a team server only
managers erase; a rep's erase files an erase request the managers carry out or
decline. See docs/privacy.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crm_tui.api.history import field_history
from crm_tui.api.records import NotFound, Records, utc_now
from crm_tui.db import privacy as sql
from crm_tui.db import records as records_sql
from crm_tui.db.connection import transaction
from crm_tui.domain.entities import ERASE_REQUEST, ERASURE
from crm_tui.domain.privacy import CUSTOMERS, ERASURES, may_decide, person_kinds, scrub_plan
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import t
from crm_tui.sync.merge import Change

if TYPE_CHECKING:
    from crm_tui.api import Crm


@dataclass
class ErasureApplied:
    """An erase received by sync and carried out here, for telling the rep."""

    customer_id: str
    erased_by: str
    erased_at: str
    reason: str | None
    # Changes made on this laptop to the customer's records, now scrubbed.
    own_changes: int = 0


@dataclass
class EraseResult:
    """What `erase` did: erased here, or filed a request for a manager."""

    customer_id: str
    erased: bool
    request: dict[str, Any] | None = None
    erasure: dict[str, Any] | None = None
    removed: dict[str, int] = field(default_factory=dict)
    purged: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "erased": self.erased, "request": self.request,
                "erasure": self.erasure, "removed": self.removed, "purged": self.purged}


class Privacy:
    """Export and erase a person's data on this replica."""

    def __init__(self, crm: Crm):
        self.crm = crm
        self.conn = crm.conn
        self.lock = crm.lock
        self.erasures = Records(self.conn, ERASURE, self.lock)
        self.requests = Records(self.conn, ERASE_REQUEST, self.lock)

    # -- export ----------------------------------------------------------------------

    def export_person(self, customer_id: str) -> dict[str, Any]:
        """Everything held here about one customer, as one JSON-ready document: their
        record, every record about them (visits, complaints, orders, surveys, and any
        other kind pointing to a customer) and the field history of each."""
        with self.lock:
            customer = self.crm.customers.get(customer_id)
            cid = customer["id"]
            related = sql.related_ids(self.conn, cid, person_kinds())
            records = {table: sql.rows(self.conn, table, ids) for table, ids in related.items()}
            history = {f"customers/{cid}": field_history(self.crm, CUSTOMERS, cid)}
            for table, ids in related.items():
                for rid in ids:
                    entries = field_history(self.crm, table, rid)
                    if entries:
                        history[f"{table}/{rid}"] = entries
            erasure = sql.erasure(self.conn, cid)
        return {
            "about": t("privacy.export.about"),
            "exported_at": utc_now(),
            "database": str(self.crm.path),
            "customer": {k: v for k, v in customer.items()},
            "erased": erasure,
            "records": records,
            "field_history": history,
        }

    # -- erase -----------------------------------------------------------------------

    def erased(self, customer_id: str) -> dict[str, Any] | None:
        with self.lock:
            return sql.erasure(self.conn, customer_id)

    def must_request(self) -> bool:
        """True when this laptop syncs with a team server and its rep is not a manager
        there (or has not synced yet to learn their role): an erase is then a request."""
        with self.lock:
            role = sql.role(self.conn)
        return not may_decide(role, on_team=bool(self.crm.config.sync.server))

    def preview(self, customer_id: str) -> dict[str, Any]:
        """What an erase of this customer would remove here: the customer, and per
        kind the records whose personal fields go, plus the change-log entries."""
        with self.lock:
            customer = self.crm.customers.get(customer_id)
            cid = customer["id"]
            related = sql.related_ids(self.conn, cid, person_kinds())
            counts = {table: len(ids) for table, ids in related.items() if ids}
            log = sql.log_count(self.conn, CUSTOMERS, [cid]) + sum(
                sql.log_count(self.conn, t, ids) for t, ids in related.items())
        return {"customer_id": cid, "name": customer.get("name"), "records": counts, "change_log": log,
                "already_erased": self.erased(cid) is not None, "request": self.must_request()}

    def erase(self, customer_id: str, *, reason: str | None = None, request_id: str | None = None) -> EraseResult:
        """Erase the customer here (and, by sync, everywhere), or file a request for
        a manager when `must_request`. Orders stay, under the anonymous customer the
        record becomes, so sales figures do not change."""
        reason = (reason or "").strip() or None
        if reason is not None and len(reason) > 500:
            raise ValidationError.one("reason", t("privacy.reason_too_long"))
        if self.must_request():
            return self._file_request(customer_id, reason)
        with self.lock:
            cid = self.crm.customers.get(customer_id)["id"]
            if sql.erasure(self.conn, cid) is not None:
                raise ValidationError.one("customer", t("privacy.already_erased", id=cid))
            related = sql.related_ids(self.conn, cid, person_kinds())
            removed = {t: len(ids) for t, ids in related.items() if ids}
            now = utc_now()
            me = records_sql.local_rep(self.conn)
            with transaction(self.conn):
                # Validated like any record (every replica checks it); keyed by the customer.
                record = self.erasures.prepare({"erased_at": now, "erased_by": me, "reason": reason,
                                                "request_id": request_id}, owner=me)
                record["id"] = cid
                self.erasures.insert_prepared([record])  # captured: this is what syncs
                sql.scrub(self.conn, cid, related, scrub_plan())
                if request_id:
                    self.requests.update(request_id, {"status": "done", "decided_by": me, "decided_at": now})
            purged = sql.purge_freed_bytes(self.conn)
        return EraseResult(cid, True, erasure=record, removed=removed, purged=purged)

    def pending_request(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's erase request still waiting for a manager, if any."""
        pending = self.requests.find([records_sql.Filter("customer_id", "=", customer_id),
                                      records_sql.Filter("status", "=", "pending")])
        return pending[0] if pending else None

    def _file_request(self, customer_id: str, reason: str | None) -> EraseResult:
        with self.lock:
            cid = self.crm.customers.get(customer_id)["id"]
            pending = self.pending_request(cid)
            if pending:
                return EraseResult(cid, False, request=pending)
            request = self.requests.create({"customer_id": cid, "reason": reason, "status": "pending",
                                            "requested_by": records_sql.local_rep(self.conn)})
        return EraseResult(cid, False, request=request)

    # -- erase requests (managers) ---------------------------------------------------

    def list_requests(self, status: str | None = None) -> list[dict[str, Any]]:
        filters = [records_sql.Filter("status", "=", status)] if status else []
        return self.requests.find(filters)

    def approve(self, request_id: str) -> EraseResult:
        """Carry out a rep's erase request (a manager, or a laptop without a server)."""
        request = self._pending(request_id)
        if self.must_request():
            raise ValidationError.one("request", t("privacy.only_manager_approve"))
        try:
            return self.erase(request["customer_id"], reason=request.get("reason"), request_id=request["id"])
        except NotFound:
            raise ValidationError.one("request", t("privacy.not_on_laptop", id=request["customer_id"])) from None

    def decline(self, request_id: str, reason: str) -> dict[str, Any]:
        if not reason.strip():
            raise ValidationError.one("reason", t("privacy.decline_needs_reason"))
        request = self._pending(request_id)
        if self.must_request():
            raise ValidationError.one("request", t("privacy.only_manager_decline"))
        return self.requests.update(request["id"], {"status": "declined", "decision_reason": reason.strip(),
                                                    "decided_by": records_sql.local_rep(self.conn),
                                                    "decided_at": utc_now()})

    def _pending(self, request_id: str) -> dict[str, Any]:
        request = self.requests.get(request_id)
        if request["status"] != "pending":
            raise ValidationError.one("request", t("privacy.request_already", id=request["id"], status=request["status"]))
        return request

    # -- sync ------------------------------------------------------------------------

    def enforce(self, batch: Sequence[Change], own_since: int | None = None) -> list[ErasureApplied]:
        """Inside the transaction that applied a pulled batch: scrub every customer the
        batch erased, and again any erased customer the batch touched (a late or
        concurrent edit never brings a person back). The erasures to tell the rep of
        (docs/privacy.md): those that took a person's data off this laptop, and those
        that discarded edits made here, with the count of this laptop's changes after
        its change `own_since` (those this sync pushed). Every laptop receives every
        erasure; one that never held the customer (another territory's, or a new
        laptop given them already erased) is told nothing."""
        if not sql.any_erasure(self.conn):
            return []
        new = {c.row_id for c in batch if c.tbl == ERASURES and c.op == "insert"}
        touched: set[str] = set()
        kinds = dict(person_kinds())
        for c in batch:
            if c.tbl == CUSTOMERS:
                touched.add(c.row_id)
            elif c.tbl in kinds:
                ref = c.data.get(kinds[c.tbl]) or sql.customer_of(self.conn, c.tbl, kinds[c.tbl], c.row_id)
                if ref:
                    touched.add(str(ref))
        erased = sql.erased_ids(self.conn, sorted(new | touched))
        applied: list[ErasureApplied] = []
        plan = scrub_plan()
        for cid in sorted(erased):
            related = sql.related_ids(self.conn, cid, person_kinds())
            own = 0
            if own_since is not None:
                own = sql.own_changes_count(self.conn, CUSTOMERS, [cid], own_since) + sum(
                    sql.own_changes_count(self.conn, t, ids, own_since) for t, ids in related.items())
            held = cid in new and sql.holds_person(self.conn, cid)
            sql.scrub(self.conn, cid, related, plan)
            row = sql.erasure(self.conn, cid) or {}
            if held or own:
                applied.append(ErasureApplied(cid, row.get("erased_by", ""), row.get("erased_at", ""),
                                              row.get("reason"), own))
        return applied

    def purge(self) -> bool:
        """Make scrubbed bytes leave the file and WAL (after the scrub committed)."""
        with self.lock:
            return sql.purge_freed_bytes(self.conn)

    def remember_role(self, role: str | None) -> None:
        with self.lock, transaction(self.conn):
            sql.set_role(self.conn, role)


def erased_message(e: ErasureApplied) -> str:
    """What the rep is told when sync carried out an erase on this laptop."""
    when = e.erased_at[:10] if e.erased_at else "?"
    text = t("privacy.erased_by", id=e.customer_id, who=e.erased_by or "?", when=when)
    if e.reason:
        text += t("privacy.erased_reason", reason=e.reason)
    text += t("privacy.erased_left")
    if e.own_changes:
        text += t("privacy.erased_discarded", n=e.own_changes)
    return text


__all__ = ["EraseResult", "ErasureApplied", "Privacy", "erased_message", "person_kinds", "scrub_plan"]
