"""Customer classification: status (potential / new / loyal / churned), lifecycle
stage (exploration / formation / stability / decline), A/B/C value tier and core
customers by the 80/20 rule, and manual overrides that survive recomputation.
Every rule returns its reason so a rep can see why. Pure: no IO."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter

from crm_tui.domain.analytics.facts import CustomerFacts
from crm_tui.domain.analytics.settings import AnalyticsSettings


@dataclass(frozen=True)
class Override:
    """A rep's manual classification of one customer; None fields are not overridden."""

    customer_id: str
    reason: str
    status: str | None = None
    lifecycle_stage: str | None = None
    tier: str | None = None


@dataclass(slots=True)
class Classification:
    customer_id: str
    name: str
    status: str
    lifecycle_stage: str
    tier: str
    core: bool
    value: float
    computed_status: str  # the rule's answers, before any override
    computed_stage: str
    computed_tier: str
    override: Override | None
    facts: CustomerFacts
    settings: AnalyticsSettings

    @property
    def computed(self) -> dict[str, str]:
        return {"status": self.computed_status, "lifecycle_stage": self.computed_stage, "tier": self.computed_tier}

    @property
    def override_reason(self) -> str | None:
        return self.override.reason if self.override else None

    @property
    def reasons(self) -> dict[str, str]:
        """Why each value: the rule's words, built only when asked (100k customers
        need no sentences)."""
        f, s = self.facts, self.settings
        out = {"status": customer_status(f, s, explain=True)[1],
               "lifecycle_stage": lifecycle_stage(f, self.computed_status, s, explain=True)[1],
               "tier": f"historical value {f.total:.2f}, tier {self.computed_tier} by cumulative share "
                       f"(A below {s.tier_a_share:g}, B below {s.tier_b_share:g})"}
        if self.override:
            for key in ("status", "lifecycle_stage", "tier"):
                if getattr(self.override, key):
                    out[key] = f"manual override: {self.override.reason}"
        return out

    def as_dict(self) -> dict:
        return {"id": self.customer_id, "name": self.name, "status": self.status,
                "lifecycle_stage": self.lifecycle_stage, "tier": self.tier, "core": self.core,
                "value": round(self.value, 2), "computed": self.computed, "reasons": self.reasons,
                "override_reason": self.override_reason}


def customer_status(f: CustomerFacts, s: AnalyticsSettings, *, explain: bool = False) -> tuple[str, str]:
    """Rules in order, first match wins (docs/analytics.md, "Status"). The reason is
    written only with `explain`."""
    if f.n_orders == 0 or f.days_since_last is None or f.days_since_first is None:
        return "potential", "no order yet"
    if f.days_since_last > s.churn_days:
        return "churned", f"no order for {f.days_since_last} days (> {s.churn_days})" if explain else ""
    interval = f.mean_interval
    if interval is not None:
        limit = max(s.churn_min_days, s.churn_interval_factor * interval)
        if f.days_since_last > limit:
            return "churned", (f"silent {f.days_since_last} days, over max({s.churn_min_days}, "
                               f"{s.churn_interval_factor:g} x the usual {interval:.1f}-day interval)"
                               if explain else "")
    if f.days_since_first <= s.new_days:
        return "new", f"first order {f.days_since_first} days ago (<= {s.new_days})" if explain else ""
    if f.n_orders >= s.loyal_min_orders:
        return "loyal", (f"{f.n_orders} orders (>= {s.loyal_min_orders}), first {f.days_since_first} days ago"
                         if explain else "")
    return "new", f"only {f.n_orders} order(s) so far (< {s.loyal_min_orders} for loyal)" if explain else ""


