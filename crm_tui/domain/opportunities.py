"""The rules of an opportunity (商机): its configurable stages, the stage default of
its probability, the date it was won or lost, the lost reason a lost deal needs, and
the replay of its stage history. Pure: the API reads the config and passes it in.

Stages come from the `[pipeline]` section of the config (docs/pipeline.md). Two
stage ids are fixed because the rules depend on them: `won` and `lost` close a deal;
every other stage is open, and the open stages are walked in their `order`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self

from crm_tui.domain.validation import FieldError, ValidationError
from crm_tui.i18n import t

WON = "won"
LOST = "lost"
CLOSED = (WON, LOST)


@dataclass(frozen=True)
class Stage:
    id: str
    en: str  # label in English
    zh: str  # label in Chinese
    probability: int  # default win probability in percent, 0..100
    order: int  # position in the pipeline; open stages are walked in this order

    @property
    def closed(self) -> bool:
        return self.id in CLOSED

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" and self.zh else self.en


DEFAULT_STAGES = (
    Stage("lead", "Lead", "初步接洽", 10, 1),
    Stage("qualified", "Qualified", "需求确认", 25, 2),
    Stage("proposal", "Proposal", "方案报价", 50, 3),
    Stage("negotiation", "Negotiation", "商务谈判", 75, 4),
    Stage(WON, "Won", "赢单", 100, 5),
    Stage(LOST, "Lost", "输单", 0, 6),
)

_SETTINGS_KEYS = ("stages", "currency", "stale_days")
_STAGE_KEYS = ("id", "en", "zh", "probability", "order")


@dataclass(frozen=True)
class PipelineSettings:
    """`[pipeline]`: the stages, the currency amounts are in, and after how many days
    without activity an open opportunity is stale."""

    stages: tuple[Stage, ...] = DEFAULT_STAGES
    currency: str = "CNY"
    stale_days: int = 30

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> Self:
        """Settings from the `[pipeline]` section; every error names its key."""
        if not section:
            return cls()
        errors: list[FieldError] = []
        values: dict[str, Any] = {}
        for key in section:
            if key not in _SETTINGS_KEYS:
                errors.append(FieldError(f"pipeline.{key}", t("reason.config.unknown")))
        if "currency" in section:
            cur = section["currency"]
            if not isinstance(cur, str) or not cur.strip() or len(cur.strip()) > 8:
                errors.append(FieldError("pipeline.currency", t("reason.config.currency")))
            else:
                values["currency"] = cur.strip().upper()
        if "stale_days" in section:
            days = section["stale_days"]
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
                errors.append(FieldError("pipeline.stale_days", t("reason.config.stale_days")))
            else:
                values["stale_days"] = days
        if "stages" in section:
            stages = _stages(section["stages"], errors)
            if stages:
                values["stages"] = stages
        if errors:
            raise ValidationError(errors)
        return cls(**values)

    # -- looking stages up ------------------------------------------------------------

    def stage(self, stage_id: str) -> Stage:
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise ValidationError.one("stage", t("reason.not_a_stage", stage=repr(stage_id), stages=", ".join(self.ids)))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages)

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if not s.closed)

    def step(self, stage_id: str, by: int) -> str | None:
        """The open stage `by` places after (or before) `stage_id`; None past either end.
        A closed deal steps back into the last open stage."""
        opens = [s.id for s in self.open_stages]
        if stage_id in CLOSED:
            return opens[-1] if by < 0 and opens else None
        i = opens.index(self.stage(stage_id).id) + by
        return opens[i] if 0 <= i < len(opens) else None

    def probability(self, record: Mapping[str, Any]) -> int:
        """The probability that weighs a deal: its own if set, else its stage's."""
        if record.get("probability") is not None:
            return int(record["probability"])
        try:
            return self.stage(str(record.get("stage"))).probability
        except ValidationError:
            return 0  # a stage this config does not know (another laptop's config) weighs nothing


