"""KPIs per rep and overall, from counts loaded for a period (crm_tui.db.analytics).
The formulas are here so they read in one place; docs/analytics.md repeats them.
Pure: no IO."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


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


def overall_kpis(n: Mapping[str, Any]) -> OverallKpi:
    """From the period counts: customers_end, customers_start, active, active_prev,
    retained, orders, sales, sales_prev, satisfaction, surveys, complaints."""
    retention = rate(n["retained"], n["active_prev"])
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
