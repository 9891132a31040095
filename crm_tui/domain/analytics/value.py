"""Customer value: the historical value (all sales up to today) and a simple lifetime
value estimate (CLV). Pure: no IO.

    annual_value = historical / max(tenure_years, 1)     tenure from the first order
    future       = annual_value x margin x sum_{t=1..L} 1 / (1 + d)^t
    CLV          = historical x margin + future           (future = 0 once churned)

with L = clv_years, d = clv_discount_rate. A customer who has not bought has CLV 0."""

from __future__ import annotations

from dataclasses import dataclass

from crm_tui.domain.analytics.facts import CustomerFacts
from crm_tui.domain.analytics.settings import AnalyticsSettings


@dataclass(frozen=True)
class CustomerValue:
    customer_id: str
    historical: float
    annual: float
    future: float
    clv: float


def annuity(years: int, rate: float) -> float:
    """Present value of 1 a year for `years` years at `rate`."""
    return sum(1 / (1 + rate) ** t for t in range(1, years + 1))


def customer_value(f: CustomerFacts, s: AnalyticsSettings, *, churned: bool = False) -> CustomerValue:
    if f.n_orders == 0 or f.days_since_first is None:
        return CustomerValue(f.id, 0.0, 0.0, 0.0, 0.0)
    tenure_years = max(f.days_since_first / 365.0, 1.0)
    annual = f.total / tenure_years
    future = 0.0 if churned else annual * s.clv_margin * annuity(s.clv_years, s.clv_discount_rate)
    return CustomerValue(f.id, f.total, annual, future, f.total * s.clv_margin + future)
