"""What a clinic owner tunes: items, dip rules, timing and sender. Versioned in the database;
this module only says what a valid set of settings is."""

from __future__ import annotations

from datetime import time, timedelta
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
)

from shared.survey.items import BUILT_IN_ITEMS, DEFAULT_ITEM_KEYS, SCALE_MAX, SCALE_MIN, SurveyItem

# Listing the zone database walks a directory tree: done once per process, not per validation
# (settings are validated on every read, so this was a fifth of a survey answer's CPU time).
_zone_names = cache(available_timezones)

# What the survey page tells a client in crisis. Set at sign-up and in the settings: one rule.
CrisisLine = Annotated[str, Field(min_length=5, max_length=300)]
DEFAULT_CRISIS_LINE = "If you are in crisis, call or text 988 (US), or your local emergency number."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FloorRule(_Strict):
    enabled: bool = True
    floor: int = Field(default=2, ge=SCALE_MIN, le=SCALE_MAX)

    @field_validator("floor")
    @classmethod
    def _below_the_top(cls, floor: int) -> int:
        # "At or below the floor" with the floor at the top would flag every answer, even
        # a perfect one: no practice means that.
        if floor >= SCALE_MAX:
            raise ValueError(
                f"a floor of {floor} would flag every answer, even all {SCALE_MAX}s: "
                f"choose {SCALE_MIN} to {SCALE_MAX - 1}"
            )
        return floor


class LowOverallRule(_Strict):
    enabled: bool = True
    floor: float = Field(default=4.0, ge=SCALE_MIN, le=SCALE_MAX)


class DropRule(_Strict):
    enabled: bool = Field(
        default=True,
        description="Flag an answer whose average falls well below the client's own usual.",
    )
    points: float = Field(
        default=0.75,
        gt=0,
        le=SCALE_MAX - SCALE_MIN,
        description="How many points below the client's usual average counts as a drop.",
    )
    min_history: int = Field(
        default=3,
        ge=1,
        le=100,
        description="How many earlier answers a client needs before their usual is trusted.",
    )
    # When set, the drop is measured in the client's own standard deviations instead.
    in_sd: float | None = Field(
        default=None,
        gt=0,
        le=5,
        description=(
            "If set, measure the drop in the client's own ups and downs (standard "
            "deviations) instead of in points."
        ),
    )
    typical_sd: float = Field(
        default=0.3,
        gt=0,
        le=2,
        description=(
            "How much a typical client's average moves from session to session; stands in "
            "for a client's own spread while their history is short."
        ),
    )
    prior_answers: int = Field(
        default=0,
        ge=0,
        le=20,
        description=(
            "How many answers' worth of weight the typical spread carries against a client's "
            "own (0: use the client's own spread alone)."
        ),
    )


class ItemDropRule(_Strict):
    enabled: bool = Field(
        default=True,
        description="Flag a question answered well below how this client usually answers it.",
    )
    points: float = Field(
        default=1.5,
        gt=0,
        le=SCALE_MAX - SCALE_MIN,
        description="How many points below the client's usual score on a question counts.",
    )
    min_history: int = Field(
        default=1,
        ge=1,
        le=100,
        description="How many earlier answers to a question are needed before it is compared.",
    )


class SuddenDropRule(_Strict):
    enabled: bool = Field(
        default=False, description="Flag an answer whose average falls sharply from the last one."
    )
    points: float = Field(
        default=1.0,
        gt=0,
        le=SCALE_MAX - SCALE_MIN,
        description="How many points below the previous answer's average counts as sharp.",
    )


class DeclineStreakRule(_Strict):
    enabled: bool = Field(
        default=True, description="Flag answers that keep getting a little lower in a row."
    )
    count: int = Field(
        default=2,
        ge=1,
        le=20,
        description="How many falls in a row it takes.",
    )
    min_fall: float = Field(
        default=0.8,
        ge=0,
        le=SCALE_MAX - SCALE_MIN,
        description=(
            "How many points the average must have fallen over those answers in all, so "
            "tiny wobbles are ignored (0: any fall counts)."
        ),
    )


class SilenceRule(_Strict):
    enabled: bool = Field(
        default=True, description="Flag a client who has stopped answering the surveys."
    )
    count: int = Field(
        default=3, ge=1, le=20, description="How many unanswered surveys in a row it takes."
    )


class AskedRule(_Strict):
    enabled: bool = True


class DipRules(_Strict):
    floor: FloorRule = FloorRule()
    low_overall: LowOverallRule = LowOverallRule()
    drop: DropRule = DropRule()
    item_drop: ItemDropRule = ItemDropRule()
    sudden_drop: SuddenDropRule = SuddenDropRule()
    decline_streak: DeclineStreakRule = DeclineStreakRule()
    silence: SilenceRule = SilenceRule()
    asked: AskedRule = AskedRule()


def _time_as_text(value: Any) -> Any:
    # Pydantic would read 12345 as seconds after midnight: a time of day is written "22:00".
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f'a time of day is text such as "22:00" or "07:30:00", not {type(value).__name__} '
            f"{value!r}"
        )
    return value