def _stages(raw: Any, errors: list[FieldError]) -> tuple[Stage, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        errors.append(FieldError("pipeline.stages", t("reason.config.stages")))
        return ()
    out: list[Stage] = []
    for n, item in enumerate(raw, 1):
        key = f"pipeline.stages[{n}]"
        had = len(errors)
        if not isinstance(item, Mapping):
            errors.append(FieldError(key, t("reason.config.stage_table")))
            continue
        bad = [k for k in item if k not in _STAGE_KEYS]
        if bad:
            errors.append(FieldError(f"{key}.{bad[0]}", t("reason.config.stage_key")))
        sid, en, zh = item.get("id"), item.get("en"), item.get("zh", "")
        prob, order = item.get("probability"), item.get("order", n)
        if not isinstance(sid, str) or not sid.strip() or len(sid) > 32 or not sid.replace("_", "").isalnum():
            errors.append(FieldError(f"{key}.id", t("reason.config.stage_id")))
            continue
        if not isinstance(en, str) or not en.strip():
            errors.append(FieldError(f"{key}.en", t("reason.config.stage_en")))
        if not isinstance(zh, str):
            errors.append(FieldError(f"{key}.zh", t("reason.config.stage_zh")))
        if isinstance(prob, bool) or not isinstance(prob, int) or not 0 <= prob <= 100:
            errors.append(FieldError(f"{key}.probability", t("reason.config.stage_probability")))
        if isinstance(order, bool) or not isinstance(order, int):
            errors.append(FieldError(f"{key}.order", t("reason.config.whole_number")))
        # isinstance again only narrows the types for the checker: the checks above decided
        if len(errors) == had and isinstance(prob, int) and isinstance(order, int):
            out.append(Stage(sid.strip(), str(en).strip(), str(zh).strip(), prob, order))
    ids = [s.id for s in out]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(FieldError("pipeline.stages", t("reason.config.stage_twice", stage=repr(dup))))
    for fixed in CLOSED:
        if out and fixed not in ids:
            errors.append(FieldError("pipeline.stages", t("reason.config.stage_missing", stage=repr(fixed))))
    if out and not any(not s.closed for s in out):
        errors.append(FieldError("pipeline.stages", t("reason.config.no_open_stage")))
    return tuple(sorted(out, key=lambda s: (s.order, s.id)))


# -- the rules of one opportunity ---------------------------------------------------------


def settle(current: Mapping[str, Any] | None, changes: Mapping[str, Any], settings: PipelineSettings,
           today: dt.date) -> dict[str, Any]:
    """The changes with what follows from them: a stage change without a probability
    goes back to the stage's default (None); closing a deal dates it (today unless
    given); reopening one clears its close date and lost reason. Raises
    ValidationError naming the field for an unknown stage, a probability out of
    0..100, or a lost deal without a reason."""
    out = dict(changes)
    before = dict(current or {})
    stage = out.get("stage", before.get("stage"))
    errors: list[FieldError] = []
    try:
        settings.stage(str(stage))
    except ValidationError as exc:
        errors += exc.errors
    moved = current is None or ("stage" in out and out["stage"] != before.get("stage"))
    if moved and current is not None and "probability" not in out:
        out["probability"] = None
    if moved and stage in CLOSED and not out.get("closed_on"):
        out["closed_on"] = today.isoformat()
    if moved and stage not in CLOSED and current is not None:
        out["closed_on"] = None
        out["lost_reason"] = None
    merged = {**before, **out}
    prob = merged.get("probability")
    if prob is not None and not 0 <= int(prob) <= 100:
        errors.append(FieldError("probability", t("reason.record.probability")))
    if stage == LOST and not str(merged.get("lost_reason") or "").strip():
        errors.append(FieldError("lost_reason", t("reason.record.lost_reason")))
    if stage not in CLOSED and merged.get("closed_on") and "closed_on" in changes:
        errors.append(FieldError("closed_on", t("reason.record.closed_on")))
    if errors:
        raise ValidationError(errors)
    return out


def check_record(opportunity: Mapping[str, Any]) -> None:
    """An opportunity as a whole agrees with its stage, as `settle` leaves every local
    write: a lost deal says why, and only a won or lost deal has the date it closed
    (its probability is a percent by the field's own validator). Every replica and
    the server check it too (crm_tui.domain.record_rules); the stage itself is each
    team's configuration, which the server does not hold, so any stage name passes."""
    errors: list[FieldError] = []
    stage = opportunity.get("stage")
    if stage == LOST and not str(opportunity.get("lost_reason") or "").strip():
        errors.append(FieldError("lost_reason", t("reason.record.lost_reason")))
    if stage not in CLOSED and opportunity.get("closed_on"):
        errors.append(FieldError("closed_on", t("reason.record.closed_on")))
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True)
class StageMove:
    """One recorded stage change."""

    from_stage: str | None
    to_stage: str
    moved_at: str  # local 'YYYY-MM-DDTHH:MM:SS'
    rep: str = ""


def ordered(moves: Iterable[StageMove]) -> list[StageMove]:
    return sorted(moves, key=lambda m: m.moved_at)


def replay(moves: Iterable[StageMove], initial: str | None = None) -> str | None:
    """The stage a deal is in after its moves, oldest first: each move goes to its
    `to_stage`. `initial` is the stage before any move (None if unknown)."""
    stage = initial
    for move in ordered(moves):
        stage = move.to_stage
    return stage


def stays(moves: Sequence[StageMove], created_at: str, current: str) -> list[tuple[str, str, str | None]]:
    """Each stage the deal was in, with when it entered and left (None: still there):
    [(stage, entered, left)], oldest first."""
    if not moves:  # most deals of a big book: no sorting, no lookups
        return [(current, created_at, None)]
    path = ordered(moves) if len(moves) > 1 else list(moves)
    out: list[tuple[str, str, str | None]] = []
    stage, entered = path[0].from_stage or path[0].to_stage, created_at
    for move in path:
        out.append((stage, entered, move.moved_at))
        stage, entered = move.to_stage, move.moved_at
    out.append((stage, entered, None))
    return out