def lifecycle_stage(f: CustomerFacts, status: str, s: AnalyticsSettings, *,
                    explain: bool = False) -> tuple[str, str]:
    """Stage from the trend of sales and contacts over the last two trend windows."""
    if f.n_orders == 0:
        return "exploration", "no order yet"
    if status == "churned":
        return "decline", "churned"
    if f.n_orders < s.formation_min_orders:
        return "exploration", f"{f.n_orders} order(s) (< {s.formation_min_orders})" if explain else ""
    recent, prev = f.recent_amount, f.prev_amount
    if prev > 0 and recent < s.decline_ratio * prev:
        return "decline", (f"sales of the last {s.trend_days} days {recent:.2f} < {s.decline_ratio:g} x "
                           f"{prev:.2f} before" if explain else "")
    if recent == 0 and f.recent_contacts < f.prev_contacts:
        return "decline", (f"no order and fewer contacts ({f.recent_contacts} < {f.prev_contacts}) lately"
                           if explain else "")
    if recent == 0 and prev == 0:
        return "decline", f"no order in the last {2 * s.trend_days} days" if explain else ""
    if recent >= s.growth_ratio * prev:
        return "formation", (f"sales growing: {recent:.2f} >= {s.growth_ratio:g} x {prev:.2f}"
                             if explain else "")
    return "stability", f"sales steady: {recent:.2f} against {prev:.2f} before" if explain else ""


def pareto_tiers(values: Mapping[str, float], a_share: float = 0.8, b_share: float = 0.95) -> dict[str, str]:
    """A/B/C by cumulative share of value, largest first. A customer is A while the
    value of the customers before them is below `a_share` of the total, B below
    `b_share`, else C; customers with equal values share a tier, and no value is C."""
    total = sum(v for v in values.values() if v > 0)
    tiers: dict[str, str] = {}
    cumulative = 0.0  # value of every customer ranked above the current tie group
    group_start = 0.0
    previous: float | None = None
    tier = "C"
    for cid, value in sorted(values.items(), key=itemgetter(1), reverse=True):
        if value != previous:  # a new tie group: its tier from the value above it
            group_start, previous = cumulative, value
            if value <= 0:
                tier = "C"
            elif group_start == 0 or group_start < a_share * total:  # the largest is always A
                tier = "A"
            elif group_start < b_share * total:
                tier = "B"
            else:
                tier = "C"
        tiers[cid] = tier
        cumulative += value
    return tiers


def book_tiers(values: Mapping[str, float], settings: AnalyticsSettings) -> dict[str, str]:
    """The computed A/B/C tier of each customer of the book, from everyone's value."""
    return pareto_tiers(values, settings.tier_a_share, settings.tier_b_share)


def shown_tier(tier: str, override: Override | None) -> str:
    """The tier a customer has: the override's when it sets one, else the computed."""
    return (override.tier or tier) if override is not None else tier


def classify(facts: Iterable[CustomerFacts], settings: AnalyticsSettings,
             overrides: Mapping[str, Override] | None = None, *,
             tiers: Mapping[str, str] | None = None) -> list[Classification]:
    """Classify every customer; an override replaces the fields it sets. The tiers
    rank the customers of `facts`, unless `tiers` gives the whole book's (book_tiers)
    when `facts` holds only some of it."""
    overrides = overrides or {}
    facts = list(facts)
    if tiers is None:
        tiers = book_tiers({f.id: f.total for f in facts}, settings)
    out: list[Classification] = []
    append, get_override, status_of, stage_of = out.append, overrides.get, customer_status, lifecycle_stage
    for f in facts:  # runs once per customer: names bound locally above
        status = status_of(f, settings)[0]
        stage = stage_of(f, status, settings)[0]
        tier = tiers[f.id]
        ov = get_override(f.id)
        if ov is None:
            append(Classification(f.id, f.name, status, stage, tier, tier == "A", f.total,
                                  status, stage, tier, None, f, settings))
        else:
            e_tier = shown_tier(tier, ov)
            append(Classification(f.id, f.name, ov.status or status, ov.lifecycle_stage or stage, e_tier,
                                  e_tier == "A", f.total, status, stage, tier, ov, f, settings))
    return out
