"""Who to contact: the contact cadence by tier (ideal and maximum days since the last
contact), the win-back queue of silent valuable customers, and holiday and birthday
greetings from a configurable calendar (Spring Festival and Mid-Autumn Festival come
from the Chinese lunar calendar through the `lunardate` library). Pure: no IO."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from lunardate import LunarDate

from crm_tui.domain.analytics.classification import Classification
from crm_tui.domain.analytics.facts import CustomerFacts
from crm_tui.domain.analytics.settings import AnalyticsSettings, Cadence, Holiday
from crm_tui.i18n import LANGUAGES, has, language, t_in

# -- contact cadence ----------------------------------------------------------------


@dataclass(frozen=True)
class CadenceItem:
    customer_id: str
    name: str
    tier: str
    days_since_contact: int | None  # None: never contacted
    ideal: int
    maximum: int
    state: str  # ok | due (yellow) | overdue (red)

    def as_dict(self) -> dict:
        return {"id": self.customer_id, "name": self.name, "tier": self.tier,
                "days_since_contact": self.days_since_contact, "ideal": self.ideal,
                "maximum": self.maximum, "state": self.state}


def cadence_state(days: int | None, cadence: Cadence) -> str:
    if days is None or days > cadence.maximum:
        return "overdue"
    return "due" if days > cadence.ideal else "ok"


def _days_since(day: str | None, today: dt.date) -> int | None:
    try:
        return (today - dt.date.fromisoformat(day)).days if day else None
    except ValueError:
        return None


def contact_cadence(facts: Iterable[CustomerFacts], settings: AnalyticsSettings,
                    today: dt.date) -> list[CadenceItem]:
    """Every customer's place in their tier's cadence; an untiered customer follows
    tier C. A never-contacted customer counts from the day the record was made."""
    out = []
    for f in facts:
        tier = f.tier if f.tier is not None and f.tier in settings.cadence else "C"
        cad = settings.cadence.get(tier) or Cadence(60, 120)
        days = f.days_since_contact if f.days_since_contact is not None else _days_since(f.created, today)
        days = None if days is None else max(days, 0)  # a record made "after" an injected today
        out.append(CadenceItem(f.id, f.name, tier, days, cad.ideal, cad.maximum, cadence_state(days, cad)))
    order = {"overdue": 0, "due": 1, "ok": 2}
    out.sort(key=lambda c: (order[c.state], -(c.days_since_contact or 0), c.customer_id))
    return out


# -- win-back -----------------------------------------------------------------------


@dataclass(frozen=True)
class WinBackItem:
    customer_id: str
    name: str
    tier: str
    status: str
    days_since_last_order: int
    value: float
    reason: str

    def as_dict(self) -> dict:
        return {"id": self.customer_id, "name": self.name, "tier": self.tier, "status": self.status,
                "days_since_last_order": self.days_since_last_order, "value": round(self.value, 2),
                "reason": self.reason}


def win_back_queue(facts: Iterable[CustomerFacts], classes: Mapping[str, Classification],
                   settings: AnalyticsSettings) -> list[WinBackItem]:
    """Churned or silent (no order for winback_silent_days) customers of a valuable
    tier, not given a win-back contact in the last winback_cooldown_days; the most
    valuable first."""
    out = []
    for f in facts:
        c = classes.get(f.id)
        if c is None or f.n_orders == 0 or f.days_since_last is None:
            continue
        silent = f.days_since_last >= settings.winback_silent_days
        if not (silent or c.status == "churned") or c.tier not in settings.winback_tiers:
            continue
        if f.days_since_win_back is not None and f.days_since_win_back < settings.winback_cooldown_days:
            continue
        reason = "churned" if c.status == "churned" else f"no order for {f.days_since_last} days"
        out.append(WinBackItem(f.id, f.name, c.tier, c.status, f.days_since_last, f.total, reason))
    out.sort(key=lambda w: (-w.value, w.customer_id))
    return out


# -- greetings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Occasion:
    name: str
    date: dt.date
    kind: str  # holiday | birthday


def _lunar_to_solar(year: int, month: int, day: int) -> dt.date | None:
    # A lunar month has 29 or 30 days: a day 30 that does not exist (New Year's Eve
    # in a short twelfth month) falls on the last day of that month.
    for d in (day, day - 1):
        try:
            return LunarDate(year, month, d).to_solar_date()
        except ValueError:
            continue
    return None


def holiday_dates(holiday: Holiday, start: dt.date, end: dt.date) -> list[dt.date]:
    """The Gregorian dates of `holiday` between start and end inclusive."""
    out = []
    for year in range(start.year - 1, end.year + 1):
        if holiday.calendar == "lunar":
            day = _lunar_to_solar(year, holiday.month, holiday.day)
        else:
            try:
                day = dt.date(year, holiday.month, holiday.day)
            except ValueError:
                day = None
        if day is not None and start <= day <= end:
            out.append(day)
    return out


def birthday_in(birthday: str | None, start: dt.date, end: dt.date) -> dt.date | None:
    """This or next year's birthday if it falls between start and end; 29 February is
    kept on 28 February in other years."""
    if not birthday:
        return None
    try:
        born = dt.date.fromisoformat(birthday[:10])
    except ValueError:
        return None
    for year in range(start.year, end.year + 1):
        day = 28 if (born.month, born.day) == (2, 29) and not _leap(year) else born.day
        when = dt.date(year, born.month, day)
        if start <= when <= end:
            return when
    return None


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _occasion_key(name: str) -> str:
    return f"greeting.occasion.{name.lower().replace(' ', '_')}"


def occasion_names(name: str) -> set[str]:
    """What a user may type for the occasion the config calls `name`: that name, or
    the catalog's name for it in any language (Spring Festival, 春节), any case."""
    key = _occasion_key(name)
    return {name.lower()} | ({t_in(lang, key).lower() for lang in LANGUAGES} if has(key) else set())


