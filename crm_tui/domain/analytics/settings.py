"""The thresholds of every analytics rule, with their defaults. The `[analytics]`
section of the TOML config overrides any of them; docs/analytics.md explains each.
Pure: the API reads the config file and passes the mapping in."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_tui.domain.validation import FieldError, ValidationError
from crm_tui.i18n import t


@dataclass(frozen=True)
class Cadence:
    """Days since the last contact: up to `ideal` fine, up to `maximum` due (yellow),
    beyond it overdue (red)."""

    ideal: int
    maximum: int


@dataclass(frozen=True)
class Holiday:
    """A greeting occasion. `calendar` is "lunar" (Chinese calendar month/day) or
    "solar" (Gregorian)."""

    name: str
    calendar: str
    month: int
    day: int


DEFAULT_HOLIDAYS = (
    Holiday("New Year", "solar", 1, 1),
    Holiday("Spring Festival", "lunar", 1, 1),
    Holiday("Lantern Festival", "lunar", 1, 15),
    Holiday("Dragon Boat Festival", "lunar", 5, 5),
    Holiday("Mid-Autumn Festival", "lunar", 8, 15),
    Holiday("National Day", "solar", 10, 1),
)


@dataclass(frozen=True)
class AnalyticsSettings:
    # -- classification: status
    new_days: int = 90  # first order at most this many days ago -> new
    loyal_min_orders: int = 3  # at least this many orders (and past new_days) -> loyal
    churn_days: int = 365  # no order for longer than this -> churned
    churn_interval_factor: float = 3.0  # or silent longer than factor x own mean interval
    churn_min_days: int = 60  # ... but never churned by the interval rule before this
    # -- classification: lifecycle stage (trend of the last two trend windows)
    trend_days: int = 180
    growth_ratio: float = 1.2  # recent >= ratio x previous -> formation (growing)
    decline_ratio: float = 0.5  # recent < ratio x previous -> decline
    formation_min_orders: int = 2  # fewer orders than this -> still exploration
    # -- classification: A/B/C tiers by cumulative share of value (Pareto)
    tier_a_share: float = 0.8
    tier_b_share: float = 0.95
    # -- RFM
    rfm_window_days: int = 365  # frequency and monetary count orders in this window
    rfm_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)  # recency, frequency, monetary
    # -- value
    clv_years: int = 3  # expected remaining relationship, in years
    clv_margin: float = 1.0  # share of revenue that is margin (1.0 = revenue CLV)
    clv_discount_rate: float = 0.1  # yearly discount rate of future value
    # -- reminders
    cadence: Mapping[str, Cadence] = field(default_factory=lambda: {
        "A": Cadence(14, 30), "B": Cadence(30, 60), "C": Cadence(60, 120)})
    winback_silent_days: int = 120  # no order for this long -> candidate for win-back
    winback_tiers: tuple[str, ...] = ("A", "B")  # only valuable customers
    winback_cooldown_days: int = 30  # skip customers given a win-back contact lately
    greeting_days: int = 7  # list occasions from today to today + this many days
    holidays: tuple[Holiday, ...] = DEFAULT_HOLIDAYS
    # -- complaints
    pareto_share: float = 0.8  # the "vital few" reach this cumulative share
    # -- satisfaction follow-up after a complaint closes
    satisfaction_follow_up_days: int = 3

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> AnalyticsSettings:
        """Settings from the `[analytics]` section; unknown keys and bad values are
        errors that name the key, so a typo is not silently ignored."""
        if not section:
            return cls()
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        for key, raw in section.items():
            if key not in known:
                errors.append(FieldError(f"analytics.{key}", t("reason.config.unknown")))
                continue
            try:
                values[key] = _convert(key, raw, getattr(cls(), key))
            except SettingError as exc:
                errors.append(FieldError(f"analytics.{key}", str(exc)))
            except (TypeError, ValueError, KeyError):  # Python's own words: int('x'), a missing key
                errors.append(FieldError(f"analytics.{key}", t("reason.config.wrong_type")))
        if errors:
            raise ValidationError(errors)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        errors = []
        if not 0 < self.tier_a_share <= self.tier_b_share <= 1:
            errors.append(FieldError("analytics.tier_a_share", t("reason.config.tier_shares")))
        if len(self.rfm_weights) != 3 or min(self.rfm_weights) < 0 or sum(self.rfm_weights) <= 0:
            errors.append(FieldError("analytics.rfm_weights", t("reason.config.rfm_weights")))
        for tier, cad in self.cadence.items():
            if not 0 < cad.ideal <= cad.maximum:
                errors.append(FieldError(f"analytics.cadence.{tier}", t("reason.config.cadence")))
        if self.rfm_window_days <= 0 or self.trend_days <= 0:
            errors.append(FieldError("analytics.rfm_window_days", t("reason.config.windows")))
        if errors:
            raise ValidationError(errors)


class SettingError(ValueError):
    """A setting's value is wrong, said in the user's language."""


def _convert(key: str, raw: Any, default: Any) -> Any:
    if key == "cadence":
        if not isinstance(raw, Mapping):
            raise SettingError(t("reason.config.cadence_table"))
        merged = dict(default)
        for tier, value in raw.items():
            merged[str(tier).upper()] = Cadence(int(value["ideal"]), int(value["maximum"]))
        return merged
    if key == "holidays":
        out = []
        for item in raw:
            cal = str(item.get("calendar", "solar"))
            if cal not in ("solar", "lunar"):
                raise SettingError(t("reason.config.calendar", name=repr(item.get("name"))))
            month, day = int(item["month"]), int(item["day"])
            if not (1 <= month <= 12 and 1 <= day <= 31):
                raise SettingError(t("reason.config.month_day", name=repr(item.get("name"))))
            out.append(Holiday(str(item["name"]), cal, month, day))
        return tuple(out)
    if isinstance(default, tuple):
        return tuple(type(d)(v) for d, v in zip(default, raw, strict=True)) if key == "rfm_weights" \
            else tuple(str(v) for v in raw)
    if isinstance(default, bool):
        return bool(raw)
    if isinstance(default, int):
        if isinstance(raw, bool) or int(raw) != raw:
            raise SettingError(t("reason.config.whole_number"))
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
