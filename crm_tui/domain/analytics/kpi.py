"""KPIs per rep and overall, from counts loaded for a period (crm_tui.db.analytics).
The formulas are here so they read in one place; docs/analytics.md repeats them.
Pure: no IO."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from crm_tui.domain.analytics.period import Period


def rate(part: float, whole: float) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return part / whole if whole else None


@dataclass(frozen=True)
class RepKpi:
    rep: str
    visits: int = 0  # contacts logged in the period
    follow_ups_due: int = 0  # next actions dated in the period, up to today
    follow_ups_done: int = 0  # ... of which marked done
    orders: int = 0
    sales: float = 0.0
    complaints_handled: int = 0  # resolved or closed in the period
    sla_decided: int = 0  # handled complaints with a deadline
    sla_kept: int = 0  # ... resolved by the deadline

    @property
    def follow_up_rate(self) -> float | None:
        return rate(self.follow_ups_done, self.follow_ups_due)

    @property
    def sla_kept_rate(self) -> float | None:
        return rate(self.sla_kept, self.sla_decided)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sales": round(self.sales, 2), "follow_up_rate": self.follow_up_rate,
                "sla_kept_rate": self.sla_kept_rate}


@dataclass(frozen=True)
class OverallKpi:
    customers: int  # on record at the end of the period
    customers_at_start: int
    new_customers: int
    growth_rate: float | None  # (end - start) / start
    active_customers: int  # ordered in the period
    active_previous: int  # ordered in the previous period
    retained: int  # ordered in both
    retention_rate: float | None  # retained / active_previous
    churn_rate: float | None  # 1 - retention_rate
    orders: int
    sales: float
    sales_previous: float
    sales_growth: float | None  # (sales - previous) / previous
    satisfaction: float | None  # mean C = b / a of the period's surveys
    surveys: int
    complaints: int  # received in the period
    complaint_rate: float | None  # complaints / active customers

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sales"], d["sales_previous"] = round(self.sales, 2), round(self.sales_previous, 2)
        return d


def overall_kpis(n: Mapping[str, Any], *, over: bool = True) -> OverallKpi:
    """From the period counts: customers_end, customers_start, active, active_prev,
    retained, orders, sales, sales_prev, satisfaction, surveys, complaints.

    A period that is not `over` (this month, on its second day) has no retention nor
    churn yet: a customer of the previous period who has not ordered again so far may
    still order before it ends, and 1 - retained / active_prev would read as a churn
    of nearly 100% in its first days. Both are None until it ends (`measured_period`)."""
    retention = rate(n["retained"], n["active_prev"]) if over else None
    return OverallKpi(
        customers=n["customers_end"], customers_at_start=n["customers_start"],
        new_customers=n["customers_end"] - n["customers_start"],
        growth_rate=rate(n["customers_end"] - n["customers_start"], n["customers_start"]),
        active_customers=n["active"], active_previous=n["active_prev"], retained=n["retained"],
        retention_rate=retention, churn_rate=None if retention is None else 1 - retention,
        orders=n["orders"], sales=n["sales"], sales_previous=n["sales_prev"],
        sales_growth=rate(n["sales"] - n["sales_prev"], n["sales_prev"]),
        satisfaction=n["satisfaction"], surveys=n["surveys"], complaints=n["complaints"],
        complaint_rate=rate(n["complaints"], n["active"]),
    )


@dataclass(frozen=True)
class MeasuredPeriod:
    """What the KPIs of `period` measure on a given day: the whole period once it is
    over (from its last day on); for the period running that day (the current month on its second day), the
    days up to that day, compared with as many days at the start of the previous
    period (sales of 1-2 December against those of 1-2 November, not of the whole
    month), and no retention nor churn until it ends."""

    period: Period
    previous: Period  # the previous period, whole: whose buyers retention counts
    measured: Period  # the days measured: the period, or its days up to today
    compared: Period  # the days of the previous period its sales are compared with
    over: bool  # today is its last day or later


def measured_period(period: Period, today: dt.date) -> MeasuredPeriod:
    """The one rule of an unfinished period, for `crm kpi`, the report and every KPI
    read: a period runs until its last day, which counts it whole (the month-end
    report a manager runs on the 31st); one that has not begun is not over either."""
    previous = period.previous()
    if today >= period.end:
        return MeasuredPeriod(period, previous, period, previous, over=True)
    if today < period.start:
        return MeasuredPeriod(period, previous, period, previous, over=False)
    days = (today - period.start).days  # days of the period before today
    upto = min(previous.start + dt.timedelta(days=days), previous.end)
    return MeasuredPeriod(period, previous, Period(period.start, today, period.label),
                          Period(previous.start, upto, f"{previous.start}..{upto}"), over=False)
