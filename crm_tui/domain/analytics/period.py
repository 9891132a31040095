"""Reporting periods: `2026-Q3`, `2026-11`, `2026`, or `FROM..TO` (dates, inclusive)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from crm_tui.domain.validation import ValidationError
from crm_tui.i18n import t


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same kind just before: the previous quarter, month or
        year; for a date range, the same number of days before it."""
        m = re.fullmatch(r"(\d{4})-Q([1-4])", self.label)
        if m:
            year, q = int(m[1]), int(m[2])
            return parse_period(f"{year - 1}-Q4" if q == 1 else f"{year}-Q{q - 1}")
        m = re.fullmatch(r"(\d{4})-(\d{2})", self.label)
        if m:
            year, month = int(m[1]), int(m[2])
            return parse_period(f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}")
        if re.fullmatch(r"\d{4}", self.label):
            return parse_period(str(int(self.label) - 1))
        end = self.start - dt.timedelta(days=1)
        start = end - dt.timedelta(days=self.days - 1)
        return Period(start, end, f"{start}..{end}")

    def months(self) -> list[str]:
        """'YYYY-MM' of every month the period touches, in order (chart buckets)."""
        out, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            out.append(f"{year}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    # Bounds as text, for comparing with stored dates and date-times.
    @property
    def start_text(self) -> str:
        return self.start.isoformat()

    @property
    def end_text(self) -> str:
        """Exclusive upper bound that also covers every time on the last day."""
        return (self.end + dt.timedelta(days=1)).isoformat()


def _month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    return nxt - dt.timedelta(days=1)


def parse_period(text: str) -> Period:
    s = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", s):
            year, q = int(m[1]), int(m[2])
            return Period(dt.date(year, 3 * q - 2, 1), _month_end(year, 3 * q), f"{year}-Q{q}")
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", s):
            year, month = int(m[1]), int(m[2])
            return Period(dt.date(year, month, 1), _month_end(year, month), f"{year}-{month:02d}")
        if re.fullmatch(r"\d{4}", s):
            year = int(s)
            return Period(dt.date(year, 1, 1), dt.date(year, 12, 31), s)
        if ".." in s:
            a, _, b = s.partition("..")
            start, end = dt.date.fromisoformat(a.strip()), dt.date.fromisoformat(b.strip())
            if end < start:
                raise ValidationError.one("period", t("reason.period.ends_before", text=repr(text)))
            return Period(start, end, f"{start}..{end}")
    except ValueError as exc:
        if isinstance(exc, ValidationError):
            raise
        # Python's reason (month must be in 1..12) is English: the catalog says it
        raise ValidationError.one("period", t("reason.period.no_such_date", text=repr(text))) from None
    raise ValidationError.one("period", t("reason.period.format", text=repr(text)))


def period_or_month(period: str | Period | None, today: dt.date) -> Period:
    """`period` read as `parse_period` reads it, or, when none is given, the calendar
    month of `today`: the period of every report given none (crm report, kpi,
    complaint-stats, product-stats, forecast, funnel)."""
    if period is None:
        return parse_period(f"{today.year}-{today.month:02d}")
    return parse_period(period) if isinstance(period, str) else period