def occasion_label(name: str) -> str:
    """The occasion the config calls `name` as the user reads it (春节 for Spring Festival)."""
    key = _occasion_key(name)
    return t_in(language(), key) if has(key) else name


def greeting_note(occasion: Occasion, lang: str | None = None) -> str:
    """The note of the logged greeting, in `lang` (the user's by default): 'greeting:
    National Day 2026-10-01' / '问候：国庆节 2026-10-01'. A default holiday and a
    birthday are named by the catalog; a holiday of the user's own calendar as written."""
    key = _occasion_key(occasion.name)
    name = t_in(lang or language(), key) if has(key) else occasion.name
    return t_in(lang or language(), "greeting.note", occasion=name, date=occasion.date.isoformat())


def greeting_notes(occasion: Occasion) -> frozenset[str]:
    """How a sent greeting is recognised: its note in any language of the catalog, as
    the laptop that logged it wrote it (a team's reps may read different languages)."""
    return frozenset(greeting_note(occasion, lang) for lang in LANGUAGES)


@dataclass(frozen=True)
class Greeting:
    customer_id: str
    name: str
    occasion: str
    date: dt.date
    purpose: str  # visit purpose to log: holiday_greeting or care (birthday)
    note: str

    def as_dict(self) -> dict:
        return {"id": self.customer_id, "name": self.name, "occasion": self.occasion,
                "date": self.date.isoformat(), "purpose": self.purpose}


def greetings(customers: Iterable[CustomerFacts], today: dt.date, settings: AnalyticsSettings, *,
              holiday: str | None = None, sent: Collection[tuple[str, str]] = (),
              churned: Collection[str] | None = None) -> list[Greeting]:
    """Greetings due from today to today + greeting_days: every holiday of the
    calendar for every customer who has not churned, and each customer's birthday.
    `holiday` keeps one occasion (a holiday name, or "birthday"); `sent` holds
    (customer id, note) pairs already logged, which are left out; `churned` holds
    the ids of churned customers (by default, the stored status says)."""
    end = today + dt.timedelta(days=settings.greeting_days)
    wanted = holiday.strip().lower() if holiday else None
    occasions = [Occasion(h.name, d, "holiday") for h in settings.holidays
                 for d in holiday_dates(h, today, end) if wanted is None or wanted in occasion_names(h.name)]
    sent_set = set(sent)
    out = []
    for f in customers:
        if (f.id not in churned) if churned is not None else (f.status != "churned"):
            for occ in occasions:
                if not any((f.id, note) in sent_set for note in greeting_notes(occ)):
                    out.append(Greeting(f.id, f.name, occ.name, occ.date, "holiday_greeting", greeting_note(occ)))
        if wanted is None or wanted in occasion_names("birthday"):
            when = birthday_in(f.birthday, today, end)
            if when is not None:
                occ = Occasion("Birthday", when, "birthday")
                if not any((f.id, note) in sent_set for note in greeting_notes(occ)):
                    out.append(Greeting(f.id, f.name, occ.name, when, "care", greeting_note(occ)))
    out.sort(key=lambda g: (g.date, g.occasion, g.name, g.customer_id))
    return out
