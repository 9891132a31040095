"""The pure analytics rules on tiny inputs, answers worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_tui.domain.analytics.classification import customer_status, lifecycle_stage, pareto_tiers
from crm_tui.domain.analytics.complaints import complaint_analytics, pareto, sla_outcome
from crm_tui.domain.analytics.facts import CustomerFacts
from crm_tui.domain.analytics.kpi import overall_kpis
from crm_tui.domain.analytics.period import parse_period
from crm_tui.domain.analytics.reminders import birthday_in, cadence_state, holiday_dates
from crm_tui.domain.analytics.rfm import SEGMENT_RULES, SEGMENTS, Quintiles, combined_score, segment_of
from crm_tui.domain.analytics.satisfaction import satisfaction, summarize, verdict
from crm_tui.domain.analytics.settings import AnalyticsSettings, Cadence, Holiday
from crm_tui.domain.analytics.value import annuity, customer_value
from crm_tui.domain.complaints import SlaPolicy
from crm_tui.domain.validation import ValidationError

S = AnalyticsSettings()


def facts(n: int, first: int | None, last: int | None, **kw) -> CustomerFacts:
    return CustomerFacts("x", n_orders=n, days_since_first=first, days_since_last=last, **kw)


@pytest.mark.parametrize(("f", "expected"), [
    (facts(0, None, None), "potential"),
    (facts(1, 400, 400), "churned"),          # 400 > churn_days 365
    (facts(3, 200, 100), "loyal"),            # interval (200-100)/2 = 50: 100 <= max(60, 150); first > 90
    (facts(1, 30, 30), "new"),                # first order 30 <= 90 days ago
    (facts(3, 300, 20), "loyal"),             # interval 140; 20 days silent; 3 orders, first > 90 days ago
    (facts(2, 300, 100), "new"),              # interval 200: 100 < 600, fine; only 2 orders < 3
    (facts(4, 120, 90), "churned"),           # interval 10: 90 > max(60, 30)
    (facts(4, 120, 50), "loyal"),             # interval 70/3 = 23.3: 50 <= max(60, 70)
])
def test_status_rules(f: CustomerFacts, expected: str) -> None:
    assert customer_status(f, S)[0] == expected


def test_status_thresholds_come_from_settings() -> None:
    f = facts(1, 100, 100)
    assert customer_status(f, S)[0] == "new"  # 1 order, first 100 > 90 days ago, not loyal
    assert customer_status(f, AnalyticsSettings(churn_days=90))[0] == "churned"
    assert customer_status(f, AnalyticsSettings(new_days=120))[0] == "new"
    assert "100 days" in customer_status(f, AnalyticsSettings(churn_days=90), explain=True)[1]


@pytest.mark.parametrize(("kw", "status", "expected"), [
    ({"n_orders": 0}, "potential", "exploration"),
    ({"n_orders": 5}, "churned", "decline"),
    ({"n_orders": 1, "recent_amount": 100.0}, "new", "exploration"),
    ({"n_orders": 3, "recent_amount": 40.0, "prev_amount": 100.0}, "loyal", "decline"),    # 40 < 0.5 x 100
    ({"n_orders": 3, "recent_amount": 120.0, "prev_amount": 100.0}, "loyal", "formation"),  # 120 >= 1.2 x 100
    ({"n_orders": 3, "recent_amount": 100.0, "prev_amount": 0.0}, "new", "formation"),     # from nothing
    ({"n_orders": 3, "recent_amount": 90.0, "prev_amount": 100.0}, "loyal", "stability"),
    ({"n_orders": 3, "recent_contacts": 0, "prev_contacts": 2, "prev_amount": 0.0}, "loyal", "decline"),
    ({"n_orders": 3}, "loyal", "decline"),  # no order in either window
])
def test_lifecycle_rules(kw: dict, status: str, expected: str) -> None:
    f = CustomerFacts("x", days_since_first=10, days_since_last=5, **kw)
    assert lifecycle_stage(f, status, S)[0] == expected


def test_pareto_tiers_by_hand() -> None:
    # total 100: a 50 (above it 0) A; b 30 (50 < 80) A; c 10 (80) B; d 5 (90 < 95) B;
    # e 5 ties with d -> B; f 0 -> C
    assert pareto_tiers({"a": 50, "b": 30, "c": 10, "d": 5, "e": 5, "f": 0}) == {
        "a": "A", "b": "A", "c": "B", "d": "B", "e": "B", "f": "C"}
    # ties share a tier even when the first of them already crosses the line
    assert pareto_tiers({"a": 10, "b": 10, "c": 10, "d": 10, "e": 10}) == dict.fromkeys("abcde", "A")
    assert pareto_tiers({}) == {}


def test_quintile_scores_by_hand() -> None:
    q = Quintiles([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    # value k has k-1 worse values: 1 + floor(5(k-1)/10)
    assert [q.score(x) for x in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    r = Quintiles([3, 10, 30, 100, 300], lower_is_better=True)
    assert [r.score(x) for x in (3, 10, 30, 100, 300)] == [5, 4, 3, 2, 1]
    assert Quintiles([7, 7, 7]).score(7) == 1  # no one is worse
    assert Quintiles([]).score(1) == 1


def test_every_score_triple_has_one_segment_in_the_documented_order() -> None:
    assert tuple(name for name, _, _ in SEGMENT_RULES) == SEGMENTS
    seen = set()
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                seen.add(segment_of(r, f, m)[0])
    assert seen == set(SEGMENTS)  # every named segment is reachable
    assert segment_of(5, 5, 5)[0] == "Champions"
    assert segment_of(3, 5, 1)[0] == "Loyal"
    assert segment_of(1, 5, 5)[0] == "Can't Lose Them"
    assert segment_of(2, 3, 3)[0] == "At Risk"
    assert segment_of(5, 1, 5)[0] == "New"
    assert segment_of(4, 1, 1)[0] == "Promising"
    assert segment_of(5, 2, 2)[0] == "Potential Loyalist"
    assert segment_of(3, 3, 3)[0] == "Need Attention"
    assert segment_of(3, 2, 2)[0] == "About to Sleep"
    assert segment_of(2, 1, 2)[0] == "Hibernating"
    assert segment_of(1, 2, 2)[0] == "Lost"
    with pytest.raises(ValueError):
        segment_of(0, 1, 1)


def test_combined_score_is_the_weighted_mean() -> None:
    assert combined_score(5, 3, 1, (1, 1, 1)) == 3.0
    assert combined_score(5, 3, 1, (2, 1, 1)) == pytest.approx((10 + 3 + 1) / 4)
    assert combined_score(5, 3, 1, (0, 0, 1)) == 1.0


def test_value_and_clv_by_hand() -> None:
    assert annuity(3, 0.1) == pytest.approx(1 / 1.1 + 1 / 1.21 + 1 / 1.331)
    # 2 years of buying 6000 -> 3000 a year; margin 0.5; 2 years at 0%: future 3000 x 0.5 x 2
    s = AnalyticsSettings(clv_years=2, clv_discount_rate=0.0, clv_margin=0.5)
    v = customer_value(CustomerFacts("x", n_orders=4, total=6000.0, days_since_first=730, days_since_last=1), s)
    assert (v.historical, v.annual, v.future, v.clv) == (6000.0, 3000.0, 3000.0, 6000.0)
    assert customer_value(CustomerFacts("x"), s).clv == 0.0


def test_satisfaction_c_is_b_over_a() -> None:
    assert satisfaction(8, 6) == 0.75
    assert [verdict(c) for c in (0.75, 1.0, 1.2, None)] == ["dissatisfied", "satisfied", "delighted", "no survey"]
    with pytest.raises(ValidationError, match="expected"):
        satisfaction(0, 5)
    summary = summarize([{"customer_id": "a", "expected": 10, "perceived": 5},
                         {"customer_id": "a", "expected": 5, "perceived": 5},
                         {"customer_id": "b", "expected": 4, "perceived": 6}])
    # per survey 0.5, 1.0, 1.5: overall 1.0; customer a mean 0.75
    assert summary["overall"] == 1.0 and summary["per_customer"]["a"] == {"c": 0.75, "count": 2}


def test_cadence_states() -> None:
    cad = Cadence(14, 30)
    assert [cadence_state(d, cad) for d in (0, 14, 15, 30, 31, None)] == ["ok", "ok", "due", "due", "overdue",
                                                                            "overdue"]


def test_holiday_dates_2024_to_2030() -> None:
    spring = Holiday("Spring Festival", "lunar", 1, 1)
    mid_autumn = Holiday("Mid-Autumn Festival", "lunar", 8, 15)
    span = (dt.date(2024, 1, 1), dt.date(2030, 12, 31))
    assert [d.isoformat() for d in holiday_dates(spring, *span)] == [
        "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03"]
    assert [d.isoformat() for d in holiday_dates(mid_autumn, *span)] == [
        "2024-09-17", "2025-10-06", "2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22", "2030-09-12"]
    eve = Holiday("New Year's Eve", "lunar", 12, 30)  # the 12th month of 2025 has 29 days
    assert holiday_dates(eve, dt.date(2026, 2, 1), dt.date(2026, 2, 28)) == [dt.date(2026, 2, 16)]


def test_birthdays_wrap_the_year_and_keep_29_february() -> None:
    assert birthday_in("1980-01-02", dt.date(2026, 12, 30), dt.date(2027, 1, 6)) == dt.date(2027, 1, 2)
    assert birthday_in("1992-02-29", dt.date(2027, 2, 25), dt.date(2027, 3, 3)) == dt.date(2027, 2, 28)
    assert birthday_in("1992-02-29", dt.date(2028, 2, 25), dt.date(2028, 3, 3)) == dt.date(2028, 2, 29)
    assert birthday_in(None, dt.date(2026, 1, 1), dt.date(2026, 1, 2)) is None


def test_complaint_pareto_marks_the_vital_few() -> None:
    rows = pareto({"delivery": 6, "price": 2, "quality": 1, "other": 1})
    # total 10: delivery (0 above) vital; price (6 < 8) vital; quality (8) not; other not
    assert [(r["key"], r["vital"], r["cumulative"]) for r in rows] == [
        ("delivery", True, 0.6), ("price", True, 0.8), ("other", False, 0.9), ("quality", False, 1.0)]


def test_sla_outcomes() -> None:
    policy = SlaPolicy()
    now = dt.datetime(2026, 9, 30, 12)
    base = {"received_at": "2026-09-29T08:00:00", "priority": "high"}
    assert sla_outcome({**base, "resolved_at": "2026-09-30T08:00:00"}, policy, now) == "kept"  # 24 h exactly
    assert sla_outcome({**base, "resolved_at": "2026-09-30T08:00:01"}, policy, now) == "breached"
    assert sla_outcome(base, policy, now) == "breached"  # open, past the 24 h
    assert sla_outcome({**base, "priority": "low"}, policy, now) is None  # open, 7 days to go
    assert sla_outcome({**base, "due_at": "2026-10-01T00:00:00"}, policy, now) is None  # due_at wins
    result = complaint_analytics([{**base, "type": "price", "resolved_at": "2026-09-29T10:00:00",
                                   "first_response_at": "2026-09-29T09:00:00"}], S, now, policy)
    assert result["mean_first_response_hours"] == 1.0 and result["mean_resolution_hours"] == 2.0


def test_periods() -> None:
    q = parse_period("2026-Q3")
    assert (q.start, q.end, q.days) == (dt.date(2026, 7, 1), dt.date(2026, 9, 30), 92)
    assert q.previous().label == "2026-Q2" and parse_period("2026-q1").previous().label == "2025-Q4"
    m = parse_period("2026-02")
    assert (m.end, m.previous().label, m.months()) == (dt.date(2026, 2, 28), "2026-01", ["2026-02"])
    y = parse_period("2026")
    assert (y.start, y.end, y.previous().label) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31), "2025")
    r = parse_period("2026-03-10..2026-03-19")
    assert (r.days, r.previous().start, r.previous().end) == (10, dt.date(2026, 2, 28), dt.date(2026, 3, 9))
    assert r.end_text == "2026-03-20"
    for bad in ("2026-Q5", "2026-13", "yesterday", "2026-03-10..2026-03-01"):
        with pytest.raises(ValidationError, match="period"):
            parse_period(bad)


def test_settings_from_config() -> None:
    s = AnalyticsSettings.from_config({"churn_days": 200, "rfm_weights": [2, 1, 1],
                                       "cadence": {"a": {"ideal": 7, "maximum": 14}},
                                       "holidays": [{"name": "Dragon Boat", "calendar": "lunar", "month": 5,
                                                     "day": 5}]})
    assert s.churn_days == 200 and s.rfm_weights == (2.0, 1.0, 1.0)
    assert s.cadence["A"] == Cadence(7, 14) and s.cadence["B"] == Cadence(30, 60)
    assert s.holidays == (Holiday("Dragon Boat", "lunar", 5, 5),)
    with pytest.raises(ValidationError, match=r"analytics\.churn_dayz"):
        AnalyticsSettings.from_config({"churn_dayz": 1})
    with pytest.raises(ValidationError, match="rfm_weights"):
        AnalyticsSettings.from_config({"rfm_weights": [0, 0, 0]})
    with pytest.raises(ValidationError, match="tier_a_share"):
        AnalyticsSettings.from_config({"tier_a_share": 0.99})


def test_overall_kpi_formulas() -> None:
    k = overall_kpis({"customers_end": 12, "customers_start": 10, "active": 5, "active_prev": 4, "retained": 3,
                      "orders": 9, "sales": 150.0, "sales_prev": 100.0, "satisfaction": 0.9, "surveys": 2,
                      "complaints": 2})
    assert (k.growth_rate, k.retention_rate, k.churn_rate, k.sales_growth, k.complaint_rate) == (
        0.2, 0.75, 0.25, 0.5, 0.4)
    empty = overall_kpis({"customers_end": 0, "customers_start": 0, "active": 0, "active_prev": 0, "retained": 0,
                          "orders": 0, "sales": 0.0, "sales_prev": 0.0, "satisfaction": None, "surveys": 0,
                          "complaints": 0})
    assert (empty.growth_rate, empty.retention_rate, empty.churn_rate) == (None, None, None)
