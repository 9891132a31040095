"""Create, read, update, delete and search one kind of record, with validation on
every path. Returns plain dicts keyed by field name."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ulid import ULID

from crm_tui.db import records as sql
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain.entities import Entity
from crm_tui.domain.search import customer_pinyin, normalize_query
from crm_tui.domain.validation import FieldError, ValidationError, clean, clean_value

Record = dict[str, Any]


class NotFound(LookupError):
    pass


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def local_now() -> dt.datetime:
    """User-facing date-times are local wall time (see docs/architecture.md); the
    default clock of `Crm.now`."""
    return dt.datetime.now().replace(microsecond=0)


def new_id() -> str:
    return str(ULID())


def parse_filter(ent: Entity, text: str) -> Filter:
    """'region=华东', 'tier!=C', 'name~张', 'amount>=100' -> a validated Filter."""
    for op in ("!=", "<=", ">=", "=", "<", ">", "~"):
        if op in text:
            name, _, raw = text.partition(op)
            name = name.strip()
            break
    else:
        raise ValidationError.one(text, "is not a condition like FIELD=VALUE (also !=, <, <=, >, >=, ~)")
    if name not in ("id", "owner", "created_at", "updated_at", *ent.field_names):
        raise ValidationError.one(name, f"is not a field of a {ent.name}")
    value: Any = raw.strip()
    if name in ent.field_names and op != "~" and value != "" and name != "tags":
        try:
            value = clean_value(ent.field(name), value)
        except ValueError as exc:
            raise ValidationError.one(name, str(exc)) from None
    return Filter(name, op, None if value == "" else value)


class Records:
    """The use cases of one record kind. Shared by the UI, the CLI and scripts."""

    def __init__(self, conn: sqlite3.Connection, ent: Entity, lock: threading.RLock):
        self.conn = conn
        self.entity = ent
        self._lock = lock
        self._last_total: tuple[tuple[Filter, ...], str | None, tuple[int, int], int] | None = None

    # -- reading -----------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        """A record by id, or by a unique prefix of its id (at least 6 characters)."""
        with self._lock:
            record = sql.get(self.conn, self.entity, record_id)
            if record is None and len(record_id) >= 6:
                matches = sql.ids_with_prefix(self.conn, self.entity, record_id.upper())
                if len(matches) == 1:
                    record = sql.get(self.conn, self.entity, matches[0])
                elif len(matches) > 1:
                    raise NotFound(f"{record_id!r} matches more than one {self.entity.name}; give more of the id")
        if record is None:
            raise NotFound(f"no {self.entity.name} with id {record_id!r}")
        return record

    def list(
        self,
        filters: Sequence[Filter] = (),
        *,
        search: str | None = None,
        order: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Record]:
        query = self._query(search)
        with self._lock:
            rows, total = sql.select_counted(self.conn, self.entity, filters=filters, search=query,
                                             order=self._order(order), limit=limit, offset=offset)
            if total is not None:
                # search-as-you-type asks for a page, then the count: one scan serves both
                self._last_total = (tuple(filters), query, self._data_version(), total)
            return rows

    def count(self, filters: Sequence[Filter] = (), *, search: str | None = None) -> int:
        query = self._query(search)
        with self._lock:
            cached = self._last_total
            if cached and cached[:3] == (tuple(filters), query, self._data_version()):
                return cached[3]
            return sql.count(self.conn, self.entity, filters=filters, search=query)

    def _data_version(self) -> tuple[int, int]:
        """Changes by this connection and commits by others since it opened."""
        return sql.data_version(self.conn)

    def search(self, query: str, limit: int = 50) -> list[Record]:
        return self.list(search=query, limit=limit)

    def _query(self, search: str | None) -> str | None:
        if not search or not search.strip():
            return None
        if self.entity.table != "customers":
            raise ValidationError.one("search", f"{self.entity.table} cannot be searched; filter them instead")
        return normalize_query(search)

    def _order(self, order: str | None) -> str | None:
        """'name' or '-amount' (descending) -> SQL; only known columns."""
        if not order:
            return None
        desc = order.startswith("-")
        name = order.lstrip("-")
        if name not in ("id", "owner", "created_at", "updated_at", *self.entity.field_names):
            raise ValidationError.one("order", f"{name!r} is not a field of a {self.entity.name}")
        sql_type = self.entity.field(name).sql_type if name in self.entity.field_names else "TEXT"
        expr = dict(self.entity.sort_exprs).get(name) or f'"{name}"' + (" COLLATE NOCASE" if sql_type == "TEXT" else "")
        if expr == self.entity.default_order and not desc:
            return None  # the default order, which an index may serve
        return expr + (" DESC" if desc else "")

    # -- writing -----------------------------------------------------------------

    def prepare(self, data: Mapping[str, Any], *, owner: str | None = None) -> Record:
        """Validate a new record and fill in its id, owner and stamps; no write."""
        values = clean(self.entity, data)
        now = utc_now()
        rep = owner if owner is not None else values.get("owner") or sql.local_rep(self.conn)
        record: Record = {"id": new_id(), "owner": rep, "created_at": now, "updated_at": now, **values}
        record["owner"] = rep
        self._derive(record)
        return record

    def create(self, data: Mapping[str, Any], *, owner: str | None = None) -> Record:
        with self._lock:
            record = self.prepare(data, owner=owner)
            with transaction(self.conn):
                self._check_refs(record)
                sql.insert(self.conn, self.entity, record)
            return self.get(record["id"])

    def update(self, record_id: str, changes: Mapping[str, Any], *, workflow: bool = False) -> Record:
        """Change fields of a record. Fields moved by a workflow (a complaint's status
        and its stamps) change only with `workflow=True`, which the workflow's use
        cases pass after checking the transition."""
        with self._lock:
            current = self.get(record_id)
            values = clean(self.entity, changes, partial=True)
            if not workflow:
                self._refuse_workflow_fields([current], values)
            with transaction(self.conn):
                self._write_update(current, values)
            return self.get(current["id"])

    def delete(self, record_id: str) -> Record:
        with self._lock:
            current = self.get(record_id)
            with transaction(self.conn):
                sql.delete(self.conn, self.entity, current["id"])
            return current

    def bulk_update(self, filters: Sequence[Filter], changes: Mapping[str, Any], *,
                    dry_run: bool = False) -> list[dict[str, Any]]:
        """Set fields on every record matching `filters`, all or nothing. Returns the
        diff: one {id, name, field, old, new} per changed field."""
        if not changes:
            raise ValidationError.one("set", "give at least one FIELD=VALUE to set")
        values = clean(self.entity, changes, partial=True)
        with self._lock:
            targets = sql.select(self.conn, self.entity, filters=filters)
            self._refuse_workflow_fields(targets, values)
            diff = [
                {"id": r["id"], "name": r.get("name", ""), "field": k, "old": r.get(k), "new": v}
                for r in targets for k, v in values.items() if r.get(k) != v
            ]
            if not dry_run and diff:
                with transaction(self.conn):
                    for r in targets:
                        self._write_update(r, values)
        return diff

    def _refuse_workflow_fields(self, records: Iterable[Record], values: Mapping[str, Any]) -> None:
        moved = sorted({k for r in records for k, v in values.items()
                        if k in self.entity.workflow_fields and r.get(k) != v})
        if moved:
            raise ValidationError([FieldError(name, f"changes only through the {self.entity.name} workflow "
                                                    f"(acknowledge, assign, respond, resolve, close, reopen)")
                                   for name in moved])

    def _write_update(self, current: Record, values: Mapping[str, Any]) -> None:
        changed = {k: v for k, v in values.items() if current.get(k) != v}
        if not changed:
            return
        merged = {**current, **changed}
        self._check_refs(merged)
        changed["updated_at"] = utc_now()
        if self.entity.table == "customers" and "name" in changed:
            changed["pinyin"] = customer_pinyin(merged.get("name"))
        sql.update(self.conn, self.entity, current["id"], changed)

    def _derive(self, record: Record) -> None:
        if self.entity.table == "customers":
            record["pinyin"] = customer_pinyin(record.get("name"))

    def _check_refs(self, record: Mapping[str, Any]) -> None:
        for f in self.entity.fields:
            if f.kind == "ref" and record.get(f.name) and not sql.exists(self.conn, f.ref or "", record[f.name]):
                raise ValidationError([FieldError(f.name, f"no {f.ref} record with id {record[f.name]!r}")])

    def insert_prepared(self, records: Iterable[Record]) -> None:
        """Insert records already made by `prepare`, inside the caller's transaction."""
        for record in records:
            sql.insert(self.conn, self.entity, record)
