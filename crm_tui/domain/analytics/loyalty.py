"""Behavioural loyalty: the repeat-purchase rate (buyers with two or more orders over
all buyers) and the mean interval between purchases (per customer
(last - first) / (n - 1), overall the mean over repeat buyers). Pure: no IO."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crm_tui.domain.analytics.facts import CustomerFacts


@dataclass(frozen=True)
class Loyalty:
    buyers: int
    repeat_buyers: int
    repeat_purchase_rate: float | None
    mean_interval_days: float | None


def loyalty(facts: Iterable[CustomerFacts]) -> Loyalty:
    buyers = repeat = 0
    intervals: list[float] = []
    for f in facts:
        if f.n_orders >= 1:
            buyers += 1
        if f.n_orders >= 2:
            repeat += 1
            interval = f.mean_interval
            if interval is not None:
                intervals.append(interval)
    return Loyalty(buyers, repeat, repeat / buyers if buyers else None,
                   sum(intervals) / len(intervals) if intervals else None)
