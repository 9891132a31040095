"""The field history of one record, read from the change log: which field changed,
from what to what, when, by which rep on which replica."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from crm_tui.domain.times import shown_time
from crm_tui.sync.clock import COUNTER_BITS

if TYPE_CHECKING:
    from crm_tui.api import Crm

# Bookkeeping columns that change with every edit and tell the reader nothing.
_SKIP = frozenset({"updated_at", "created_at"})


def hlc_time(hlc: int) -> str:
    """The wall-clock part of a hybrid logical clock stamp, as every time is shown (local, to the minute)."""
    wall_ms = hlc >> COUNTER_BITS
    return shown_time(dt.datetime.fromtimestamp(wall_ms / 1000, dt.UTC))


def field_history(crm: Crm, table: str, record_id: str) -> list[dict[str, Any]]:
    """One entry per changed field, newest first: {field, old, new, when, hlc, rep,
    node, op}. An insert lists the initial values (old None); a delete is one entry
    with field '*'. A customer's history includes that of the customers merged into
    it, each entry of theirs marked with merged_from (their id)."""
    entries: list[dict[str, Any]] = []
    for change in _changes_with_merged(crm, table, record_id):
        data = json.loads(change["data"] or "{}")
        old = json.loads(change["old"] or "{}")
        base = {"when": hlc_time(change["hlc"]), "hlc": change["hlc"], "rep": change["rep"],
                "node": change["node"], "op": change["op"]}
        if change["row_id"] != record_id:
            base["merged_from"] = change["row_id"]
        if change["op"] == "delete":
            entries.append({**base, "field": "*", "old": None, "new": None})
            continue
        for name, value in data.items():
            if name in _SKIP or (change["op"] == "insert" and value is None):
                continue
            entries.append({**base, "field": name, "old": old.get(name), "new": value})
    entries.sort(key=lambda e: (e["hlc"], e["node"]), reverse=True)
    return entries


def _changes_with_merged(crm: Crm, table: str, record_id: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    todo, seen = [record_id], set()
    while todo:  # merges of merges; concurrent merges on two laptops could even loop
        rid = todo.pop()
        if rid in seen:
            continue
        seen.add(rid)
        changes += crm.changes(table=table, row_id=rid)
        if table == "customers":
            todo += crm.merges.merged_into(rid)
    return changes