def _wall_clock(value: time) -> time:
    # Quiet hours are read on the reader's own clock, in the practice's or the client's zone;
    # an offset would fix them to one zone and break the comparison with local times.
    if value.tzinfo is not None:
        raise ValueError(
            f"{value.isoformat()} carries a time zone; quiet hours are local wall-clock times, "
            "e.g. \"22:00\" (the zone is the practice's and the client's own)"
        )
    return value


LocalTime = Annotated[time, BeforeValidator(_time_as_text), AfterValidator(_wall_clock)]


class QuietHours(_Strict):
    start: LocalTime = time(21, 0)
    end: LocalTime = time(8, 0)


class Timing(_Strict):
    survey_delay_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    survey_expiry_hours: int = Field(default=72, ge=1, le=30 * 24)
    reminder_after_hours: int | None = Field(default=None, ge=1, le=14 * 24)
    alert_lead_hours: float = Field(default=24, ge=0, le=14 * 24)
    quiet_hours: QuietHours | None = QuietHours()

    @property
    def survey_delay(self) -> timedelta:
        return timedelta(minutes=self.survey_delay_minutes)

    @property
    def survey_expiry(self) -> timedelta:
        return timedelta(hours=self.survey_expiry_hours)

    @property
    def alert_lead(self) -> timedelta:
        return timedelta(hours=self.alert_lead_hours)


class Sender(_Strict):
    # What the client's inbox shows. A practice's name can itself disclose care, so the
    # owner chooses both the display name and the subject.
    display_name: str = Field(default="Session feedback", min_length=1, max_length=80)
    reply_to: EmailStr | None = None
    survey_subject: str = Field(
        default="A quick question about your last session", min_length=3, max_length=120
    )
    nudge_subject: str = Field(default="Before your next session", min_length=3, max_length=120)


class PracticeSettings(_Strict):
    timezone: str = "UTC"
    item_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_ITEM_KEYS))
    custom_items: list[SurveyItem] = Field(default_factory=list, max_length=5)
    rules: DipRules = DipRules()
    timing: Timing = Timing()
    sender: Sender = Sender()
    crisis_line: CrisisLine = DEFAULT_CRISIS_LINE

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        if value not in _zone_names() and value != "UTC":
            raise ValueError(f"unknown time zone {value!r}")
        return value

    @field_validator("item_keys")
    @classmethod
    def _built_in_items(cls, keys: list[str]) -> list[str]:
        unknown = [key for key in keys if key not in BUILT_IN_ITEMS]
        if unknown:
            raise ValueError(f"not a built-in item: {', '.join(unknown)}")
        if len(set(keys)) != len(keys):
            raise ValueError("an item is listed twice")
        if not 3 <= len(keys) <= 5:
            raise ValueError("choose 3 to 5 built-in items")
        return keys

    @field_validator("custom_items")
    @classmethod
    def _custom_keys_are_new(cls, custom_items: list[SurveyItem]) -> list[SurveyItem]:
        taken = set(BUILT_IN_ITEMS)
        for item in custom_items:
            if item.key in taken:
                raise ValueError(f"custom item key {item.key!r} is already used")
            taken.add(item.key)
        return custom_items

    @property
    def items(self) -> list[SurveyItem]:
        """The survey as the client sees it, in order."""
        return [BUILT_IN_ITEMS[key] for key in self.item_keys] + list(self.custom_items)

    @property
    def known_items(self) -> list[SurveyItem]:
        """Every item an answer may hold: the whole built-in bank (an older answer may use an
        item the practice has since dropped) plus the practice's own."""
        return [*BUILT_IN_ITEMS.values(), *self.custom_items]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def missing_fields(document: BaseModel, prefix: str = "") -> list[str]:
    """Every field of a validated settings document that its sender left out (dotted paths),
    including the fields of nested sections and of each custom item."""
    missing: list[str] = []
    for name, value in document:
        path = f"{prefix}{name}"
        if name not in document.model_fields_set:
            missing.append(path)
        elif isinstance(value, BaseModel):
            missing += missing_fields(value, f"{path}.")
        elif isinstance(value, list):
            for index, element in enumerate(value):
                if isinstance(element, BaseModel):
                    missing += missing_fields(element, f"{path}.{index}.")
    return missing


def merged(current: PracticeSettings, changes: dict[str, Any]) -> PracticeSettings:
    """The current settings with a partial document laid over them, validated as a whole.

    An object merges into the object it names, key by key and at any depth; any other value
    (a number, text, a list, null) replaces what was there. Unknown keys and invalid values
    raise pydantic's ValidationError, naming the field."""
    return PracticeSettings.model_validate(_deep_merge(current.model_dump(mode="json"), changes))


def _deep_merge(base: Any, changes: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(changes, dict):
        return changes
    result = dict(base)
    for key, value in changes.items():
        result[key] = _deep_merge(base.get(key), value) if key in base else value
    return result
