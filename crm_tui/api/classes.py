"""Keeping a customer's computed classes (status, lifecycle stage, tier) right on this
laptop: classify the whole book and store what changed in local columns, never
captured nor synced (docs/analytics.md, "Where classes live"). Kept apart from the
rest of the analytics so that a customer list that must recompute them loads only
the classification rules."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from crm_tui.db import analytics as sql
from crm_tui.db import records as records_sql
from crm_tui.db.connection import transaction
from crm_tui.domain.analytics.classification import Classification, book_tiers, classify, shown_tier
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


def settings_digest(settings: AnalyticsSettings) -> str:
    """Which settings the stored classes were computed with (a change of the
    thresholds or tier shares classifies the whole book again)."""
    return hashlib.sha256(repr(settings).encode()).hexdigest()[:16]


def store_classes(crm: Crm, classes: Iterable[Classification], as_of: dt.date, settings: AnalyticsSettings,
                  *, dry_run: bool = False) -> int:
    """Write the classes that differ from the stored ones, for every customer of the
    book (`classes`), with the values the tiers ranked, and remember for which day,
    data and settings they were computed. Returns how many customers' classes changed."""
    classes = list(classes)
    with crm.lock:
        stored = sql.stored_classes(crm.conn)
        changed = [(c.status, c.lifecycle_stage, c.tier, c.customer_id) for c in classes
                   if stored.get(c.customer_id) != (c.status, c.lifecycle_stage, c.tier)]
        if not dry_run:
            held = sql.class_values(crm.conn)
            values = [(c.customer_id, c.value) for c in classes if held.pop(c.customer_id, None) != c.value]
            with transaction(crm.conn):
                if changed:
                    sql.write_classes(crm.conn, changed)
                sql.write_class_values(crm.conn, values, gone=held)  # what is left in held: gone
                records_sql.set_class_state(crm.conn, as_of.isoformat(), records_sql.log_position(crm.conn),
                                            settings_digest(settings))
    return len(changed)


# A few writes since the classes were computed are brought in customer by customer;
# more than this many changes classify the whole book again (which costs about as
# much as a few thousand customers one by one).
INCREMENTAL_MAX_CHANGES = 2000


def ensure_classes(crm: Crm, settings: AnalyticsSettings, today: dt.date) -> int:
    """Bring the stored classes up to date for today, the data and the settings, unless
    they are; a write in progress leaves them to the next read. After a few writes
    only the customers they touched are classified again, and every tier is ranked
    anew from the values held for the others (a value moved moves other tiers).
    Returns how many customers' classes changed."""
    with crm.lock:
        conn = crm.conn
        if conn.in_transaction:
            return 0
        as_of, log_seq, digest = records_sql.class_state(conn)
        position, day, wanted = records_sql.log_position(conn), today.isoformat(), settings_digest(settings)
        if (as_of, log_seq, digest) == (day, position, wanted):
            return 0
        touched = None
        if as_of == day and digest == wanted and log_seq is not None and log_seq <= position:
            touched = sql.customers_touched_since(conn, log_seq, INCREMENTAL_MAX_CHANGES)
        if touched is not None:
            changed = _reclassify_touched(crm, settings, today, touched, position, wanted)
            if changed is not None:
                return changed
        classes = classify_facts(crm, settings, book_facts(crm, settings, today))
        return store_classes(crm, classes, today, settings)


def _reclassify_touched(crm: Crm, settings: AnalyticsSettings, today: dt.date, touched: set[str],
                        position: int, digest: str) -> int | None:
    """Classify again the `touched` customers, and re-rank every tier from the values
    held for the others. None when the values held do not cover the book (then the
    whole book is classified)."""
    conn = crm.conn
    stored = sql.stored_classes(conn)
    values = sql.class_values(conn)
    if any(cid not in values and cid not in touched for cid in stored):
        return None  # a customer the classes were never computed for
    facts = sql.customer_facts(conn, today, window_days=settings.rfm_window_days,
                               trend_days=settings.trend_days, customer_ids=sorted(touched))
    for f in facts:
        values[f.id] = f.total
    gone = [cid for cid in values if cid not in stored]
    for cid in gone:
        del values[cid]
    tiers = book_tiers(values, settings)
    overrides = sql.overrides(conn)
    new = {c.customer_id: (c.status, c.lifecycle_stage, c.tier)
           for c in classify(facts, settings, overrides, tiers=tiers)}
    changed = []
    for cid, held in stored.items():
        fresh = new.get(cid)
        classes = fresh if fresh is not None else (  # not touched: only the tier can have moved
            held[0], held[1], shown_tier(tiers[cid], overrides.get(cid)))
        if classes != held:
            changed.append((*classes, cid))
    with transaction(conn):
        if changed:
            sql.write_classes(conn, changed)
        sql.write_class_values(conn, [(f.id, f.total) for f in facts], gone=gone)
        records_sql.set_class_state(conn, today.isoformat(), position, digest)
    return len(changed)
