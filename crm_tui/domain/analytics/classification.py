"""Customer classification: status (potential / new / loyal / churned), lifecycle
stage (exploration / formation / stability / decline), A/B/C value tier and core
customers by the 80/20 rule, and manual overrides that survive recomputation.
Every rule returns its reason so a rep can see why. Pure: no IO."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import groupby

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


@dataclass
class Classification:
    customer_id: str
    name: str
    status: str
    lifecycle_stage: str
    tier: str
    core: bool
    value: float
    computed: dict[str, str]  # the rule's answer, before any override
    reasons: dict[str, str] = field(default_factory=dict)
    override_reason: str | None = None

    def as_dict(self) -> dict:
        return {"id": self.customer_id, "name": self.name, "status": self.status,
                "lifecycle_stage": self.lifecycle_stage, "tier": self.tier, "core": self.core,
                "value": round(self.value, 2), "computed": self.computed, "reasons": self.reasons,
                "override_reason": self.override_reason}


def customer_status(f: CustomerFacts, s: AnalyticsSettings) -> tuple[str, str]:
    """Rules in order, first match wins (docs/analytics.md, "Status")."""
    if f.n_orders == 0 or f.days_since_last is None or f.days_since_first is None:
        return "potential", "no order yet"
    if f.days_since_last > s.churn_days:
        return "churned", f"no order for {f.days_since_last} days (> {s.churn_days})"
    interval = f.mean_interval
    if interval is not None:
        limit = max(s.churn_min_days, s.churn_interval_factor * interval)
        if f.days_since_last > limit:
            return "churned", (f"silent {f.days_since_last} days, over {s.churn_interval_factor:g} x "
                               f"the usual {interval:.0f}-day interval")
    if f.days_since_first <= s.new_days:
        return "new", f"first order {f.days_since_first} days ago (<= {s.new_days})"
    if f.n_orders >= s.loyal_min_orders:
        return "loyal", f"{f.n_orders} orders (>= {s.loyal_min_orders}), last {f.days_since_last} days ago"
    return "new", f"only {f.n_orders} order(s) so far (< {s.loyal_min_orders} for loyal)"


def lifecycle_stage(f: CustomerFacts, status: str, s: AnalyticsSettings) -> tuple[str, str]:
    """Stage from the trend of sales and contacts over the last two trend windows."""
    if f.n_orders == 0:
        return "exploration", "no order yet"
    if status == "churned":
        return "decline", "churned"
    if f.n_orders < s.formation_min_orders:
        return "exploration", f"{f.n_orders} order(s) (< {s.formation_min_orders})"
    recent, prev = f.recent_amount, f.prev_amount
    if prev > 0 and recent < s.decline_ratio * prev:
        return "decline", f"sales of the last {s.trend_days} days {recent:.2f} < {s.decline_ratio:g} x {prev:.2f}"
    if recent == 0 and f.recent_contacts < f.prev_contacts:
        return "decline", f"no order and fewer contacts ({f.recent_contacts} < {f.prev_contacts}) lately"
    if recent == 0 and prev == 0:
        return "decline", f"no order in the last {2 * s.trend_days} days"
    if recent >= s.growth_ratio * prev:
        return "formation", f"sales growing: {recent:.2f} >= {s.growth_ratio:g} x {prev:.2f}"
    return "stability", f"sales steady: {recent:.2f} against {prev:.2f}"


def pareto_tiers(values: Mapping[str, float], a_share: float = 0.8, b_share: float = 0.95) -> dict[str, str]:
    """A/B/C by cumulative share of value, largest first. A customer is A while the
    value of the customers before them is below `a_share` of the total, B below
    `b_share`, else C; customers with equal values share a tier, and no value is C."""
    total = sum(v for v in values.values() if v > 0)
    tiers: dict[str, str] = {}
    cumulative = 0.0
    ranked = sorted(values.items(), key=lambda kv: -kv[1])
    for value, group in groupby(ranked, key=lambda kv: kv[1]):
        members = [cid for cid, _ in group]
        if value <= 0:
            tier = "C"
        elif cumulative < a_share * total:
            tier = "A"
        elif cumulative < b_share * total:
            tier = "B"
        else:
            tier = "C"
        for cid in members:
            tiers[cid] = tier
        cumulative += value * len(members)
    return tiers


def classify(facts: Iterable[CustomerFacts], settings: AnalyticsSettings,
             overrides: Mapping[str, Override] | None = None) -> list[Classification]:
    overrides = overrides or {}
    facts = list(facts)
    tiers = pareto_tiers({f.id: f.total for f in facts}, settings.tier_a_share, settings.tier_b_share)
    out = []
    for f in facts:
        status, status_reason = customer_status(f, settings)
        stage, stage_reason = lifecycle_stage(f, status, settings)
        tier = tiers[f.id]
        computed = {"status": status, "lifecycle_stage": stage, "tier": tier}
        reasons = {"status": status_reason, "lifecycle_stage": stage_reason,
                   "tier": f"historical value {f.total:.2f}"}
        effective = dict(computed)
        ov = overrides.get(f.id)
        if ov is not None:
            for key in ("status", "lifecycle_stage", "tier"):
                value = getattr(ov, key)
                if value:
                    effective[key] = value
                    reasons[key] = f"manual override: {ov.reason}"
        out.append(Classification(
            f.id, f.name, effective["status"], effective["lifecycle_stage"], effective["tier"],
            effective["tier"] == "A", f.total, computed, reasons, ov.reason if ov else None))
    return out
