"""The analytics use cases on the hand-worked book of tests/analytics_fixture.py.
Each expected figure is worked out in the comment beside it."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from analytics_fixture import NOW, TODAY, analytics, build
from old_books import book_before

from crm_tui.api import Crm, ValidationError


@pytest.fixture
def book(crm: Crm) -> dict[str, str]:
    return build(crm)


def by_letter(ids: dict[str, str], rows, key=lambda r: r.customer_id):
    letter = {v: k for k, v in ids.items()}
    return {letter[key(r)]: r for r in rows}


def test_facts_aggregate_orders_and_contacts(crm: Crm, book: dict[str, str]) -> None:
    facts = by_letter(book, analytics(crm).facts(TODAY), key=lambda f: f.id)
    a = facts["A"]
    # A: 5 orders, 10000 in all, first 333 and last 10 days ago; RFM window from
    # 2025-10-01 holds all five; recent trend window (from 2026-04-04): 2000 + 3000 +
    # 3000 = 8000; the one before (2025-10-06 .. 2026-04-03): 1000 + 1000 = 2000.
    assert (a.n_orders, a.total, a.days_since_first, a.days_since_last) == (5, 10000.0, 333, 10)
    assert (a.window_orders, a.window_amount, a.recent_amount, a.prev_amount) == (5, 10000.0, 8000.0, 2000.0)
    assert a.mean_interval == pytest.approx((333 - 10) / 4)  # 80.75
    assert a.days_since_contact == 5  # visit 2026-09-25
    assert facts["D"].days_since_win_back == 20  # win-back call 2026-09-10
    assert facts["E"].n_orders == 0 and facts["E"].days_since_last is None
    assert facts["B"].window_orders == 0  # its only order (2025-06-01) is before the window


def test_classification_by_hand(crm: Crm, book: dict[str, str]) -> None:
    classes = by_letter(book, analytics(crm).classify_customers())
    got = {k: (c.status, c.lifecycle_stage, c.tier, c.core) for k, c in classes.items()}
    # Status: A loyal (5 orders, first 333 > 90 days ago, silent 10 < max(60, 3 x 80.75));
    # B churned (486 > 365 days silent); C new (first order 29 <= 90 days ago);
    # D churned by its own rhythm (173 > max(60, 3 x 31 = 93)); E potential (no order);
    # F loyal (silent 15 < max(60, 3 x 83.75)).
    # Stage: A formation (8000 >= 1.2 x 2000); B, D decline (churned); C exploration (1
    # order); E exploration; F stability (1700 vs 1600: not < 0.5x, not >= 1.2x).
    # Tiers: values 10000, 5000, 3300, 800, 500, 0; total 19600, 80% = 15680, 95% = 18620.
    # Value above each: A 0 -> A; B 10000 -> A; F 15000 < 15680 -> A; D 18300 < 18620 -> B;
    # C 19100 -> C; E has no value -> C. Core = tier A.
    assert got == {
        "A": ("loyal", "formation", "A", True),
        "B": ("churned", "decline", "A", True),
        "C": ("new", "exploration", "C", False),
        "D": ("churned", "decline", "B", False),
        "E": ("potential", "exploration", "C", False),
        "F": ("loyal", "stability", "A", True),
    }
    assert "3 x the usual 31.0-day interval" in classes["D"].reasons["status"]
    # stored on every customer of the laptop, whoever owns it (local columns, not synced)
    stored = crm.customers.get(book["B"])
    assert (stored["status"], stored["lifecycle_stage"], stored["tier"]) == ("churned", "decline", "A")
    stored = crm.customers.get(book["D"])  # li's customer on wang's laptop
    assert (stored["status"], stored["lifecycle_stage"], stored["tier"]) == ("churned", "decline", "B")


def test_a_replica_without_a_rep_stores_every_class(crm: Crm, book: dict[str, str]) -> None:
    crm.set_rep("")
    analytics(crm).classify_customers()
    stored = crm.customers.get(book["D"])
    assert (stored["status"], stored["lifecycle_stage"], stored["tier"]) == ("churned", "decline", "B")


def test_storing_writes_only_what_changed_and_logs_nothing(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    before = len(crm.changes())
    crm.conn.execute("UPDATE customers SET status = NULL, lifecycle_stage = NULL, tier = NULL")  # never classified
    _, changed = an.reclassify()
    assert changed == 6  # every customer on the laptop
    _, changed = an.reclassify()
    assert changed == 0
    assert len(crm.changes()) == before  # classes are local: no change to sync, ever


def test_override_survives_recomputation(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    an.classify_customers()
    with pytest.raises(ValidationError, match="reason"):
        an.set_override(book["D"], status="loyal", reason=" ")
    an.set_override(book["D"], status="loyal", reason="annual contract signed")
    assert crm.customers.get(book["D"])["status"] == "loyal"  # at once
    an.set_override(book["D"], tier="A", reason="strategic account")  # adds; status stays
    classes = by_letter(book, an.classify_customers())
    d = classes["D"]
    assert (d.status, d.tier, d.lifecycle_stage) == ("loyal", "A", "decline")
    assert d.computed == {"status": "churned", "lifecycle_stage": "decline", "tier": "B"}
    assert d.reasons["status"] == "manual override: strategic account"
    stored = crm.customers.get(book["D"])
    assert (stored["status"], stored["tier"]) == ("loyal", "A")
    # the override is a synced record, captured like any other write
    assert {c["tbl"] for c in crm.changes(row_id=book["D"])} >= {"classification_overrides"}
    an.clear_override(book["D"])
    assert by_letter(book, an.classify_customers())["D"].status == "churned"


def test_rfm_scores_and_segments_by_hand(crm: Crm, book: dict[str, str]) -> None:
    scores = by_letter(book, analytics(crm).rfm_scores().scores)
    # Five buyers. Recency days A 10, F 15, C 29, D 173, B 486: customers with more days
    # are worse: A 4 -> 1 + floor(5*4/5) = 5, F 3 -> 4, C 2 -> 3, D 1 -> 2, B 0 -> 1.
    # Frequency in window A 5, F 5, D 2, C 1, B 0: fewer is worse: A, F 3 -> 4; D 2 -> 3;
    # C 1 -> 2; B 0 -> 1. Monetary A 10000, F 3300, D 800, C 500, B 0 -> 5, 4, 3, 2, 1.
    got = {k: (s.r, s.f, s.m, s.segment) for k, s in scores.items()}
    assert got == {
        "A": (5, 4, 5, "Champions"),     # R>=4, F>=4, M>=4
        "F": (4, 4, 4, "Champions"),
        "C": (3, 2, 2, "About to Sleep"),  # R=3, F+M=4 < 6
        "D": (2, 3, 3, "At Risk"),        # R<=2, F+M=6
        "B": (1, 1, 1, "Lost"),
    }
    assert scores["A"].score == pytest.approx(14 / 3)
    assert "E" not in scores  # no order, no RFM


def test_rfm_weights_from_config(crm: Crm, book: dict[str, str], tmp_path) -> None:
    (tmp_path / "config.toml").write_text("[analytics]\nrfm_weights = [2, 1, 0]\n")
    scores = by_letter(book, crm.analytics.rfm_scores(today=TODAY).scores)
    assert scores["A"].score == pytest.approx((2 * 5 + 4) / 3)  # monetary weighs nothing


def test_explain_rfm(crm: Crm, book: dict[str, str]) -> None:
    result = analytics(crm).explain_rfm(book["D"])
    assert result["rfm"] == "233" and result["segment"] == "At Risk"
    recency = result["parts"][0]
    assert (recency["value"], recency["worse_customers"], recency["population"]) == (173, 1, 5)
    assert recency["formula"] == "1 + floor(5 x 1 / 5) = 2"
    assert result["segment_rule"] == "R <= 2 and F + M >= 6"
    with pytest.raises(ValidationError, match="no order"):
        analytics(crm).explain_rfm(book["E"])


def test_customer_value_and_loyalty(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    # A: tenure 333 days counts as 1 year, so 10000 a year; future = 10000 x (1/1.1 +
    # 1/1.1^2 + 1/1.1^3) = 24868.52; CLV = 10000 + 24868.52.
    assert an.customer_value(book["A"]) == {"id": book["A"], "historical": 10000.0, "annual": 10000.0,
                                           "future": 24868.52, "clv": 34868.52}
    assert an.customer_value(book["B"])["future"] == 0.0  # churned: no future value
    # Buyers A B C D F; repeat buyers A D F -> 3/5; intervals 80.75, 31, 83.75 -> 65.1667
    result = an.loyalty()
    assert result["repeat_purchase_rate"] == pytest.approx(0.6)
    assert result["mean_interval_days"] == pytest.approx((80.75 + 31 + 83.75) / 3)


def test_surveys_and_satisfaction(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    with pytest.raises(ValidationError, match="expected"):
        an.add_survey({"customer_id": book["A"], "expected": 0, "perceived": 5})
    rows = an.list_surveys(book["A"])
    assert [(r["c"], r["verdict"]) for r in rows] == [(1.125, "delighted")]
    summary = an.satisfaction()
    # C per survey: 9/8 = 1.125, 7/10 = 0.7, 5/5 = 1.0; overall mean 2.825 / 3
    assert summary["count"] == 3
    assert summary["overall"] == pytest.approx(2.825 / 3)
    assert summary["per_customer"][book["F"]]["c"] == pytest.approx(0.7)
    assert crm.changes(table="surveys")  # synced table, captured


def test_contact_cadence(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    an.classify_customers()
    items = by_letter(book, an.contact_cadence())
    # A tier A, 5 days since the call: ok (ideal 14). F tier A, 121 days: overdue (> 30).
    # D tier B, 20 days: ok. B never contacted, made 2025-03-01: overdue. C tier C, never
    # contacted, made 46 days ago: ok (ideal 60). E tier C, 91 days since made: due (60 < 91 <= 120).
    assert {k: (i.days_since_contact, i.state) for k, i in items.items()} == {
        "A": (5, "ok"), "F": (121, "overdue"), "D": (20, "ok"), "B": (578, "overdue"),
        "C": (46, "ok"), "E": (91, "due")}
    # logging any contact resets the clock
    crm.visits.create({"customer_id": book["F"], "visited_at": "2026-09-29 09:00", "channel": "wechat",
                       "purpose": "care"})
    assert by_letter(book, an.contact_cadence())["F"].state == "ok"


def test_win_back_queue(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    # B: churned, tier A -> in. D: churned, tier B, but called for win-back 20 days ago
    # (< 30-day cooldown) -> out. A, F: recent buyers. C, E: tier C.
    assert [w.customer_id for w in an.win_back_queue()] == [book["B"]]


def test_greetings_and_mark_sent(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    an.classify_customers()
    # From 2026-09-30 to 2026-10-07: National Day 10-01 for everyone not churned (A C E F),
    # C's birthday 10-03. Mid-Autumn 2026 fell on 09-25: already past.
    got = [(g.date.isoformat(), g.occasion, g.customer_id) for g in an.greetings()]
    assert sorted(got) == sorted([("2026-10-01", "National Day", book[k]) for k in "ACEF"]
                                 + [("2026-10-03", "Birthday", book["C"])])
    assert [g.occasion for g in an.greetings(holiday="birthday")] == ["Birthday"]
    with pytest.raises(ValidationError, match="calendar"):
        an.greetings(holiday="Halloween")
    before = crm.visits.count()
    visits = an.mark_greetings_sent(an.greetings())
    assert len(visits) == 5 and crm.visits.count() == before + 5
    assert {v["purpose"] for v in visits} == {"holiday_greeting", "care"}
    assert an.greetings() == []  # sent ones leave the list


def test_mid_autumn_and_spring_festival_come_from_the_lunar_calendar(crm: Crm, book: dict[str, str]) -> None:
    from crm_tui.api.analytics import Analytics

    an = Analytics(crm, now=lambda: dt.datetime(2026, 9, 20, 9, 0))
    assert {g.occasion for g in an.greetings()} == {"Mid-Autumn Festival"}  # 2026-09-25
    an = Analytics(crm, now=lambda: dt.datetime(2027, 2, 1, 9, 0))
    assert {(g.occasion, g.date.isoformat()) for g in an.greetings()} == {("Spring Festival", "2027-02-06")}


def test_complaint_analytics_by_hand(crm: Crm, book: dict[str, str]) -> None:
    result = analytics(crm).complaint_analytics("2026-Q3")
    # Q3 complaints: K1 delivery/high kept, K2 quality/urgent breached (resolved 16:00 >
    # 14:00), K3 delivery/medium open and not yet due, K4 delivery/low open past due.
    assert result["complaints"] == 4 and result["open"] == 2
    assert [(r["key"], r["count"], r["vital"]) for r in result["by_type"]] == [
        ("delivery", 3, True), ("product_quality", 1, True)]  # 3 < 0.8 x 4 before the second
    assert result["by_type"][0]["cumulative"] == 0.75
    assert [(r["key"], r["count"]) for r in result["by_region"]] == [("华东", 3), ("华南", 1)]
    # first responses 2 h, 0.5 h, 4 h -> 6.5 / 3; resolutions 24 h and 6 h -> 15 h
    assert result["mean_first_response_hours"] == pytest.approx(6.5 / 3)
    assert result["mean_resolution_hours"] == pytest.approx(15.0)
    sla = {p: (s["decided"], s["breached"], s["breach_rate"]) for p, s in result["sla"].items()}
    assert sla == {"low": (1, 1, 1.0), "medium": (0, 0, None), "high": (1, 0, 0.0), "urgent": (1, 1, 1.0)}
    only = analytics(crm).complaint_analytics("2026-Q3", product="Gadget")
    assert only["complaints"] == 1


def test_kpis_by_hand(crm: Crm, book: dict[str, str]) -> None:
    result = analytics(crm).kpis("2026-Q3")
    o = result["overall"]
    # customers made before 2026-10-01: 6; before 2026-07-01: A B D F = 4 -> growth 50%.
    assert (o["customers"], o["customers_at_start"], o["new_customers"], o["growth_rate"]) == (6, 4, 2, 0.5)
    # ordered in Q3: A C F; in Q2: A D F; in both: A F -> retention 2/3, churn 1/3.
    assert (o["active_customers"], o["active_previous"], o["retained"]) == (3, 3, 2)
    assert o["retention_rate"] == pytest.approx(2 / 3) and o["churn_rate"] == pytest.approx(1 / 3)
    # Q3 sales: A 3000 + 3000, C 500, F 800 + 100 = 7400 in 5 orders; Q2: 2000 + 400 + 800.
    assert (o["orders"], o["sales"], o["sales_previous"]) == (5, 7400.0, 3200.0)
    assert o["sales_growth"] == pytest.approx(4200 / 3200)
    # Q3 surveys: 9/8 and 7/10 -> mean 0.9125; 4 complaints over 3 active customers.
    assert o["satisfaction"] == pytest.approx(0.9125) and o["surveys"] == 2
    assert o["complaints"] == 4 and o["complaint_rate"] == pytest.approx(4 / 3)
    reps = {r["rep"]: r for r in result["reps"]}
    # wang: 1 visit, its follow-up (09-28) done; orders A 6000; handled K1 within SLA.
    # li: D's win-back call; F's follow-up of 07-10 not done; orders C + F = 1400; K2 late.
    assert {k: reps["wang"][k] for k in ("visits", "follow_ups_due", "follow_ups_done", "orders", "sales",
                                         "complaints_handled", "sla_decided", "sla_kept")} == {
        "visits": 1, "follow_ups_due": 1, "follow_ups_done": 1, "orders": 2, "sales": 6000.0,
        "complaints_handled": 1, "sla_decided": 1, "sla_kept": 1}
    assert {k: reps["li"][k] for k in ("visits", "follow_ups_due", "follow_ups_done", "orders", "sales",
                                       "complaints_handled", "sla_kept_rate")} == {
        "visits": 1, "follow_ups_due": 1, "follow_ups_done": 0, "orders": 3, "sales": 1400.0,
        "complaints_handled": 1, "sla_kept_rate": 0.0}
    only = analytics(crm).kpis("2026-Q3", rep="li")
    assert [r["rep"] for r in only["reps"]] == ["li"]
    assert only["overall"]["sales"] == 1400.0


def test_report_data_and_dashboard_data(crm: Crm, book: dict[str, str]) -> None:
    an = analytics(crm)
    data = an.report_data("2026-Q3")
    assert [m["sales"] for m in data["monthly_sales"]] == [800.0, 3000.0, 3600.0]
    assert [r["id"] for r in data["top_customers"]] == [book["A"], book["F"], book["C"]]
    assert [r["id"] for r in data["at_risk"]] == [book["D"], book["C"]]  # by window sales: 800, 500
    assert data["tiers"] == {"A": 3, "B": 1, "C": 2}
    json.dumps(data)  # plain data all the way down
    dash = an.dashboard_data()
    assert dash["monthly_sales"][-1] == ("2026-09", 3600.0) and len(dash["monthly_sales"]) == 12
    assert dash["segments"]["Champions"] == 2
    assert dash["agenda"]["follow_ups_overdue"] == 1  # F's follow-up of 07-10
    assert NOW.date() == TODAY


def test_migration_3_upgrades_a_schema_2_database(tmp_path) -> None:
    from crm_tui.db.connection import transaction
    from crm_tui.db.migrations import SCHEMA_VERSION, _v3

    path = tmp_path / "old.db"
    conn = book_before(path, _v3)
    conn.execute("PRAGMA journal_mode = WAL")
    with transaction(conn):
        conn.execute("INSERT INTO customers (id, name) VALUES ('C1', '老客户')")
    conn.close()
    with Crm(path) as crm:
        assert crm.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # 3 and later ones
        survey = crm.analytics.add_survey({"customer_id": "C1", "expected": 4, "perceived": 5,
                                           "surveyed_at": "2026-09-01"})
        assert survey["c"] == 1.25
        assert [c["op"] for c in crm.changes(table="surveys")] == ["insert"]
        indexes = {r[1] for r in crm.conn.execute("PRAGMA index_list(orders)")}
        assert "orders_customer_amount" in indexes
