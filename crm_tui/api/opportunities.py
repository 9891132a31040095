"""Opportunity use cases: create, edit and move deals through their stages (each move
recorded, a win optionally made into its order, in one transaction), and the
pipeline's figures: the board, weighted pipeline, forecast, funnel, targets and
attainment, stale deals. Rules live in crm_tui.domain.opportunities and
crm_tui.domain.analytics.pipeline, SQL in crm_tui.db.pipeline; this module joins them.

    crm.opportunities.create({"customer_id": cid, "title": "ERP", "amount": 50000, "stage": "lead"})
    crm.pipeline.move(oid, "lost", lost_reason="price")
    crm.pipeline.forecast("2026-Q3", rep="wang")
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from crm_tui.api.records import Record, Records
from crm_tui.db import pipeline as sql
from crm_tui.db import records as records_sql
from crm_tui.db.connection import transaction
from crm_tui.domain.entities import OPPORTUNITY, STAGE_CHANGE, TARGET
from crm_tui.domain.opportunities import WON, PipelineSettings, StageMove, settle
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import language, t

if TYPE_CHECKING:
    from crm_tui.api import Crm
    from crm_tui.domain.analytics.period import Period

# The figures' rules (crm_tui.domain.analytics.pipeline) are imported where used: a
# command that only lists or writes records does not load the analytics.


class OpportunityRecords(Records):
    """The records of opportunities, with their rules on every write path (API, CLI,
    forms, import, bulk edit): a known stage, the stage's default probability, the
    won/lost date, the lost reason; a stage change also writes its stage move."""

    def __init__(self, crm: Crm):
        super().__init__(crm.conn, OPPORTUNITY, crm.lock)
        self.crm = crm
        self.moves = Records(crm.conn, STAGE_CHANGE, crm.lock)

    def prepare(self, data: Mapping[str, Any], *, owner: str | None = None, now: str | None = None,
                record_id: str | None = None, memo: dict[str, dict[str, Any]] | None = None) -> Record:
        pipe = self.crm.pipeline
        if not str(data.get("stage") or "").strip():
            data = {**data, "stage": pipe.settings.open_stages[0].id}  # a new deal starts at the first stage
        record = super().prepare(data, owner=owner, now=now, record_id=record_id, memo=memo)
        record.update(settle(None, record, pipe.settings, pipe.today()))
        return record

    def check_update(self, current: Record, values: Mapping[str, Any], *, workflow: bool = False) -> dict[str, Any]:
        """The changed fields with what follows from them (the stage's default
        probability, the won/lost date; see `settle`), after the shared checks."""
        pipe = self.crm.pipeline
        return super().check_update(current, settle(current, values, pipe.settings, pipe.today()),
                                    workflow=workflow)

    def apply_update(self, current: Record, values: Mapping[str, Any], *, workflow: bool = False) -> None:
        """Write the update; a stage change also writes its stage move, in the same
        transaction (the caller's)."""
        changed = self.check_update(current, values, workflow=workflow)
        super().apply_update(current, changed, workflow=workflow)
        if "stage" in changed:
            move = self.moves.prepare({
                "opportunity_id": current["id"], "customer_id": current["customer_id"],
                "from_stage": current["stage"], "to_stage": changed["stage"],
                "moved_at": self.crm.pipeline.now().isoformat(), "rep": records_sql.local_rep(self.conn)})
            self.moves.insert_prepared([move])


    def products_of(self, deal: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The catalogue products a deal is about, in its order: id, SKU and name (a
        product deleted since is left out)."""
        ids = [i for i in (deal.get("product_ids") or "").split(",") if i]
        with self.crm.lock:
            names = records_sql.product_names(self.conn, ids)
        return [{"id": i, "sku": names[i][0], "name": names[i][1]} for i in ids if i in names]

    def with_product_skus(self, deals: list[Record]) -> list[Record]:
        """Each deal with `product_skus`: its products by SKU, comma separated, as a form
        shows and takes them (one query for all)."""
        ids = {i for d in deals for i in (d.get("product_ids") or "").split(",") if i}
        with self.crm.lock:
            names = records_sql.product_names(self.conn, ids) if ids else {}
        for d in deals:
            d["product_skus"] = ",".join(names[i][0] if i in names else i
                                         for i in (d.get("product_ids") or "").split(",") if i) or None
        return deals


def target_id(rep: str | None, period: str) -> str:
    """The one id of a rep's (or the team's) target for a period, the same on every
    laptop, so targets set twice merge instead of doubling."""
    digest = hashlib.sha256(f"{period}\x00{rep or ''}".encode()).hexdigest()
    return "T" + digest[:25].upper()


class Pipeline:
    """The pipeline use cases of one `Crm`. Settings are the `[pipeline]` section of
    its config unless given; the clock is the Crm's unless `now` is given."""

    def __init__(self, crm: Crm, settings: PipelineSettings | None = None,
                 now: Callable[[], dt.datetime] | None = None):
        self.crm = crm
        self.settings = settings or crm.config.pipeline
        self._now = now
        self.targets_api = Records(crm.conn, TARGET, crm.lock)

    def now(self) -> dt.datetime:
        return (self._now or self.crm.now)()

    def today(self) -> dt.date:
        return self.now().date()

    # -- moving deals -------------------------------------------------------------------

    def move(self, opportunity_id: str, stage: str, *, lost_reason: str | None = None,
             create_order: bool = False) -> tuple[Record, Record | None]:
        """Move a deal to `stage` (a lost one needs `lost_reason`). Won with
        `create_order`, its order is made (dated the win, for the deal's amount) and
        linked, so attainment counts the sale once. One transaction."""
        crm = self.crm
        stage = str(stage or "").strip()
        self.settings.stage(stage)
        if create_order and stage != WON:
            raise ValidationError.one("create_order", t("reason.order_only_when_won"))
        changes: dict[str, Any] = {"stage": stage}
        if lost_reason is not None and lost_reason.strip():
            changes["lost_reason"] = lost_reason
        with crm.lock, transaction(crm.conn):
            if create_order:  # winning it again must not sell it twice
                self._refuse_second_order(crm.opportunities.get(opportunity_id))
            deal = crm.opportunities.update(opportunity_id, changes)
            order = None
            if create_order:
                order = self._order_for(deal)
                deal = crm.opportunities.update(deal["id"], {"order_id": order["id"]})
        return deal, order

    def create_order(self, opportunity_id: str) -> tuple[Record, Record]:
        """Make the order of a won deal that has none yet."""
        crm = self.crm
        with crm.lock, transaction(crm.conn):
            deal = crm.opportunities.get(opportunity_id)
            if deal["stage"] != WON:
                raise ValidationError.one("stage", t("reason.order_only_when_won"))
            self._refuse_second_order(deal)
            order = self._order_for(deal)
            deal = crm.opportunities.update(deal["id"], {"order_id": order["id"]})
        return deal, order

    def _refuse_second_order(self, deal: Record) -> None:
        """A deal has one order: its sale counts once in every sales figure."""
        if deal.get("order_id") and records_sql.exists(self.crm.conn, "orders", deal["order_id"]):
            raise ValidationError.one("order_id", t("reason.deal_has_order", order=deal["order_id"]))

    def _order_for(self, deal: Record) -> Record:
        return self.crm.orders.create({
            "customer_id": deal["customer_id"], "ordered_at": deal.get("closed_on") or self.today().isoformat(),
            "product": deal["title"][:200], "quantity": 1, "amount": deal["amount"],
            "notes": f"opportunity {deal['id']}"})

    def step(self, opportunity_id: str, by: int) -> Record:
        """Move a deal to the next (by=1) or previous (by=-1) open stage."""
        deal = self.crm.opportunities.get(opportunity_id)
        target = self.settings.step(deal["stage"], by)
        if target is None:
            raise ValidationError.one("stage", t("reason.record.last_stage" if by > 0 else "reason.record.first_stage",
                                                 stage=self.settings.stage(deal["stage"]).label(language())))
        return self.move(deal["id"], target)[0]

    def history(self, opportunity_id: str) -> list[dict[str, Any]]:
        """The deal's stage moves, oldest first: when, from, to, by whom."""
        deal = self.crm.opportunities.get(opportunity_id)
        with self.crm.lock:
            return sql.moves_of(self.crm.conn, deal["id"])

    # -- figures ------------------------------------------------------------------------

    def pipeline(self, *, rep: str | None = None, search: str | None = None) -> dict[str, Any]:
        """Per open stage: count, amount, weighted amount; and the totals. With
        `search`, of the deals `board` shows for it (the board's figures and cards)."""
        from crm_tui.domain.analytics import pipeline as rules
        with self.crm.lock:
            rows = sql.open_totals(self.crm.conn, rep=rep, search=(search or "").strip() or None)
        totals = [rules.StageTotal(stage, count, amount, own, default) for stage, _, count, amount, own, default in rows]
        return {"rep": rep, **rules.pipeline(totals, self.settings)}

    def forecast(self, period: str | Period | None = None, *, rep: str | None = None) -> dict[str, Any]:
        """Won so far and the weighted open pipeline expected to close, per month of
        the period and in total, with the target and attainment when one is set."""
        from crm_tui.domain.analytics import pipeline as rules
        p = _period(period, self.today())
        with self.crm.lock:
            won = sql.won_by_month(self.crm.conn, p.start_text, p.end_text, rep=rep)
            rows = sql.open_totals(self.crm.conn, rep=rep, close_from=p.start_text, close_before=p.end_text)
        totals = [rules.StageTotal(stage, count, amount, own, default, month)
                  for stage, month, count, amount, own, default in rows]
        att = self.attainment(p, rep=rep)
        scope = att["team"] if rep is None else next((r for r in att["reps"] if r["rep"] == rep), None)
        result = rules.forecast(p.months(), won, totals, self.settings,
                                target=scope["target"] if scope else None,
                                sales=scope["sales"] if scope else 0.0)
        return {"period": p.label, "start": p.start.isoformat(), "end": p.end.isoformat(), "rep": rep, **result}

    def funnel(self, period: str | Period | None = None, *, rep: str | None = None) -> dict[str, Any]:
        """The funnel of the deals created in the period (docs/pipeline.md)."""
        from crm_tui.domain.analytics import pipeline as rules
        p = _period(period, self.today())
        with self.crm.lock:
            deals, moves = sql.funnel_rows(self.crm.conn, p.start_text, p.end_text, rep=rep)
        by_deal: dict[str, list[StageMove]] = {}
        for m in moves:
            by_deal.setdefault(m["opportunity_id"], []).append(
                StageMove(m["from_stage"], m["to_stage"], m["moved_at"], m["rep"] or ""))
        result = rules.funnel((rules.Deal(d["id"], d["stage"], d["amount"], _local(d["created_at"]), d["closed_on"],
                                          tuple(by_deal.get(d["id"], ()))) for d in deals), self.settings)
        return {"period": p.label, "start": p.start.isoformat(), "end": p.end.isoformat(), "rep": rep, **result}

    def closed_deals(self, period: str | Period, *, rep: str | None = None) -> list[dict[str, Any]]:
        p = _period(period)
        with self.crm.lock:
            return sql.closed_between(self.crm.conn, p.start_text, p.end_text, rep=rep)

    # -- targets and attainment -----------------------------------------------------------

    def set_target(self, period: str, amount: Any, *, rep: str | None = None) -> Record:
        """Set the target of `rep` (or of the team when rep is None) for a period."""
        label = _period(period).label
        rep_name = (rep or "").strip() or None
        values = {"rep": rep_name, "period": label, "amount": amount}
        tid = target_id(rep_name, label)
        with self.crm.lock, transaction(self.crm.conn):
            if records_sql.exists(self.crm.conn, "targets", tid):
                return self.targets_api.update(tid, values)
            record = self.targets_api.prepare(values)
            record["id"] = tid
            self.targets_api.insert_prepared([record])
            return self.targets_api.get(tid)

    def targets(self, *, period: str | None = None, rep: str | None = None) -> list[Record]:
        label = _period(period).label if period else None
        with self.crm.lock:
            return sql.targets(self.crm.conn, period=label, rep=rep)

    def attainment(self, period: str | Period, *, rep: str | None = None) -> dict[str, Any]:
        """Sales in the period (orders, plus won deals with no order yet) against the
        target, per rep and for the team."""
        from crm_tui.domain.analytics import pipeline as rules
        p = _period(period)
        with self.crm.lock:
            sales = sql.sales_by_rep(self.crm.conn, p.start_text, p.end_text, rep=rep)
            targets = {t["rep"] or "": t["amount"] for t in sql.targets(self.crm.conn, period=p.label)}
        names = sorted({*sales, *(r for r in targets if r)} if rep is None else {rep})
        reps = [{"rep": name, "sales": round(sales.get(name, 0.0), 2), "target": targets.get(name),
                 "attainment": rules.attainment(sales.get(name, 0.0), targets.get(name))} for name in names]
        team_sales = sum(sales.values())
        team_target = targets.get("") if rep is None else targets.get(rep)
        team = {"sales": round(team_sales, 2), "target": team_target,
                "attainment": rules.attainment(team_sales, team_target)}
        return {"period": p.label, "currency": self.settings.currency, "team": team, "reps": reps}

    # -- the board and the agenda --------------------------------------------------------

    def board(self, *, rep: str | None = None, search: str | None = None,
              limit_per_stage: int = 200) -> dict[str, list[dict[str, Any]]]:
        """Open deals per open stage, in pipeline order, each with `overdue` when its
        expected close has passed."""
        today = self.today().isoformat()
        with self.crm.lock:
            rows = sql.open_cards(self.crm.conn, [s.id for s in self.settings.open_stages], rep=rep,
                                  search=(search or "").strip() or None, limit_per_stage=limit_per_stage)
        board: dict[str, list[dict[str, Any]]] = {s.id: [] for s in self.settings.open_stages}
        for row in rows:
            row["overdue"] = bool(row["close_date"] and row["close_date"] < today)
            board.setdefault(row["stage"], []).append(row)
        return board

    def stale(self, *, rep: str | None = None) -> list[dict[str, Any]]:
        """Open deals past their expected close, or without activity (a visit to the
        customer, an edit of the deal) for `stale_days`; each with its `reason`."""
        from crm_tui.domain.analytics import pipeline as rules
        today = self.today()
        quiet = (today - dt.timedelta(days=self.settings.stale_days)).isoformat()
        with self.crm.lock:
            rows = sql.open_with_activity(self.crm.conn, rep=rep)
        out = []
        for row in rows:
            reason = rules.stale_reason(row, today, quiet)
            if reason:
                out.append({**row, "reason": reason})
        return sorted(out, key=lambda r: (r["close_date"] or "9999", r["id"]))


def _period(period: str | Period | None, today: dt.date | None = None) -> Period:
    """`period` as a Period; none given, the month of `today` (period_or_month, the
    rule of every report), imported here to keep it off the CLI's start."""
    from crm_tui.domain.analytics.period import period_or_month

    return period_or_month(period, today or dt.date.today())


def _local(stamp: str) -> str:
    """A stored UTC creation stamp as naive local time, like stage move times."""
    try:
        when = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return when.astimezone().replace(tzinfo=None).isoformat() if when.tzinfo else when.isoformat()
