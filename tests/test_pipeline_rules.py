"""The pure pipeline rules on hand-computed fixtures, and their properties: the
weighted pipeline is the sum over its stages and over its deals; a replayed stage
history gives the current stage."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_tui.domain.analytics.pipeline import (
    Deal,
    StageTotal,
    forecast,
    funnel,
    pipeline,
    stale_reason,
    totals_of,
    weighted_amount,
)
from crm_tui.domain.opportunities import DEFAULT_STAGES, PipelineSettings, StageMove, replay, settle, stays
from crm_tui.domain.validation import ValidationError

S = PipelineSettings()
TODAY = dt.date(2026, 9, 15)


def deal(stage: str, amount: float, prob: int | None = None, close: str | None = None) -> dict:
    return {"stage": stage, "amount": amount, "probability": prob, "close_date": close}


# -- settings ---------------------------------------------------------------------------


def test_default_stages_match_the_glossary() -> None:
    assert [(s.id, s.zh, s.probability) for s in S.stages] == [
        ("lead", "初步接洽", 10), ("qualified", "需求确认", 25), ("proposal", "方案报价", 50),
        ("negotiation", "商务谈判", 75), ("won", "赢单", 100), ("lost", "输单", 0)]
    assert [s.id for s in S.open_stages] == ["lead", "qualified", "proposal", "negotiation"]
    assert S.step("lead", 1) == "qualified" and S.step("negotiation", 1) is None
    assert S.step("lead", -1) is None and S.step("lost", -1) == "negotiation"


def test_settings_from_config_reorders_and_validates() -> None:
    custom = PipelineSettings.from_config({"currency": "usd", "stale_days": 10, "stages": [
        {"id": "won", "en": "Won", "zh": "赢单", "probability": 100, "order": 9},
        {"id": "lost", "en": "Lost", "zh": "输单", "probability": 0, "order": 10},
        {"id": "demo", "en": "Demo", "zh": "演示", "probability": 40, "order": 2},
        {"id": "intro", "en": "Intro", "zh": "介绍", "probability": 5, "order": 1}]})
    assert custom.currency == "USD" and custom.stale_days == 10
    assert custom.ids == ("intro", "demo", "won", "lost")
    with pytest.raises(ValidationError) as err:
        PipelineSettings.from_config({"stale": 3, "stages": [
            {"id": "a", "en": "A", "probability": 120}, {"id": "won", "en": "Won", "probability": 100}]})
    fields = {e.field for e in err.value.errors}
    assert {"pipeline.stale", "pipeline.stages[1].probability", "pipeline.stages"} <= fields
    assert "'lost'" in str(err.value)


# -- the rules of one deal ------------------------------------------------------------------


def test_settle_applies_defaults_dates_and_the_lost_reason() -> None:
    current = {"stage": "proposal", "probability": 60, "closed_on": None, "lost_reason": None}
    # a move resets a hand-set probability to the new stage's default (None)
    assert settle(current, {"stage": "negotiation"}, S, TODAY)["probability"] is None
    assert settle(current, {"stage": "negotiation", "probability": 80}, S, TODAY)["probability"] == 80
    assert settle(current, {"stage": "won"}, S, TODAY)["closed_on"] == "2026-09-15"
    with pytest.raises(ValidationError, match="lost_reason"):
        settle(current, {"stage": "lost"}, S, TODAY)
    lost = settle(current, {"stage": "lost", "lost_reason": "price"}, S, TODAY)
    assert lost["closed_on"] == "2026-09-15"
    reopened = settle({**current, **lost, "stage": "lost"}, {"stage": "lead"}, S, TODAY)
    assert reopened["closed_on"] is None and reopened["lost_reason"] is None
    with pytest.raises(ValidationError, match="stage"):
        settle(None, {"stage": "maybe"}, S, TODAY)
    with pytest.raises(ValidationError, match="probability"):
        settle(current, {"probability": 101}, S, TODAY)


# -- weighted pipeline and forecast, by hand ---------------------------------------------------


def test_pipeline_by_hand() -> None:
    deals = [deal("lead", 1000), deal("lead", 3000, 50), deal("proposal", 2000), deal("won", 9999),
             deal("negotiation", 400, 100), deal("lost", 7777)]
    result = pipeline(totals_of(deals), S)
    by = {s["stage"]: s for s in result["stages"]}
    assert by["lead"] == {"stage": "lead", "count": 2, "amount": 4000.0, "probability": 10,
                          "weighted": 100.0 + 1500.0}
    assert by["qualified"]["count"] == 0
    assert by["proposal"]["weighted"] == 1000.0
    assert by["negotiation"]["weighted"] == 400.0
    assert (result["count"], result["amount"], result["weighted"]) == (4, 6400.0, 3000.0)


def test_forecast_by_close_month() -> None:
    deals = [deal("proposal", 2000, close="2026-07-20"), deal("negotiation", 1000, 40, close="2026-09-01"),
             deal("lead", 500, close="2026-10-01"), deal("lead", 800, close=None)]
    totals = totals_of(deals, by_month=True)
    result = forecast(["2026-07", "2026-08", "2026-09"], {"2026-08": 3000.0}, totals, S,
                      target=10000.0, sales=4000.0)
    assert [m["forecast"] for m in result["months"]] == [1000.0, 3000.0, 400.0]
    assert (result["won"], result["weighted_pipeline"], result["forecast"]) == (3000.0, 1400.0, 4400.0)
    assert result["attainment"] == 0.4 and result["forecast_attainment"] == pytest.approx(0.54)


# -- the funnel from a known stage history -----------------------------------------------------


def test_funnel_by_hand() -> None:
    t0 = "2026-07-01T09:00:00"
    won = Deal("A", "won", 1000, t0, "2026-07-21", (
        StageMove("lead", "qualified", "2026-07-03T09:00:00"),
        StageMove("qualified", "proposal", "2026-07-07T09:00:00"),
        StageMove("proposal", "won", "2026-07-21T09:00:00")))
    lost = Deal("B", "lost", 500, t0, "2026-07-11", (
        StageMove("lead", "qualified", "2026-07-05T09:00:00"),
        StageMove("qualified", "lost", "2026-07-11T09:00:00")))
    fresh = Deal("C", "lead", 300, t0)
    result = funnel([won, lost, fresh], S)
    by = {s["stage"]: s for s in result["stages"]}
    assert [by[s]["reached"] for s in ("lead", "qualified", "proposal", "negotiation", "won")] == [3, 2, 1, 1, 1]
    assert by["lead"]["conversion"] == pytest.approx(2 / 3)
    assert by["qualified"]["conversion"] == 0.5
    assert by["lead"]["avg_days"] == 3.0  # 2 and 4 days (C is still in lead: not counted)
    assert by["qualified"]["avg_days"] == 5.0  # 4 and 6 days
    assert by["proposal"]["avg_days"] == 14.0
    assert (result["won"], result["lost"], result["win_rate"]) == (1, 1, 0.5)
    assert result["avg_deal_size"] == 1000.0
    assert result["sales_cycle_days"] == 20.0  # 07-01 to 07-21


def test_stale_reasons() -> None:
    assert stale_reason({"close_date": "2026-09-14", "last_activity": "2026-09-15"}, TODAY, "2026-08-16") == "overdue"
    assert stale_reason({"close_date": None, "last_activity": "2026-08-15"}, TODAY, "2026-08-16") == "quiet"
    assert stale_reason({"close_date": "2026-09-15", "last_activity": "2026-08-16"}, TODAY, "2026-08-16") is None


# -- properties -------------------------------------------------------------------------------

STAGE_IDS = [s.id for s in DEFAULT_STAGES]
deals_st = st.lists(st.builds(
    deal, st.sampled_from(STAGE_IDS), st.integers(0, 10**7).map(float),
    st.one_of(st.none(), st.integers(0, 100))), max_size=40)


@settings(max_examples=150, deadline=None)
@given(deals_st)
def test_weighted_pipeline_is_the_sum_over_stages_and_deals(deals: list[dict]) -> None:
    result = pipeline(totals_of(deals), S)
    assert result["weighted"] == pytest.approx(sum(s["weighted"] for s in result["stages"]), abs=0.05)
    open_deals = [d for d in deals if d["stage"] not in ("won", "lost")]
    assert result["weighted"] == pytest.approx(sum(weighted_amount(d, S) for d in open_deals), abs=0.05)
    assert result["count"] == len(open_deals)
    # splitting the deals in any two groups of totals adds up the same
    half = len(deals) // 2
    split = pipeline([*totals_of(deals[:half]), *totals_of(deals[half:])], S)
    assert split["weighted"] == pytest.approx(result["weighted"], abs=0.05)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(STAGE_IDS), st.lists(st.sampled_from(STAGE_IDS), max_size=12))
def test_a_replayed_history_gives_the_current_stage(start: str, path: list[str]) -> None:
    stage, moves = start, []
    base = dt.datetime(2026, 1, 1)
    for i, target in enumerate(path):
        if target == stage:
            continue
        moves.append(StageMove(stage, target, (base + dt.timedelta(hours=i)).isoformat()))
        stage = target
    shuffled = list(reversed(moves))  # stored order does not matter: moves replay by time
    assert replay(shuffled, start) == stage
    assert stays(shuffled, base.isoformat(), stage)[-1][0] == stage
    assert stays(shuffled, base.isoformat(), stage)[0][0] == start


@settings(max_examples=100, deadline=None)
@given(deals_st)
def test_a_totals_row_weighs_like_its_deals(deals: list[dict]) -> None:
    for total in totals_of(deals):
        assert isinstance(total, StageTotal)
        mine = [d for d in deals if d["stage"] == total.stage]
        assert total.weighted(S) == pytest.approx(sum(weighted_amount(d, S) for d in mine), abs=0.05)
