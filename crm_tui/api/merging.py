"""Merging two customers into one and undoing it (`crm customers merge` / `unmerge`,
the merge view of the UI). One transaction: every record of the merged customer
(visits, complaints, orders and their lines, opportunities, contacts, surveys ...)
is re-pointed to the kept customer, the kept customer takes the chosen fields, the
merged one is deleted, and a merge record keeps what moved and what it replaced.

Each of those writes is an ordinary captured edit with its own stamp, so that the
field-level merge of sync treats it like any edit (a later fold of a record's
history never undoes it), and the server authorises each one; the merge record
travels with them in the same push, scoped to the kept customer, and the server
accepts it only from a rep who holds both customers (crm_tui.domain.changes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crm_tui.api.records import Filter, NotFound, Record, Records, utc_now
from crm_tui.db import merging as sql
from crm_tui.db.connection import transaction
from crm_tui.domain import merging as rules
from crm_tui.domain.entities import CLASSIFICATION_OVERRIDE, CUSTOMER, ENTITIES, MERGE, SYSTEM_COLUMNS, derive
from crm_tui.domain.validation import ValidationError, clean
from crm_tui.i18n import entity_name, t

if TYPE_CHECKING:
    from crm_tui.api import Crm


class Merges:
    """The merge use cases over one `Crm`."""

    def __init__(self, crm: Crm):
        self.crm = crm
        self.records = Records(crm.conn, MERGE, crm.lock)

    def _kind(self, table: str) -> Records:
        return Records(self.crm.conn, ENTITIES[table], self.crm.lock)

    # -- reading ---------------------------------------------------------------------

    def compare(self, keep_id: str, other_id: str) -> list[dict[str, Any]]:
        """Field by field: the kept customer's value, the other's, the default side."""
        keep, other = self.crm.customers.get(keep_id), self.crm.customers.get(other_id)
        rules.check_pair(keep["id"], other["id"])
        self._check_privacy(keep["id"], other["id"])
        return rules.compare(keep, other)

    def get(self, merge_id: str) -> Record:
        return self.records.get(merge_id)

    def find(self, customer_id: str | None = None) -> list[Record]:
        filters = [Filter("customer_id", "=", customer_id)] if customer_id else []
        return self.records.find(filters)

    def merged_into(self, customer_id: str) -> list[str]:
        with self.crm.lock:
            return sql.merged_into(self.crm.conn, customer_id)

    # -- writing ---------------------------------------------------------------------

    def merge(self, keep_id: str, other_id: str, take: Mapping[str, str] | None = None) -> Record:
        """Merge customer `other_id` into `keep_id`; `take` is {field: 'keep'|'other'}
        (unnamed fields: the kept value, or the other's where the kept one is empty).
        Returns the merge record."""
        take = dict(take or {})
        with self.crm.lock:
            keep, other = self.crm.customers.get(keep_id), self.crm.customers.get(other_id)
            rules.check_pair(keep["id"], other["id"])
            self._check_privacy(keep["id"], other["id"])
            bad = [n for n in take if n not in rules.mergeable_fields()]
            if bad:
                raise ValidationError.one("take", t("merge.msg.not_a_field", name=repr(bad[0])))
            values = rules.chosen_values(keep, other, take)
            with transaction(self.crm.conn):
                moved: dict[str, list[str]] = {}
                for table, ref in rules.moved_kinds():
                    kind = self._kind(table)
                    ids = sql.ids_of_customer(self.crm.conn, table, ref, other["id"])
                    for record_id in ids:
                        kind.apply_update(kind._get(record_id), {ref: keep["id"]})
                    if ids:
                        moved[table] = ids
                self.crm.customers.apply_update(keep, values)
                other_record = {k: other.get(k) for k in (*SYSTEM_COLUMNS, *CUSTOMER.input_names)}
                # The other's manual classification is deleted with it: kept here, so
                # that an unmerge brings it back (the kept customer keeps their own).
                other_record[rules.OVERRIDES] = [
                    {k: o.get(k) for k in (*SYSTEM_COLUMNS, *CLASSIFICATION_OVERRIDE.input_names)}
                    for o in self._kind(rules.OVERRIDES).find([Filter("customer_id", "=", other["id"])])]
                record = self.records.prepare({
                    "customer_id": keep["id"], "other_id": other["id"], "merged_at": utc_now(),
                    "status": "merged", "moved": rules.dumps(moved),
                    "taken": rules.dumps({k: [keep.get(k), v] for k, v in values.items()}),
                    "other_record": rules.dumps(other_record)})
                self.records.insert_prepared([record])
                # After the merge record: its reference to the other is checked while
                # it exists; the delete is the last change of the merge.
                self.crm.customers.delete(other["id"])
            return self.records._get(record["id"])

    def _check_privacy(self, *customer_ids: str) -> None:
        """A person's erase comes before any merge: a pending erase request would be
        left naming a deleted customer (or erase records it never named), and an
        erased customer's shell would take a living one's data."""
        privacy = self.crm.privacy
        for cid in customer_ids:
            request = privacy.pending_request(cid)
            if request is not None:
                raise ValidationError.one("merge", t("merge.msg.erase_pending", customer=cid, id=request["id"]))
            if privacy.erased(cid) is not None:
                raise ValidationError.one("merge", t("merge.msg.erased", customer=cid))

    def unmerge(self, merge_id: str) -> Record:
        """Undo a merge while nobody has edited the kept customer, the merged one or
        a moved record since; otherwise ValidationError naming the first edited one."""
        with self.crm.lock:
            merge = self.records.get(merge_id)
            if merge["status"] != "merged":
                raise ValidationError.one("merge", t("merge.msg.already_undone", id=merge["id"]))
            # A merge record pulled from before the server checked them may hold
            # anything: what an unmerge reads back is checked before anything moves.
            rules.check_values(merge)
            rules.check_record(merge)
            if not rules.loads(merge.get("other_record")):
                raise ValidationError.one("merge", t("merge.rule.no_other_record", id=merge["id"]))
            kinds = dict(rules.moved_kinds())
            foreign = rules.foreign_moved(merge.get("moved"), merge["customer_id"], lambda table, record_id: (
                sql.customer_of(self.crm.conn, table, kinds[table], record_id, missing=merge["customer_id"])))
            if foreign is not None:
                raise ValidationError.one("moved", t("refusal.rule.merge_moved_foreign", id=repr(foreign[1]),
                                                     kind=entity_name(ENTITIES[foreign[0]])))
            stamp = sql.insert_stamp(self.crm.conn, MERGE.table, merge["id"])
            if stamp is None:
                raise ValidationError.one("merge", t("merge.msg.no_history", id=merge["id"]))
            keep_id, other_id = merge["customer_id"], merge["other_id"]
            moved = rules.moved_ids(merge)
            edited = [("customers", i) for i in sql.changed_after(self.crm.conn, "customers", [keep_id], stamp)]
            edited += [("customers", i) for i in sql.changed_after(self.crm.conn, "customers", [other_id], stamp,
                                                                   ignore_deletes=True)]
            for table, ids in moved.items():
                edited += [(table, i) for i in sql.changed_after(self.crm.conn, table, ids, stamp)]
            if edited:
                raise ValidationError.one("merge", rules.edited_since_reason(edited))
            keep = self.crm.customers.get(keep_id)
            with transaction(self.crm.conn):
                self._restore_other(merge, other_id)
                taken = rules.loads(merge.get("taken"))
                before = {k: v[0] for k, v in taken.items()
                          if k in rules.mergeable_fields() and isinstance(v, list) and len(v) == 2}
                self.crm.customers.apply_update(keep, clean(CUSTOMER, before, partial=True))
                for table, ids in moved.items():
                    kind, ref = self._kind(table), dict(rules.moved_kinds())[table]
                    for record_id in ids:
                        try:
                            current = kind._get(record_id)
                        except NotFound:
                            continue  # deleted since, on another laptop: nothing to move back
                        kind.apply_update(current, {ref: other_id})
                self.records.apply_update(merge, clean(MERGE, {"status": "undone", "undone_at": utc_now()},
                                                       partial=True))
            return self.records._get(merge["id"])

    def _restore_other(self, merge: Mapping[str, Any], other_id: str) -> None:
        """The merged customer again, as it was, under its own id (an insert stamped
        after its delete brings it back on every replica)."""
        saved = rules.loads(merge.get("other_record"))
        fields = {k: v for k, v in saved.items() if k in CUSTOMER.input_names}
        record: Record = {**clean(CUSTOMER, fields), "id": other_id,
                          "owner": saved.get("owner") if isinstance(saved.get("owner"), str) else "",
                          "created_at": saved.get("created_at") or utc_now(), "updated_at": utc_now()}
        record.update(derive(CUSTOMER, record))
        self.crm.customers.insert_prepared([record])
        overrides = self._kind(rules.OVERRIDES)
        for saved_override in rules.saved_overrides(saved):
            values = {k: v for k, v in saved_override.items() if k in CLASSIFICATION_OVERRIDE.input_names}
            restored: Record = {**clean(CLASSIFICATION_OVERRIDE, {**values, "customer_id": other_id}),
                                "id": other_id, "owner": record["owner"],
                                "created_at": saved_override.get("created_at") or utc_now(), "updated_at": utc_now()}
            overrides.insert_prepared([restored])
