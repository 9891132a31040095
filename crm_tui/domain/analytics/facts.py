"""What the analytics rules know about one customer: aggregates of their orders and
contacts as of a given day, loaded in one SQL pass (crm_tui.db.analytics)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class CustomerFacts:
    id: str
    name: str = ""
    owner: str = ""
    region: str | None = None
    tier: str | None = None  # the stored (effective) tier, used by reminders
    status: str | None = None  # the stored (effective) status
    birthday: str | None = None
    created: str | None = None  # YYYY-MM-DD the record was made
    n_orders: int = 0
    total: float = 0.0  # all orders up to today: the historical value
    days_since_first: int | None = None
    days_since_last: int | None = None
    window_orders: int = 0  # RFM window
    window_amount: float = 0.0
    recent_amount: float = 0.0  # last trend window
    prev_amount: float = 0.0  # the trend window before it
    recent_contacts: int = 0
    prev_contacts: int = 0
    days_since_contact: int | None = None
    days_since_win_back: int | None = None  # last contact with purpose win_back

    @property
    def mean_interval(self) -> float | None:
        """Mean days between consecutive orders: (last - first) / (n - 1)."""
        if self.n_orders < 2 or self.days_since_first is None or self.days_since_last is None:
            return None
        return (self.days_since_first - self.days_since_last) / (self.n_orders - 1)
