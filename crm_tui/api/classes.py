"""Keeping a customer's computed classes (status, lifecycle stage, tier) right on this
laptop: classify the whole book and store what changed in local columns, never
captured nor synced (docs/analytics.md, "Where classes live"). Kept apart from the
rest of the analytics so that a customer list that must recompute them loads only
the classification rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from crm_tui.db import analytics as sql
from crm_tui.db import records as records_sql
from crm_tui.db.connection import transaction
from crm_tui.domain.analytics.classification import Classification, classify
from crm_tui.domain.analytics.facts import CustomerFacts
from crm_tui.domain.analytics.settings import AnalyticsSettings

if TYPE_CHECKING:
    from crm_tui.api import Crm


def book_facts(crm: Crm, settings: AnalyticsSettings, today: dt.date, *, rep: str | None = None,
               customer_id: str | None = None) -> list[CustomerFacts]:
    """Every customer's order and contact aggregates as of `today`."""
    with crm.lock:
        return sql.customer_facts(crm.conn, today, window_days=settings.rfm_window_days,
                                  trend_days=settings.trend_days, rep=rep, customer_id=customer_id)


def classify_facts(crm: Crm, settings: AnalyticsSettings, facts: list[CustomerFacts]) -> list[Classification]:
    """The classes of the customers of `facts` (tiers rank those given), overrides on top."""
    with crm.lock:
        overrides = sql.overrides(crm.conn)
    return classify(facts, settings, overrides)


def store_classes(crm: Crm, classes: Iterable[Classification], as_of: dt.date, *, dry_run: bool = False) -> int:
    """Write the classes that differ from the stored ones, for every customer given,
    and remember for which day and data they were computed. Returns how many changed."""
    with crm.lock:
        stored = sql.stored_classes(crm.conn)
        changed = [(c.status, c.lifecycle_stage, c.tier, c.customer_id) for c in classes
                   if stored.get(c.customer_id) != (c.status, c.lifecycle_stage, c.tier)]
        if not dry_run:
            with transaction(crm.conn):
                if changed:
                    sql.write_classes(crm.conn, changed)
                records_sql.set_class_state(crm.conn, as_of.isoformat(), records_sql.log_position(crm.conn))
    return len(changed)


def is_current(crm: Crm, today: dt.date) -> bool:
    """Whether the stored classes are those of `today` and of the data as it is."""
    with crm.lock:
        return records_sql.class_state(crm.conn) == (today.isoformat(), records_sql.log_position(crm.conn))


def ensure_classes(crm: Crm, settings: AnalyticsSettings, today: dt.date) -> int:
    """Recompute and store the whole book's classes unless they are current; a write
    in progress leaves them to the next read."""
    with crm.lock:
        if crm.conn.in_transaction or is_current(crm, today):
            return 0
        classes = classify_facts(crm, settings, book_facts(crm, settings, today))
        return store_classes(crm, classes, today)
