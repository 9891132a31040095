"""Properties of the scoring rules over generated populations: RFM scores stay in
1..5, a better input never lowers a score, weights are respected, Pareto tiers are
ordered by value, and the complaint Pareto is consistent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_tui.domain.analytics.classification import pareto_tiers
from crm_tui.domain.analytics.complaints import pareto
from crm_tui.domain.analytics.facts import CustomerFacts
from crm_tui.domain.analytics.rfm import SEGMENTS, Quintiles, combined_score, rfm_scores

amounts = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)
buyer = st.builds(
    lambda i, last, n, m: CustomerFacts(f"c{i:05d}", n_orders=max(n, 1), days_since_first=last + 10,
                                        days_since_last=last, window_orders=n, window_amount=m),
    st.integers(0, 99999), st.integers(0, 2000), st.integers(0, 50), amounts)
populations = st.lists(buyer, min_size=1, max_size=60, unique_by=lambda f: f.id)
weights = st.tuples(*[st.floats(min_value=0, max_value=10, allow_nan=False)] * 3).filter(lambda w: sum(w) > 0)


@given(populations, weights)
def test_scores_stay_in_1_to_5_and_segments_are_named(pop: list[CustomerFacts], w: tuple) -> None:
    for s in rfm_scores(pop, w).scores:
        assert {s.r, s.f, s.m} <= {1, 2, 3, 4, 5}
        assert 1 - 1e-9 <= s.score <= 5 + 1e-9
        assert s.segment in SEGMENTS


@given(st.lists(amounts, min_size=1, max_size=80), amounts, amounts, st.booleans())
def test_a_better_value_never_scores_lower(values: list[float], a: float, b: float, lower_better: bool) -> None:
    q = Quintiles(values, lower_is_better=lower_better)
    worse, better = (max(a, b), min(a, b)) if lower_better else (min(a, b), max(a, b))
    assert q.score(better) >= q.score(worse)
    assert q.score(a) == q.score(a)  # equal values, equal scores


@given(populations, st.data())
def test_improving_one_customer_never_lowers_their_scores(pop: list[CustomerFacts], data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(pop))
    before = {s.customer_id: s for s in rfm_scores(pop).scores}[target.id]
    fewer_days = data.draw(st.integers(0, target.days_since_last))
    more_orders = target.window_orders + data.draw(st.integers(0, 20))
    more_money = target.window_amount + data.draw(amounts)
    improved = CustomerFacts(target.id, n_orders=max(more_orders, 1), days_since_first=target.days_since_first,
                             days_since_last=fewer_days, window_orders=more_orders, window_amount=more_money)
    after = {s.customer_id: s for s in rfm_scores([improved if f.id == target.id else f for f in pop]).scores}
    now = after[target.id]
    assert now.r >= before.r and now.f >= before.f and now.m >= before.m
    assert now.score >= before.score - 1e-9


@given(st.tuples(*[st.integers(1, 5)] * 3), weights)
def test_weights_are_respected(scores: tuple[int, int, int], w: tuple[float, float, float]) -> None:
    r, f, m = scores
    combined = combined_score(r, f, m, w)
    assert min(scores) - 1e-9 <= combined <= max(scores) + 1e-9
    # a measure with weight 0 has no say
    for i in range(3):
        if w[i] == 0:
            changed = list(scores)
            changed[i] = 6 - changed[i]
            assert abs(combined_score(*changed, w) - combined) < 1e-9
    # scaling every weight changes nothing; a heavier measure pulls the score its way
    assert abs(combined_score(r, f, m, tuple(3 * x for x in w)) - combined) < 1e-9
    if r > combined + 1e-9:
        assert combined_score(r, f, m, (w[0] + 1, w[1], w[2])) > combined


@settings(max_examples=200)
@given(st.dictionaries(st.text(min_size=1, max_size=4), amounts, max_size=40),
       st.floats(0.05, 1.0), st.floats(0.05, 1.0))
def test_pareto_tiers_are_ordered_by_value(values: dict[str, float], x: float, y: float) -> None:
    a_share, b_share = min(x, y), max(x, y)
    tiers = pareto_tiers(values, a_share, b_share)
    assert set(tiers) == set(values)
    rank = {"A": 0, "B": 1, "C": 2}
    for i, vi in values.items():
        for j, vj in values.items():
            if vi > vj:
                assert rank[tiers[i]] <= rank[tiers[j]]  # more value, never a lower tier
            if vi == vj:
                assert tiers[i] == tiers[j]
    total = sum(v for v in values.values() if v > 0)
    tier_a = sum(v for k, v in values.items() if tiers[k] == "A")
    if total > 0:
        # the A customers reach the A share (the largest of them all is always A)
        assert tier_a >= a_share * total - 1e-6 * total
        assert tiers[max(values, key=values.get)] == "A"


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 100), max_size=20))
def test_complaint_pareto_is_consistent(counts: dict[str, int]) -> None:
    rows = pareto(counts)
    assert [r["count"] for r in rows] == sorted(counts.values(), reverse=True)
    cumul = [r["cumulative"] for r in rows]
    assert cumul == sorted(cumul)
    if sum(counts.values()):
        assert abs(cumul[-1] - 1.0) < 1e-9
        vital = [r["vital"] for r in rows]
        assert vital == sorted(vital, reverse=True)  # the vital few come first
        assert vital[0]


@given(st.lists(st.integers(0, 30), min_size=1, max_size=80), st.booleans())
def test_the_one_walk_scores_match_the_searched_ones(values: list[int], lower_better: bool) -> None:
    q = Quintiles(values, lower_is_better=lower_better)
    assert q.scores() == {x: q.score(x) for x in values}
