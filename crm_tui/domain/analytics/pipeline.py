"""The sales pipeline's figures: weighted pipeline by stage, the forecast of a period,
the funnel with its conversions and days in stage, and target attainment. Pure: the
database hands in totals (crm_tui.db.pipeline) or deals, docs/pipeline.md explains
each figure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm_tui.domain.analytics.kpi import rate
from crm_tui.domain.opportunities import LOST, WON, PipelineSettings, StageMove, stays


@dataclass(frozen=True)
class StageTotal:
    """Open deals of one stage (and one month of expected close, for the forecast).
    The weight of a deal with its own probability is summed in `weighted_own`; deals
    on their stage's default are summed in `amount_default` and weighed here, so the
    default can change in the config without rewriting any record."""

    stage: str
    count: int
    amount: float
    weighted_own: float = 0.0  # sum of amount * probability / 100 of deals with their own probability
    amount_default: float = 0.0  # sum of amount of deals on their stage's default
    month: str = ""  # 'YYYY-MM' of the expected close, for the forecast

    def weighted(self, settings: PipelineSettings) -> float:
        default = settings.probability({"stage": self.stage})
        return self.weighted_own + self.amount_default * default / 100


def weighted_amount(deal: Mapping[str, Any], settings: PipelineSettings) -> float:
    """One deal's weighted amount: amount x probability (its own, or its stage's)."""
    return float(deal["amount"]) * settings.probability(deal) / 100


def totals_of(deals: Iterable[Mapping[str, Any]], *, by_month: bool = False) -> list[StageTotal]:
    """Stage totals of open deals in memory, as the database computes them in SQL."""
    groups: dict[tuple[str, str], list[float]] = {}
    for d in deals:
        if d["stage"] in (WON, LOST):
            continue
        key = (d["stage"], (d.get("close_date") or "")[:7] if by_month else "")
        g = groups.setdefault(key, [0, 0.0, 0.0, 0.0])
        g[0] += 1
        g[1] += float(d["amount"])
        if d.get("probability") is None:
            g[3] += float(d["amount"])
        else:
            g[2] += float(d["amount"]) * int(d["probability"]) / 100
    return [StageTotal(stage, int(g[0]), g[1], g[2], g[3], month) for (stage, month), g in groups.items()]


def pipeline(totals: Iterable[StageTotal], settings: PipelineSettings) -> dict[str, Any]:
    """Per open stage in pipeline order: count, amount and weighted amount; and the
    totals. Open stages with no deal are listed with zeros; a stage this config does
    not know (an old config, another laptop's) is listed after the known ones."""
    merged: dict[str, list[float]] = {}
    for t in totals:
        if t.stage in (WON, LOST):
            continue
        m = merged.setdefault(t.stage, [0, 0.0, 0.0])
        m[0] += t.count
        m[1] += t.amount
        m[2] += t.weighted(settings)
    known = [s.id for s in settings.open_stages]
    order = known + sorted(k for k in merged if k not in known)
    stages = [{"stage": sid, "count": int(merged.get(sid, [0])[0]),
               "amount": round(merged.get(sid, [0, 0.0])[1], 2),
               "probability": settings.probability({"stage": sid}),
               "weighted": round(merged.get(sid, [0, 0.0, 0.0])[2], 2)} for sid in order]
    return {"currency": settings.currency, "stages": stages,
            "count": sum(s["count"] for s in stages),
            "amount": round(sum(merged[k][1] for k in merged), 2),
            "weighted": round(sum(merged[k][2] for k in merged), 2)}


def forecast(months: Sequence[str], won: Mapping[str, float], open_totals: Iterable[StageTotal],
             settings: PipelineSettings, *, target: float | None = None,
             sales: float | None = None) -> dict[str, Any]:
    """Per month of the period and in total: the amount won so far, the weighted open
    pipeline expected to close then (by its expected close date), and their sum.
    `target` and `sales` (orders plus won deals not yet ordered) give attainment."""
    pipe: dict[str, float] = dict.fromkeys(months, 0.0)
    for t in open_totals:
        if t.month in pipe and t.stage not in (WON, LOST):
            pipe[t.month] += t.weighted(settings)
    rows = [{"month": m, "won": round(won.get(m, 0.0), 2), "weighted_pipeline": round(pipe[m], 2),
             "forecast": round(won.get(m, 0.0) + pipe[m], 2)} for m in months]
    total_won = sum(won.get(m, 0.0) for m in months)
    total_pipe = sum(pipe.values())
    out: dict[str, Any] = {"currency": settings.currency, "months": rows, "won": round(total_won, 2),
                           "weighted_pipeline": round(total_pipe, 2), "forecast": round(total_won + total_pipe, 2)}
    if target is not None or sales is not None:
        out |= {"target": target, "sales": None if sales is None else round(sales, 2),
                "attainment": attainment(sales or 0.0, target),
                "forecast_attainment": attainment((sales or 0.0) + total_pipe, target)}
    return out


def stale_reason(deal: Mapping[str, Any], today: dt.date, quiet_since: str) -> str | None:
    """Why an open deal is stale: "overdue" when its expected close has passed,
    "quiet" when its last activity is before `quiet_since`; None when it is not."""
    if deal.get("close_date") and deal["close_date"] < today.isoformat():
        return "overdue"
    if (deal.get("last_activity") or "") < quiet_since:
        return "quiet"
    return None


def attainment(sales: float, target: float | None) -> float | None:
    """Share of the target reached: sales / target (None without a target)."""
    return rate(sales, target) if target else None


# -- the funnel ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Deal:
    """What the funnel needs of one opportunity."""

    id: str
    stage: str
    amount: float
    created_at: str  # 'YYYY-MM-DDTHH:MM:SS' (local) or the stored UTC stamp
    closed_on: str | None = None
    moves: tuple[StageMove, ...] = field(default_factory=tuple)


def _days(start: str, end: str) -> float:
    delta = dt.datetime.fromisoformat(end[:19]) - dt.datetime.fromisoformat(start[:19])
    return max(delta.days + delta.seconds / 86400, 0.0)


def funnel(deals: Iterable[Deal], settings: PipelineSettings) -> dict[str, Any]:
    """How many deals reached each stage, the conversion from each open stage to the
    next (the last open stage converts to won), the win rate (won / closed), the
    average days spent in each stage (finished stays only), the average won deal
    and the sales cycle (days from creation to winning).

    A deal reached a stage when it was ever in it or in a later open stage, or won:
    a deal won straight from `lead` still passed through every open stage."""
    opens = [s.id for s in settings.open_stages]
    rank = {sid: i for i, sid in enumerate(opens)}
    reached = dict.fromkeys([*opens, WON], 0)
    durations: dict[str, list[float]] = {sid: [] for sid in opens}
    won_amounts: list[float] = []
    cycles: list[float] = []
    lost = 0
    total = 0
    for deal in deals:
        total += 1
        path = stays(deal.moves, deal.created_at, deal.stage)
        # a won deal passed through every open stage; another got as far as its furthest
        top = len(opens) - 1 if deal.stage == WON else max((rank.get(s, -1) for s, _, _ in path), default=-1)
        for i in range(top + 1):
            reached[opens[i]] += 1
        for stage, entered, left in path:
            if left is not None and stage in durations:
                durations[stage].append(_days(entered, left))
        if deal.stage == WON:
            reached[WON] += 1
            won_amounts.append(deal.amount)
            if deal.closed_on:
                # whole days, as the win is dated by day
                cycles.append(_days(deal.created_at[:10], deal.closed_on[:10]))
        elif deal.stage == LOST:
            lost += 1
    stages = []
    chain = [*opens, WON]
    for i, sid in enumerate(chain):
        nxt = chain[i + 1] if i + 1 < len(chain) else None
        stages.append({"stage": sid, "reached": reached[sid],
                       "conversion": rate(reached[nxt], reached[sid]) if nxt else None,
                       "avg_days": _mean(durations.get(sid, []))})
    won = reached[WON]
    return {"deals": total, "stages": stages, "won": won, "lost": lost,
            "win_rate": rate(won, won + lost), "avg_deal_size": _mean(won_amounts),
            "sales_cycle_days": _mean(cycles)}


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
