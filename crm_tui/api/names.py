"""Customer names for lists of visits, complaints and orders, which store only the
customer's id."""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from crm_tui.api.records import NotFound

if TYPE_CHECKING:
    from crm_tui.api import Crm

_Row = TypeVar("_Row", bound=MutableMapping[str, Any])  # rows come back as the caller's own type


def customer_names(crm: Crm, ids: Iterable[str]) -> dict[str, str]:
    """id -> name for each customer id (a deleted customer's id maps to itself)."""
    names: dict[str, str] = {}
    with crm.lock:
        for cid in set(ids):
            try:
                names[cid] = crm.customers.get(cid)["name"]
            except NotFound:
                names[cid] = cid
    return names


def with_customer_names(crm: Crm, rows: list[_Row]) -> list[_Row]:
    """Add `customer_name` to each row that has a `customer_id`."""
    names = customer_names(crm, (r["customer_id"] for r in rows if r.get("customer_id")))
    for row in rows:
        row["customer_name"] = names.get(row.get("customer_id") or "", "")
    return rows
