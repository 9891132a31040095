"""Customer intelligence use cases: classification with manual overrides, RFM and its
explanation, value, satisfaction surveys, loyalty, contact cadence, win-back,
greetings, complaint analytics, KPIs, and the data of reports and the dashboard.

Rules live in crm_tui.domain.analytics, SQL in crm_tui.db.analytics; this module
joins them. `now` is injectable so tests see a fixed day.

    crm.analytics.classify_customers()          # the whole book, stored where it changed
    crm.analytics.rfm_scores()                  # RfmModel with .scores
    crm.analytics.kpis("2026-Q3", rep="wang")
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from crm_tui.api.classes import book_facts, classify_facts, ensure_classes, store_classes
from crm_tui.api.opportunities import Pipeline
from crm_tui.api.records import Record, Records
from crm_tui.db import analytics as sql
from crm_tui.db.connection import transaction
from crm_tui.db.records import Filter
from crm_tui.domain.analytics import rfm as rfm_rules
from crm_tui.domain.analytics.classification import Classification
from crm_tui.domain.analytics.complaints import complaint_analytics, sla_outcome
from crm_tui.domain.analytics.facts import CustomerFacts
from crm_tui.domain.analytics.kpi import RepKpi, measured_period, overall_kpis
from crm_tui.domain.analytics.loyalty import loyalty
from crm_tui.domain.analytics.period import Period, parse_period, period_or_month
from crm_tui.domain.analytics.reminders import (
    CadenceItem,
    Greeting,
    WinBackItem,
    contact_cadence,
    greetings,
    occasion_label,
    occasion_names,
    win_back_queue,
)
from crm_tui.domain.analytics.satisfaction import satisfaction, summarize, verdict
from crm_tui.domain.analytics.settings import AnalyticsSettings
from crm_tui.domain.analytics.value import customer_value
from crm_tui.domain.complaints import SlaPolicy
from crm_tui.domain.entities import CLASSIFICATION_OVERRIDE, SURVEY
from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import t

if TYPE_CHECKING:
    from crm_tui.api import Crm

AT_RISK_SEGMENTS = ("Can't Lose Them", "At Risk", "About to Sleep", "Need Attention")


class Analytics:
    """The analytics use cases over one `Crm`. Settings are the `[analytics]` and
    `[sla]` sections of its config unless given; the clock is the Crm's unless `now`
    is given."""

    def __init__(self, crm: Crm, settings: AnalyticsSettings | None = None,
                 now: Callable[[], dt.datetime] | None = None, policy: SlaPolicy | None = None):
        self.crm = crm
        self.settings = settings or crm.config.analytics
        self.policy = policy or crm.config.sla
        self._now = now
        self.surveys = Records(crm.conn, SURVEY, crm.lock)
        self.overrides = Records(crm.conn, CLASSIFICATION_OVERRIDE, crm.lock)
        self.pipeline = Pipeline(crm, now=self.now)  # pipeline figures on this clock

    # -- settings and clock ---------------------------------------------------------

    def now(self) -> dt.datetime:
        return (self._now or self.crm.now)()

    def today(self) -> dt.date:
        return self.now().date()

    def facts(self, today: dt.date | None = None, *, rep: str | None = None,
              customer_id: str | None = None) -> list[CustomerFacts]:
        """Every customer's aggregates as of `today`, with their stored classes
        brought up to date first (the reminders read those)."""
        self.ensure_classes()
        return self._facts(today, rep=rep, customer_id=customer_id)

    def _facts(self, today: dt.date | None = None, *, rep: str | None = None,
               customer_id: str | None = None) -> list[CustomerFacts]:
        return book_facts(self.crm, self.settings, today or self.today(), rep=rep, customer_id=customer_id)

    # -- classification -------------------------------------------------------------
    #
    # Where classes live (docs/analytics.md): a customer's status, lifecycle stage and
    # tier are computed from synced data (orders, contacts, overrides) and stored on
    # each laptop in the customers' own columns, which are never captured nor synced,
    # like the pinyin key (crm_tui.api.classes). So keeping them right costs no sync
    # traffic and no conflicts; overrides are records of their own and sync. Any read
    # that shows or filters on classes (customer lists and counts, the reminders, the
    # customer screen) first ensures they are current for today and the data, so what
    # `crm classify` computes is what they show.

    def ensure_classes(self) -> int:
        """Bring the stored classes up to date for today and the data as it is now;
        cheap when nothing moved. Returns how many customers' classes changed."""
        return ensure_classes(self.crm, self.settings, self.today())

    def _classify(self, facts: list[CustomerFacts]) -> list[Classification]:
        return classify_facts(self.crm, self.settings, facts)

    def classify_customers(self, *, today: dt.date | None = None, store: bool = True,
                           facts: list[CustomerFacts] | None = None) -> list[Classification]:
        """Classify customers: every customer on this laptop, or those of `facts`
        (tiers rank the customers given: pass the whole book). With `store`, the
        whole book's classes are written where they changed (local columns, no sync
        traffic)."""
        classes = self._classify(facts if facts is not None else self._facts(today))
        if store and facts is None:
            store_classes(self.crm, classes, today or self.today(), self.settings)
        return classes

    def classes(self, *, today: dt.date | None = None, rep: str | None = None) -> list[Classification]:
        """The classes as of `today`, ranked on the whole book (tiers are a share of
        everyone's value), then those of `rep`'s customers when given."""
        classes = self._classify(self._facts(today))
        return [c for c in classes if rep is None or c.facts.owner == rep]

    def reclassify(self, *, today: dt.date | None = None, dry_run: bool = False) -> tuple[list[Classification], int]:
        """Classify the whole book and store it; also says how many customers'
        stored classes changed (or would, with `dry_run`)."""
        classes = self._classify(self._facts(today))
        return classes, store_classes(self.crm, classes, today or self.today(), self.settings, dry_run=dry_run)

    def set_override(self, customer_id: str, *, reason: str, status: str | None = None,
                     lifecycle_stage: str | None = None, tier: str | None = None) -> Record:
        """Fix a customer's classification by hand; recomputation keeps it. The
        customer's stored values change at once, in the same transaction."""
        if not (reason or "").strip():
            raise ValidationError.one("reason", t("reason.override_reason_required"))
        if not (status or lifecycle_stage or tier):
            raise ValidationError.one("status", t("reason.override_needs_class"))
        with self.crm.lock:
            customer = self.crm.customers.get(customer_id)
            cid = customer["id"]
            given = {k: v for k, v in (("status", status), ("lifecycle_stage", lifecycle_stage),
                                       ("tier", tier)) if v}
            values = {"customer_id": cid, "reason": reason, **given}  # other fields stay as they were
            with transaction(self.crm.conn):
                if sql.overrides(self.crm.conn).get(cid) is None:
                    record = self.overrides.prepare(values, owner=customer["owner"])
                    record["id"] = cid  # one override per customer, merged field by field
                    self.overrides.insert_prepared([record])
                else:
                    self.overrides.update(cid, values)
                override = self.overrides.get(cid)
            self.ensure_classes()  # the customer's stored classes show it at once
            return override

    def clear_override(self, customer_id: str) -> None:
        """Drop the manual classification; the next `classify_customers` recomputes."""
        with self.crm.lock:
            cid = self.crm.customers.get(customer_id)["id"]
            with transaction(self.crm.conn):
                self.overrides.delete(cid)
            self.ensure_classes()

    # -- RFM and value --------------------------------------------------------------

    def rfm_scores(self, *, today: dt.date | None = None, facts: list[CustomerFacts] | None = None,
                   rep: str | None = None) -> rfm_rules.RfmModel:
        facts = facts if facts is not None else self.facts(today, rep=rep)
        return rfm_rules.rfm_scores(facts, self.settings.rfm_weights)

    def explain_rfm(self, customer_id: str, *, today: dt.date | None = None) -> dict[str, Any]:
        cid = self.crm.customers.get(customer_id)["id"]
        model = self.rfm_scores(today=today)
        for score in model.scores:
            if score.customer_id == cid:
                return rfm_rules.explain(model, score, self.settings.rfm_window_days)
        raise ValidationError.one("customer", t("reason.no_rfm", id=cid))

    def customer_value(self, customer_id: str, *, today: dt.date | None = None) -> dict[str, Any]:
        cid = self.crm.customers.get(customer_id)["id"]
        facts = self.facts(today, customer_id=cid)
        classes = self.classify_customers(today=today, store=False, facts=facts)
        v = customer_value(facts[0], self.settings, churned=classes[0].computed["status"] == "churned")
        return {"id": cid, "historical": round(v.historical, 2), "annual": round(v.annual, 2),
                "future": round(v.future, 2), "clv": round(v.clv, 2)}

    def loyalty(self, *, today: dt.date | None = None, rep: str | None = None,
                facts: list[CustomerFacts] | None = None) -> dict[str, Any]:
        result = loyalty(facts if facts is not None else self.facts(today, rep=rep))
        return {"buyers": result.buyers, "repeat_buyers": result.repeat_buyers,
                "repeat_purchase_rate": result.repeat_purchase_rate,
                "mean_interval_days": result.mean_interval_days}

    # -- satisfaction ---------------------------------------------------------------

    def add_survey(self, data: Mapping[str, Any]) -> Record:
        """Record a survey of expected (a) and perceived (b) value; a must be > 0."""
        values = dict(data)
        if not values.get("surveyed_at"):
            values["surveyed_at"] = self.today().isoformat()
        checked = self.surveys.prepare(values)  # validation errors name the field
        satisfaction(checked["expected"], checked["perceived"])  # a > 0, named if not
        with self.crm.lock:
            # the survey belongs to the customer's rep, like the customer's other records
            owner = values.pop("owner", None) or self.crm.customers.get(checked["customer_id"])["owner"] or None
            return self._with_c(self.surveys.create(values, owner=owner))

    def list_surveys(self, customer_id: str | None = None) -> list[Record]:
        filters = []
        if customer_id:
            filters.append(Filter("customer_id", "=", self.crm.customers.get(customer_id)["id"]))
        return [self._with_c(r) for r in self.surveys.find(filters)]

    @staticmethod
    def _with_c(record: Record) -> Record:
        c = satisfaction(record["expected"], record["perceived"]) if record["expected"] else None
        return {**record, "c": None if c is None else round(c, 4), "verdict": verdict(c)}

    def satisfaction(self, customer_id: str | None = None) -> dict[str, Any]:
        """C = b / a per survey, the mean per customer and overall."""
        return summarize(self.list_surveys(customer_id))

    # -- reminders ------------------------------------------------------------------

    def contact_cadence(self, *, today: dt.date | None = None, rep: str | None = None,
                        state: str | None = None) -> list[CadenceItem]:
        day = today or self.today()
        items = contact_cadence(self.facts(day, rep=rep), self.settings, day)
        return [i for i in items if state is None or i.state == state]

    def win_back_queue(self, *, today: dt.date | None = None, rep: str | None = None) -> list[WinBackItem]:
        facts = self.facts(today, rep=rep)
        classes = {c.customer_id: c for c in self.classes(today=today)}  # tiers rank the whole book
        return win_back_queue(facts, classes, self.settings)

    def greetings(self, *, today: dt.date | None = None, holiday: str | None = None,
                  rep: str | None = None, facts: list[CustomerFacts] | None = None) -> list[Greeting]:
        day = today or self.today()
        s = self.settings
        occasions = [h.name for h in s.holidays] + ["birthday"]
        if holiday and not any(holiday.strip().lower() in occasion_names(name) for name in occasions):
            names = t("cli.list_sep").join(occasion_label(name) for name in occasions)
            raise ValidationError.one("holiday", t("reason.not_a_holiday", holiday=repr(holiday), names=names))
        with self.crm.lock:
            sent = sql.sent_greeting_notes(self.crm.conn, (day - dt.timedelta(days=s.greeting_days)).isoformat())
        facts = facts if facts is not None else self.facts(day, rep=rep)
        churned = {c.customer_id for c in self.classify_customers(store=False, facts=facts) if c.status == "churned"}
        return greetings(facts, day, s, holiday=holiday, sent=sent, churned=churned)

    def mark_greetings_sent(self, items: Iterable[Greeting], *, channel: str = "wechat") -> list[Record]:
        """Log one greeting visit per item, all in one transaction through the visits
        API; the note marks the occasion so it leaves the greetings list."""
        stamp = self.now().replace(microsecond=0).isoformat()
        with self.crm.lock:
            visits = [self.crm.visits.prepare({
                "customer_id": g.customer_id, "visited_at": stamp, "channel": channel,
                "purpose": g.purpose, "notes": g.note, "outcome": "sent"}) for g in items]
            with transaction(self.crm.conn):
                self.crm.visits.insert_prepared(visits)
        return visits

    # -- complaints and KPIs --------------------------------------------------------

    def complaint_analytics(self, period: str | Period | None = None, *, rep: str | None = None, region: str | None = None,
                            product: str | None = None) -> dict[str, Any]:
        p = period_or_month(period, self.today())
        with self.crm.lock:
            rows = sql.complaints_between(self.crm.conn, p.start_text, p.end_text, rep=rep, region=region,
                                          product=product)
        result = complaint_analytics(rows, self.settings, self.now(), self.policy)
        return {"period": p.label, "region": region, "product": product, **result}

    def product_sales(self, period: str | Period | None = None, *, rep: str | None = None, top: int = 5) -> dict[str, Any]:
        """Sales by product and category, top products per region and per rep, and
        the returns rate, of the orders dated in the period (crm_tui.domain.analytics.products)."""
        from crm_tui.domain.analytics.products import product_sales

        p = period_or_month(period, self.today())
        with self.crm.lock:
            rows = sql.product_sales(self.crm.conn, p.start_text, p.end_text, rep=rep)
            orders = sql.order_counts(self.crm.conn, p.start_text, p.end_text, rep=rep)
        return {"period": p.label, "rep": rep, **product_sales(rows, orders, top=top)}

    def kpis(self, period: str | Period | None = None, *, rep: str | None = None) -> dict[str, Any]:
        """The KPIs of `period` (default: this month), per rep and overall. A period
        not over yet is measured up to today and compared with as many days of the
        previous one, with no retention nor churn (crm_tui.domain.analytics.kpi.
        measured_period): `so_far` says so, `as_of` to which day."""
        now = self.now()
        m = measured_period(period_or_month(period, now.date()), now.date())
        p, prev, upto = m.period, m.previous, m.measured
        with self.crm.lock:
            counts = sql.period_counts(self.crm.conn, p.start_text, upto.end_text, prev.start_text,
                                       prev_end=m.compared.end_text, rep=rep)
            per_rep = sql.rep_counts(self.crm.conn, p.start_text, upto.end_text, now.date(),
                                     follow_up_days=self.settings.satisfaction_follow_up_days, rep=rep)
            handled = sql.complaints_handled_between(self.crm.conn, p.start_text, upto.end_text, rep=rep)
        for c in handled:
            entry = per_rep.setdefault(c["rep"], {})
            entry["complaints_handled"] = entry.get("complaints_handled", 0) + 1
            outcome = sla_outcome(c, self.policy, now)
            if outcome is not None:
                entry["sla_decided"] = entry.get("sla_decided", 0) + 1
                entry["sla_kept"] = entry.get("sla_kept", 0) + (outcome == "kept")
        reps = [RepKpi(name, sales=float(values.get("sales", 0.0)),
                       **{k: int(v) for k, v in values.items() if k != "sales"})
                for name, values in sorted(per_rep.items())]
        return {"period": p.label, "start": p.start.isoformat(), "end": p.end.isoformat(),
                "so_far": not m.over, "as_of": upto.end.isoformat(), "previous": m.compared.label,
                "previous_period": prev.label, "rep": rep, "overall": overall_kpis(counts, over=m.over).as_dict(),
                "reps": [r.as_dict() for r in reps], "attainment": self.pipeline.attainment(p, rep=rep)}

    # -- report and dashboard data ----------------------------------------------------

    def report_data(self, period: str | Period | None = None, *, rep: str | None = None, top: int = 10) -> dict[str, Any]:
        """Everything a report shows, as plain data: KPIs, sales by month, segments,
        tiers, top and at-risk customers, win-back and complaint analysis. Scores and
        classes are as of the period's last day (or today, if that is earlier)."""
        p = period_or_month(period, self.today())
        as_of = min(p.end, self.today())
        facts = self.facts(as_of, rep=rep)
        model = self.rfm_scores(facts=facts)
        classes = self.classes(today=as_of, rep=rep)  # tiers ranked on the whole book, as classify does
        names = {f.id: f.name for f in facts}
        at_risk = sorted((s for s in model.scores if s.segment in AT_RISK_SEGMENTS),
                         key=lambda s: (-s.monetary, s.customer_id))[:top]
        class_of = {c.customer_id: c for c in classes}
        win_back = win_back_queue(facts, class_of, self.settings)[:top]
        with self.crm.lock:
            monthly = sql.monthly_sales(self.crm.conn, p.start_text, p.end_text, rep=rep)
            top_rows = sql.top_customers(self.crm.conn, p.start_text, p.end_text, rep=rep, limit=top)
        return {
            "period": p.label, "start": p.start.isoformat(), "end": p.end.isoformat(), "rep": rep,
            "as_of": as_of.isoformat(),
            "kpis": self.kpis(p, rep=rep),
            "loyalty": self.loyalty(facts=facts),
            "monthly_sales": [{"month": m, "sales": round(monthly.get(m, 0.0), 2)} for m in p.months()],
            "segments": rfm_rules.segment_sizes(model.scores),
            "tiers": {t: sum(1 for c in classes if c.tier == t) for t in ("A", "B", "C")},
            "statuses": dict(sorted(Counter(c.status for c in classes).items())),
            "core_customers": sum(1 for c in classes if c.core),
            "top_customers": [{**r, "sales": round(r["sales"], 2)} for r in top_rows],
            "at_risk": [{"id": s.customer_id, "name": names.get(s.customer_id, ""), "segment": s.segment,
                         "rfm": f"{s.r}{s.f}{s.m}", "recency_days": s.recency_days,
                         "monetary": round(s.monetary, 2)} for s in at_risk],
            "win_back": [w.as_dict() for w in win_back],
            "complaints": self.complaint_analytics(p, rep=rep),
            "products": self.product_sales(p, rep=rep, top=min(top, 5)),
            "pipeline": {"open": self.pipeline.pipeline(rep=rep), "forecast": self.pipeline.forecast(p, rep=rep),
                         "funnel": self.pipeline.funnel(p, rep=rep),
                         "closed": self.pipeline.closed_deals(p, rep=rep),
                         # The configured stages' own labels, for stages the catalog lacks.
                         "stage_labels": {st.id: {"en": st.en, "zh": st.zh}
                                          for st in self.pipeline.settings.stages}},
        }

    def dashboard_data(self, *, rep: str | None = None, months: int = 12) -> dict[str, Any]:
        """The dashboard's charts: sales of the last `months` months, RFM segment
        sizes, complaint types of the last 90 days, and today's agenda counts."""
        today = self.today()
        first = dt.date(today.year, today.month, 1)
        for _ in range(months - 1):
            first = (first - dt.timedelta(days=1)).replace(day=1)
        trend = Period(first, today, f"{first}..{today}")
        facts = self.facts(today, rep=rep)
        model = self.rfm_scores(facts=facts)
        with self.crm.lock:
            monthly = sql.monthly_sales(self.crm.conn, trend.start_text, trend.end_text, rep=rep)
            agenda = sql.agenda_counts(self.crm.conn, today, follow_up_days=self.settings.satisfaction_follow_up_days,
                                       rep=rep)
        recent = Period(today - dt.timedelta(days=89), today, "last 90 days")
        complaints = self.complaint_analytics(recent, rep=rep)
        cadence = Counter(i.state for i in contact_cadence(facts, self.settings, today))
        quarter = parse_period(f"{today.year}-Q{(today.month - 1) // 3 + 1}")
        return {
            "today": today.isoformat(),
            "monthly_sales": [(m, round(monthly.get(m, 0.0), 2)) for m in trend.months()],
            "segments": rfm_rules.segment_sizes(model.scores),
            "complaint_types": [(r["key"], r["count"]) for r in complaints["by_type"]],
            "agenda": {**agenda, "contacts_overdue": cadence.get("overdue", 0),
                       "contacts_due": cadence.get("due", 0),
                       "greetings": len(self.greetings(today=today, rep=rep, facts=facts)),
                       "stale_opportunities": len(self.pipeline.stale(rep=rep))},
            # this quarter's funnel and forecast against the target
            "quarter": quarter.label,
            "funnel": [(s["stage"], s["reached"]) for s in self.pipeline.funnel(quarter, rep=rep)["stages"]],
            "forecast": self.pipeline.forecast(quarter, rep=rep),
        }
