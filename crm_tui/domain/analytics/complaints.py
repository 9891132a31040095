"""Complaint analytics: Pareto of types and causes (the vital few that make most of
the complaints), mean first-response and resolution times, and the SLA breach rate
by priority. Pure: no IO.

A complaint's SLA deadline is its `due_at` (set by the complaints workflow from its
priority); a record without one falls back to the resolution time of the workflow's
SLA policy (crm_tui.domain.complaints.SlaPolicy, config `[sla.resolution]`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from crm_tui.domain.analytics.settings import AnalyticsSettings
from crm_tui.domain.complaints import SlaPolicy
from crm_tui.domain.entities import COMPLAINT_PRIORITIES

UNKNOWN = "(unknown)"


def pareto(counts: Mapping[str, int], share: float = 0.8) -> list[dict[str, Any]]:
    """Rows by count, largest first (ties by name), with each row's share and the
    cumulative share; `vital` marks the rows reached before the cumulative share of
    the rows above passes `share`, the few that make most of the total."""
    total = sum(counts.values())
    rows, cumulative = [], 0
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        vital = total > 0 and cumulative < share * total
        cumulative += count
        rows.append({"key": key, "count": count, "share": count / total if total else 0.0,
                     "cumulative": cumulative / total if total else 0.0, "vital": vital})
    return rows


def parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


def hours_between(a: str | None, b: str | None) -> float | None:
    start, end = parse_time(a), parse_time(b)
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 3600


def due_time(c: Mapping[str, Any], policy: SlaPolicy) -> dt.datetime | None:
    due = parse_time(c.get("due_at"))
    if due is not None:
        return due
    received = parse_time(c.get("received_at"))
    limit = policy.resolution.get(c.get("priority") or "")
    if received is None or limit is None:
        return None
    return received + limit


def resolution_time(c: Mapping[str, Any]) -> dt.datetime | None:
    return parse_time(c.get("resolved_at")) or parse_time(c.get("closed_at"))


def sla_outcome(c: Mapping[str, Any], policy: SlaPolicy, now: dt.datetime) -> str | None:
    """'kept', 'breached', or None while the complaint is open and not yet due."""
    due = due_time(c, policy)
    if due is None:
        return None
    done = resolution_time(c)
    if done is not None:
        return "kept" if done <= due else "breached"
    return "breached" if now > due else None


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def complaint_analytics(complaints: Iterable[Mapping[str, Any]], settings: AnalyticsSettings,
                        now: dt.datetime, policy: SlaPolicy | None = None) -> dict[str, Any]:
    policy = policy or SlaPolicy()
    items = list(complaints)
    by = {key: Counter((c.get(key) or UNKNOWN) for c in items)
          for key in ("type", "cause", "region", "product", "category")}
    sla: dict[str, dict[str, Any]] = {}
    priorities = list(COMPLAINT_PRIORITIES) + sorted(
        {c.get("priority") or UNKNOWN for c in items} - set(COMPLAINT_PRIORITIES))
    for p in priorities:
        outcomes = [sla_outcome(c, policy, now) for c in items if (c.get("priority") or UNKNOWN) == p]
        decided = [o for o in outcomes if o is not None]
        breached = decided.count("breached")
        sla[p] = {"complaints": len(outcomes), "decided": len(decided), "breached": breached,
                  "breach_rate": breached / len(decided) if decided else None}
    return {
        "complaints": len(items),
        "open": sum(1 for c in items if c.get("status") not in ("resolved", "closed")),
        "by_type": pareto(by["type"], settings.pareto_share),
        "by_cause": pareto(by["cause"], settings.pareto_share),
        "by_region": pareto(by["region"], settings.pareto_share),
        "by_product": pareto(by["product"], settings.pareto_share),
        "by_category": pareto(by["category"], settings.pareto_share),  # of the product catalogue
        "mean_first_response_hours": _mean(hours_between(c.get("received_at"), c.get("first_response_at"))
                                           for c in items),
        "mean_resolution_hours": _mean(hours_between(c.get("received_at"), c.get("resolved_at") or c.get("closed_at"))
                                       for c in items),
        "sla": sla,
    }
