"""Opportunities through the API and the CLI: their rules on every write path, stage
moves recorded, a win made into its order, the pipeline, forecast, funnel, targets
and attainment; the database checked after each command."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from cli_steps import run, runner

from crm_tui.api import Crm, ValidationError
from crm_tui.api.exporting import export_to_path
from crm_tui.api.importing import import_records
from crm_tui.cli import app

pytestmark = pytest.mark.usefixtures("wide_terminal")
NOW = dt.datetime(2026, 9, 15, 10, 0)


@pytest.fixture
def pipe_crm(db_path: Path):
    crm = Crm(db_path, rep="wang", now=lambda: NOW)
    yield crm
    crm.close()


def customer(crm: Crm, name: str = "张伟", owner: str = "wang") -> str:
    return crm.customers.create({"name": name}, owner=owner)["id"]


def test_create_fills_the_first_stage_and_captures_the_change(pipe_crm: Crm) -> None:
    cid = customer(pipe_crm)
    deal = pipe_crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": "¥50,000"})
    assert (deal["stage"], deal["probability"], deal["amount"]) == ("lead", None, 50000.0)
    log = pipe_crm.changes(table="opportunities", row_id=deal["id"])
    assert [c["op"] for c in log] == ["insert"] and json.loads(log[0]["data"])["title"] == "ERP"
    with pytest.raises(ValidationError) as err:
        pipe_crm.opportunities.create({"customer_id": cid, "title": "X", "amount": 1, "stage": "maybe"})
    assert err.value.errors[0].field == "stage"
    with pytest.raises(ValidationError) as err:
        pipe_crm.opportunities.create({"customer_id": "NOPE", "title": "X", "amount": -1})
    assert {e.field for e in err.value.errors} >= {"amount"}


def test_moves_are_recorded_and_lost_needs_a_reason(pipe_crm: Crm) -> None:
    cid = customer(pipe_crm)
    deal = pipe_crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": 1000, "probability": 30})
    pipe_crm.pipeline.move(deal["id"], "proposal")
    # an edit of the stage is the same move (one rule on every path)
    pipe_crm.opportunities.update(deal["id"], {"stage": "negotiation"})
    with pytest.raises(ValidationError) as err:
        pipe_crm.pipeline.move(deal["id"], "lost")
    assert err.value.errors[0].field == "lost_reason"
    assert pipe_crm.opportunities.get(deal["id"])["stage"] == "negotiation"  # nothing half-written
    lost, order = pipe_crm.pipeline.move(deal["id"], "lost", lost_reason="price too high")
    assert order is None
    assert (lost["stage"], lost["closed_on"], lost["lost_reason"], lost["probability"]) == \
        ("lost", "2026-09-15", "price too high", None)
    moves = pipe_crm.pipeline.history(deal["id"])
    assert [(m["from_stage"], m["to_stage"], m["rep"]) for m in moves] == [
        ("lead", "proposal", "wang"), ("proposal", "negotiation", "wang"), ("negotiation", "lost", "wang")]
    assert moves[0]["moved_at"] == "2026-09-15T10:00:00"
    # moves are synced records scoped by the customer
    assert {c["tbl"] for c in pipe_crm.changes(table="opportunity_stages")} == {"opportunity_stages"}
    stored = pipe_crm.conn.execute("SELECT DISTINCT customer_id FROM opportunity_stages").fetchall()
    assert [r[0] for r in stored] == [cid]
    reopened = pipe_crm.pipeline.move(deal["id"], "qualified")[0]
    assert reopened["closed_on"] is None and reopened["lost_reason"] is None


def test_winning_creates_the_order_once_and_attainment_counts_it_once(pipe_crm: Crm) -> None:
    cid = customer(pipe_crm)
    a = pipe_crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": 1000, "stage": "negotiation"})
    b = pipe_crm.opportunities.create({"customer_id": cid, "title": "CRM", "amount": 300, "stage": "proposal"})
    with pytest.raises(ValidationError):
        pipe_crm.pipeline.move(a["id"], "proposal", create_order=True)
    won, order = pipe_crm.pipeline.move(a["id"], "won", create_order=True)
    assert order is not None and won["order_id"] == order["id"]
    assert (order["amount"], order["ordered_at"], order["customer_id"]) == (1000.0, "2026-09-15", cid)
    pipe_crm.pipeline.move(b["id"], "won")  # no order yet: counts as a won deal
    pipe_crm.orders.create({"customer_id": cid, "ordered_at": "2026-09-02", "product": "spare", "amount": 50})
    pipe_crm.pipeline.set_target("2026-Q3", 2000, rep="wang")
    pipe_crm.pipeline.set_target("2026-Q3", 2700)  # the team
    att = pipe_crm.pipeline.attainment("2026-Q3")
    assert att["reps"] == [{"rep": "wang", "sales": 1350.0, "target": 2000.0, "attainment": 0.675}]
    assert att["team"] == {"sales": 1350.0, "target": 2700.0, "attainment": 0.5}
    with pytest.raises(ValidationError, match="already has order"):
        pipe_crm.pipeline.create_order(a["id"])
    _, late = pipe_crm.pipeline.create_order(b["id"])
    assert pipe_crm.pipeline.attainment("2026-Q3")["team"]["sales"] == 1350.0  # the order replaces the deal
    assert late["amount"] == 300.0
    # setting a target again changes the one record
    pipe_crm.pipeline.set_target("2026-q3", 2500, rep="wang")
    assert [(t["rep"], t["amount"]) for t in pipe_crm.pipeline.targets(period="2026-Q3")] == [
        (None, 2700.0), ("wang", 2500.0)]


def test_pipeline_forecast_and_funnel_from_the_database(pipe_crm: Crm) -> None:
    cid = customer(pipe_crm)
    make = pipe_crm.opportunities.create
    make({"customer_id": cid, "title": "a", "amount": 1000, "stage": "lead", "close_date": "2026-09-20"})
    make({"customer_id": cid, "title": "b", "amount": 2000, "stage": "proposal", "close_date": "2026-08-10"})
    make({"customer_id": cid, "title": "c", "amount": 400, "stage": "proposal", "probability": 90,
          "close_date": "2026-12-01"})
    make({"customer_id": cid, "title": "d", "amount": 800, "stage": "negotiation"}, owner="li")
    won = make({"customer_id": cid, "title": "e", "amount": 5000, "stage": "negotiation", "close_date": "2026-09-30"})
    pipe_crm.pipeline.move(won["id"], "won")
    result = pipe_crm.pipeline.pipeline()
    assert [(s["stage"], s["count"], s["weighted"]) for s in result["stages"]] == [
        ("lead", 1, 100.0), ("qualified", 0, 0.0), ("proposal", 2, 1360.0), ("negotiation", 1, 600.0)]
    assert (result["count"], result["amount"], result["weighted"]) == (4, 4200.0, 2060.0)
    assert pipe_crm.pipeline.pipeline(rep="li")["weighted"] == 600.0
    fc = pipe_crm.pipeline.forecast("2026-Q3")
    assert [(m["month"], m["won"], m["weighted_pipeline"]) for m in fc["months"]] == [
        ("2026-07", 0.0, 0.0), ("2026-08", 0.0, 1000.0), ("2026-09", 5000.0, 100.0)]
    assert fc["forecast"] == 6100.0
    fn = pipe_crm.pipeline.funnel("2026")
    assert fn["deals"] == 5 and fn["won"] == 1 and fn["win_rate"] == 1.0
    assert [s["reached"] for s in fn["stages"]] == [5, 4, 4, 2, 1]


def test_import_and_export_go_through_the_rules(pipe_crm: Crm, tmp_path: Path) -> None:
    cid = customer(pipe_crm)
    good = tmp_path / "deals.csv"
    good.write_text(f"customer_id,title,amount,stage,close_date\n{cid},ERP,1000,proposal,2026-10-01\n"
                    f"{cid},CRM,200,won,\n", encoding="utf-8")
    report = import_records(pipe_crm, "opportunities", good)
    assert not report.rejected
    rows = {r["title"]: r for r in pipe_crm.opportunities.find()}
    assert rows["CRM"]["closed_on"] == "2026-09-15" and rows["ERP"]["stage"] == "proposal"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"customer_id,title,amount,stage\n{cid},X,1,lost\n{cid},Y,1,someday\n", encoding="utf-8")
    report = import_records(pipe_crm, "opportunities", bad)
    reasons = " | ".join(str(r) for r in report.rejected)
    assert "lost_reason" in reasons and "someday" in reasons and "2" in reasons
    assert pipe_crm.opportunities.count() == 2  # all or nothing
    out = tmp_path / "deals.json"
    export_to_path(pipe_crm, "opportunities", out, fmt="json")
    assert sorted(r["title"] for r in json.loads(out.read_text(encoding="utf-8"))) == ["CRM", "ERP"]


def test_settings_come_from_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[pipeline]\ncurrency = "USD"\n[[pipeline.stages]]\nid = "intro"\nen = "Intro"\n'
                      'zh = "介绍"\nprobability = 20\norder = 1\n[[pipeline.stages]]\nid = "won"\nen = "Won"\n'
                      'probability = 100\norder = 2\n[[pipeline.stages]]\nid = "lost"\nen = "Lost"\n'
                      'probability = 0\norder = 3\n', encoding="utf-8")
    monkeypatch.setenv("CRM_CONFIG", str(config))
    with Crm(tmp_path / "c.db", rep="wang") as crm:
        deal = crm.opportunities.create({"customer_id": customer(crm), "title": "t", "amount": 100})
        assert deal["stage"] == "intro"
        result = crm.pipeline.pipeline()
        assert result["currency"] == "USD" and result["weighted"] == 20.0


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_round_trip(db_path: Path) -> None:
    with Crm(db_path, rep="wang") as crm:
        cid = customer(crm)
    added = json.loads(run(db_path, "opportunities", "add", "--customer", cid[:10], "--title", "ERP 项目",
                           "--amount", "120000", "--stage", "qualified", "--close-date", "2026-12-15",
                           "--json").stdout)
    oid = added["id"]
    bad = run(db_path, "opportunities", "move", oid[:8], "--stage", "lost", ok=False)
    assert bad.exit_code == 1 and "lost_reason: is required" in bad.output and "Traceback" not in bad.output
    run(db_path, "opportunities", "move", oid, "--stage", "negotiation")
    pipe = json.loads(run(db_path, "pipeline", "--json").stdout)
    assert pipe["weighted"] == 90000.0
    fc = json.loads(run(db_path, "forecast", "--period", "2026-Q4", "--json").stdout)
    assert fc["months"][-1] == {"month": "2026-12", "won": 0.0, "weighted_pipeline": 90000.0, "forecast": 90000.0}
    moved = json.loads(run(db_path, "opportunities", "move", oid, "--stage", "won", "--create-order",
                           "--json").stdout)
    today = dt.date.today().isoformat()
    assert moved["opportunity"]["closed_on"] == today and moved["order"]["amount"] == 120000.0
    quarter = f"{today[:4]}-Q{(int(today[5:7]) - 1) // 3 + 1}"
    run(db_path, "targets", "set", "--rep", "wang", "--period", quarter, "--amount", "240000")
    assert run(db_path, "targets", "set", "--period", quarter, "--amount", "1", ok=False).exit_code == 1
    targets = json.loads(run(db_path, "targets", "list", "--json").stdout)
    assert [(t["rep"], t["amount"], t["sales"], t["attainment"]) for t in targets] == [
        ("wang", 240000.0, 120000.0, 0.5)]
    funnel = json.loads(run(db_path, "funnel", "--period", today[:4], "--json").stdout)
    assert funnel["won"] == 1 and funnel["stages"][0]["reached"] == 1
    history = json.loads(run(db_path, "opportunities", "history", oid, "--json").stdout)
    assert [m["to_stage"] for m in history] == ["negotiation", "won"]
    assert "2 stage moves" in run(db_path, "opportunities", "history", oid).stdout
    assert "阶段变更 2 次" in runner.invoke(app, ["opportunities", "history", oid, "--db", str(db_path)],
                                       env={"CRM_LANG": "zh"}).stdout
    # amounts and shares line up by their last digit, as in a spreadsheet
    table = run(db_path, "pipeline").stdout
    assert re.search(r"│ {2,}10% │ {2,}0\.00 │", table) and "│ 10% " not in table, table
    listed = json.loads(run(db_path, "opportunities", "list", "--stage", "won", "--json").stdout)
    assert [r["id"] for r in listed] == [oid]
    with Crm(db_path) as crm:
        assert crm.orders.get(moved["order"]["id"])["customer_id"] == cid
        assert crm.opportunities.get(oid)["order_id"] == moved["order"]["id"]
    assert "lost reason" in run(db_path, "opportunities", "add", "--help").output.lower()


def test_only_a_manager_changes_targets_and_deals_follow_their_customer() -> None:
    from crm_tui.domain.changes import FORBIDDEN, Actor, ChangeRefused, Place, check_access, check_change

    data = {"rep": "li", "period": "2026-Q4", "amount": 1000.0}
    check_change("targets", "insert", "T1", data)
    with pytest.raises(ChangeRefused) as err:
        check_access(Actor("li", "rep"), "targets", "insert", "T1", data, place=lambda c: None,
                     customer_of=lambda t, r: None)
    assert err.value.code == FORBIDDEN
    check_access(Actor("boss", "manager"), "targets", "insert", "T1", data, place=lambda c: None,
                 customer_of=lambda t, r: None)
    deal = {"customer_id": "C1", "title": "t", "amount": 1.0, "stage": "lead"}
    check_change("opportunities", "insert", "O1", deal)
    with pytest.raises(ChangeRefused) as err:  # another rep's customer
        check_access(Actor("li", "rep"), "opportunities", "insert", "O1", deal,
                     place=lambda c: Place("wang", None), customer_of=lambda t, r: None)
    assert err.value.code == FORBIDDEN


def test_stale_deals_are_overdue_or_quiet(pipe_crm: Crm, db_path: Path) -> None:
    cid = customer(pipe_crm)
    quiet_cid = customer(pipe_crm, "李娜")
    make = pipe_crm.opportunities.create
    overdue = make({"customer_id": cid, "title": "late", "amount": 1, "close_date": "2026-09-14"})
    make({"customer_id": cid, "title": "fine", "amount": 1, "close_date": "2026-09-15"})
    quiet = make({"customer_id": quiet_cid, "title": "quiet", "amount": 1})
    make({"customer_id": cid, "title": "closed", "amount": 1, "stage": "lost", "lost_reason": "x",
          "close_date": "2026-01-01"})
    # the deals were edited today (real time); a quiet one's last edit and visit are long ago
    pipe_crm.conn.execute("UPDATE opportunities SET updated_at = '2026-07-01T00:00:00Z'")
    pipe_crm.conn.commit()
    pipe_crm.visits.create({"customer_id": cid, "visited_at": "2026-09-10 10:00", "channel": "phone",
                            "purpose": "visit"})
    stale = {r["title"]: r["reason"] for r in pipe_crm.pipeline.stale()}
    assert stale == {"late": "overdue", "quiet": "quiet"}
    out = json.loads(run(db_path, "opportunities", "stale", "--today", "2026-09-15", "--json").stdout)
    assert {r["id"] for r in out} == {overdue["id"], quiet["id"]}


def test_seeded_deals_cover_every_stage_with_a_consistent_history(db_path: Path) -> None:
    from crm_tui.api.seed import seed
    from crm_tui.domain.opportunities import StageMove, replay

    with Crm(db_path, rep="wang") as crm:
        report = seed(crm, customers=400, seed=3, today=dt.date(2026, 9, 15))
        assert report.opportunities > 50
        deals = crm.opportunities.find()
        assert {d["stage"] for d in deals} == set(crm.pipeline.settings.ids)
        moves = crm.conn.execute("SELECT opportunity_id, from_stage, to_stage, moved_at FROM opportunity_stages")
        by_deal: dict[str, list[StageMove]] = {}
        for oid, a, b, when in moves:
            by_deal.setdefault(oid, []).append(StageMove(a, b, when))
        for d in deals:
            history = by_deal.get(d["id"], [])
            first = sorted(history, key=lambda m: m.moved_at)[0].from_stage if history else d["stage"]
            assert replay(history, first) == d["stage"]
            assert all(d["created_at"][:10] <= m.moved_at[:10] <= "2026-09-15" for m in history)
            assert (d["closed_on"] is not None) == (d["stage"] in ("won", "lost"))
            assert d["stage"] != "lost" or d["lost_reason"]
        assert {t["rep"] for t in crm.pipeline.targets(period="2026-Q3")} == {None, "wangfang", "liqiang",
                                                                             "zhaomin", "chenjie"}
        # the funnel of the seeded year is alive
        funnel = crm.pipeline.funnel("2025-10-01..2026-09-15")
        assert funnel["won"] and funnel["lost"] and all(s["reached"] for s in funnel["stages"])


def test_reports_name_a_configured_stage_by_its_label_in_the_run_language(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage the catalog does not know (the team's own) is shown in reports by the
    label its config gives, in English or Chinese, not by its id."""
    from crm_tui.i18n import set_language
    from crm_tui.report.markdown import render_markdown

    config = tmp_path / "config.toml"
    config.write_text('[[pipeline.stages]]\nid = "poc"\nen = "Proof of concept"\nzh = "样机验证"\n'
                      'probability = 40\norder = 1\n[[pipeline.stages]]\nid = "won"\nen = "Won"\n'
                      'probability = 100\norder = 2\n[[pipeline.stages]]\nid = "lost"\nen = "Lost"\n'
                      'probability = 0\norder = 3\n', encoding="utf-8")
    monkeypatch.setenv("CRM_CONFIG", str(config))
    with Crm(tmp_path / "c.db", rep="wang") as crm:
        crm.opportunities.create({"customer_id": customer(crm), "title": "t", "amount": 100})
        data = crm.analytics.report_data(str(dt.date.today().year))
    try:
        for lang, shown in (("en", "Proof of concept"), ("zh", "样机验证")):
            set_language(lang)
            text = render_markdown(data)
            assert f"| {shown} |" in text
            assert "| poc |" not in text
    finally:
        set_language("en")
