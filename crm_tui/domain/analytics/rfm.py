"""RFM: recency, frequency and monetary scored 1-5 by quintiles, a weighted combined
score, and named segments assigned by the first matching rule of SEGMENT_RULES.

Quintile score of a value x among N scored customers (higher is better):
    score = 1 + floor(5 * (number of customers whose value is worse than x) / N)
so equal values always share a score, a better value never scores lower, and the
scores spread over 1..5 in fifths of the population. Recency counts as better when
fewer days have passed. Pure: no IO."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from crm_tui.domain.analytics.facts import CustomerFacts

SEGMENTS = ("Champions", "Loyal", "Can't Lose Them", "At Risk", "New", "Promising",
            "Potential Loyalist", "Need Attention", "About to Sleep", "Hibernating", "Lost")

# (segment, rule text, predicate over (r, f, m)); first match wins. Every (r, f, m)
# in 1..5 matches some rule: R 4-5 ends at Potential Loyalist, R 3 at About to
# Sleep, R 2 at Hibernating, R 1 at Lost.
SEGMENT_RULES: tuple[tuple[str, str, Callable[[int, int, int], bool]], ...] = (
    ("Champions", "R >= 4 and F >= 4 and M >= 4", lambda r, f, m: r >= 4 and f >= 4 and m >= 4),
    ("Loyal", "R >= 3 and F >= 4", lambda r, f, m: r >= 3 and f >= 4),
    ("Can't Lose Them", "R <= 2 and F >= 4 and M >= 4", lambda r, f, m: r <= 2 and f >= 4 and m >= 4),
    ("At Risk", "R <= 2 and F + M >= 6", lambda r, f, m: r <= 2 and f + m >= 6),
    ("New", "R = 5 and F = 1", lambda r, f, m: r == 5 and f == 1),
    ("Promising", "R = 4 and F = 1", lambda r, f, m: r == 4 and f == 1),
    ("Potential Loyalist", "R >= 4 and F >= 2", lambda r, f, m: r >= 4 and f >= 2),
    ("Need Attention", "R = 3 and F + M >= 6", lambda r, f, m: r == 3 and f + m >= 6),
    ("About to Sleep", "R = 3", lambda r, f, m: r == 3),
    ("Hibernating", "R = 2", lambda r, f, m: r == 2),
    ("Lost", "R = 1", lambda r, f, m: r == 1),
)


def segment_of(r: int, f: int, m: int) -> tuple[str, str]:
    """The segment and the rule that put the customer there."""
    for name, text, rule in SEGMENT_RULES:
        if rule(r, f, m):
            return name, text
    raise ValueError(f"scores out of range: R={r} F={f} M={m}")


# Every (r, f, m) -> (segment, rule), worked out once.
SEGMENT_TABLE = {(r, f, m): segment_of(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)}


class Quintiles:
    """Scores values 1..5 against a population (see the module docstring)."""

    def __init__(self, values: Iterable[float], *, lower_is_better: bool = False):
        self.sorted = sorted(values)
        self.n = len(self.sorted)
        self.lower_is_better = lower_is_better

    def worse_than(self, x: float) -> int:
        """How many values of the population are worse than x."""
        if self.lower_is_better:
            return self.n - bisect_right(self.sorted, x)
        return bisect_left(self.sorted, x)

    def score(self, x: float) -> int:
        if self.n == 0:
            return 1
        return min(5, 1 + (5 * self.worse_than(x)) // self.n)

    def scores(self) -> dict[float, int]:
        """The score of every distinct value of the population, in one walk of the
        sorted values (the same answers as `score`, without a search per value)."""
        out: dict[float, int] = {}
        n = self.n
        if self.lower_is_better:
            # worse = values strictly greater = n - (index of the last equal value + 1)
            for i in range(n - 1, -1, -1):
                x = self.sorted[i]
                if x not in out:
                    out[x] = min(5, 1 + (5 * (n - 1 - i)) // n)
        else:
            for i, x in enumerate(self.sorted):  # worse = values strictly smaller = first index
                if x not in out:
                    out[x] = min(5, 1 + (5 * i) // n)
        return out


def combined_score(r: int, f: int, m: int, weights: Sequence[float]) -> float:
    """The weighted mean of the three scores: stays in 1..5 whatever the weights."""
    wr, wf, wm = weights
    return (wr * r + wf * f + wm * m) / (wr + wf + wm)


@dataclass(slots=True)
class RfmScore:
    customer_id: str
    name: str
    recency_days: int
    frequency: int
    monetary: float
    r: int
    f: int
    m: int
    score: float
    segment: str
    rule: str

    def as_dict(self) -> dict:
        return {"id": self.customer_id, "name": self.name, "recency_days": self.recency_days,
                "frequency": self.frequency, "monetary": round(self.monetary, 2),
                "r": self.r, "f": self.f, "m": self.m, "rfm": f"{self.r}{self.f}{self.m}",
                "score": round(self.score, 3), "segment": self.segment}


@dataclass
class RfmModel:
    """The scored population: keeps the quintiles so a score can be explained."""

    recency: Quintiles
    frequency: Quintiles
    monetary: Quintiles
    weights: tuple[float, float, float]
    scores: list[RfmScore]


def rfm_scores(facts: Iterable[CustomerFacts], weights: Sequence[float] = (1.0, 1.0, 1.0)) -> RfmModel:
    """Score every customer who has ever ordered. Recency is days since the last
    order; frequency and monetary count the orders of the RFM window (facts carry
    them), so a customer silent for the whole window scores F = M = 1."""
    buyers = [f for f in facts if f.n_orders > 0 and f.days_since_last is not None]
    rq = Quintiles((f.days_since_last for f in buyers), lower_is_better=True)  # type: ignore[misc]
    fq = Quintiles(f.window_orders for f in buyers)
    mq = Quintiles(f.window_amount for f in buyers)
    w = (float(weights[0]), float(weights[1]), float(weights[2]))
    r_of, f_of, m_of = rq.scores(), fq.scores(), mq.scores()
    wr, wf, wm = w
    total_weight = wr + wf + wm
    scores = []
    for f in buyers:
        r, fr, m = r_of[f.days_since_last], f_of[f.window_orders], m_of[f.window_amount]  # type: ignore[index]
        segment, rule = SEGMENT_TABLE[r, fr, m]
        # combined_score, inlined: this loop runs once per customer
        scores.append(RfmScore(f.id, f.name, f.days_since_last, f.window_orders, f.window_amount,  # type: ignore[arg-type]
                               r, fr, m, (wr * r + wf * fr + wm * m) / total_weight, segment, rule))
    return RfmModel(rq, fq, mq, w, scores)


def explain(model: RfmModel, score: RfmScore, window_days: int) -> dict:
    """Why a customer got its scores and segment, in numbers a rep can check."""

    def part(label: str, q: Quintiles, value: float, got: int, unit: str) -> dict:
        worse = q.worse_than(value)
        return {
            "measure": label, "value": value, "unit": unit, "score": got,
            "worse_customers": worse, "population": q.n,
            "formula": f"1 + floor(5 x {worse} / {q.n}) = {got}",
        }

    wr, wf, wm = model.weights
    return {
        **score.as_dict(),
        "window_days": window_days,
        "parts": [
            part("recency", model.recency, score.recency_days, score.r, "days since the last order"),
            part("frequency", model.frequency, score.frequency, score.f, f"orders in {window_days} days"),
            part("monetary", model.monetary, score.monetary, score.m, f"sales in {window_days} days"),
        ],
        "weights": {"recency": wr, "frequency": wf, "monetary": wm},
        "combined_formula": (f"({wr:g} x {score.r} + {wf:g} x {score.f} + {wm:g} x {score.m}) / "
                             f"{wr + wf + wm:g} = {score.score:.3f}"),
        "segment_rule": score.rule,
        "segment_order": [name for name, _, _ in SEGMENT_RULES],
    }


def segment_sizes(scores: Iterable[RfmScore]) -> dict[str, int]:
    """Customers per segment, in the documented segment order (empty ones included)."""
    sizes = dict.fromkeys(SEGMENTS, 0)
    for s in scores:
        sizes[s.segment] += 1
    return sizes
