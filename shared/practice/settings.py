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


def _enabled(rule: str, default: bool = True) -> Any:
    return Field(default=default, description=f"Whether the {rule} rule raises alerts at all.")


class FloorRule(_Strict):
    """Floor: one low score. Any single question answered at or below the floor raises an
    alert naming that question, whatever the client's other answers and history. For
    example, with floor 2 on the 1 (Not at all) to 5 (Completely) scale, an answer of 2 to
    "I felt comfortable being honest today" raises an alert even if every other question got
    a 5; with floor 1 only a 1 does."""

    enabled: bool = _enabled("floor")
    floor: int = Field(
        default=2,
        ge=SCALE_MIN,
        le=SCALE_MAX,
        description="The score, 1 to 4 on the 1-5 scale, at or below which one answer to any "
        "question raises an alert (5 would flag every answer and is refused); default 2.",
        examples=[2],
    )

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
    """Low overall: the whole answer is low. The average of one answer's scores below this
    floor raises an alert. For example, with floor 4.0, scores of 4, 4 and 3 (average 3.67)
    raise an alert, while 4, 4 and 4 (average exactly 4.0) do not: the average must be
    below the floor, not at it."""

    enabled: bool = _enabled("low overall")
    floor: float = Field(
        default=4.0,
        ge=SCALE_MIN,
        le=SCALE_MAX,
        description="The average score, 1.0 to 5.0 on the 1-5 scale, below which an answer "
        "raises an alert; default 4.0.",
        examples=[4.0],
    )


class DropRule(_Strict):
    """Drop: lower than this client's usual. Once a client has answered `min_history`
    surveys, an answer whose average is `points` or more below the average of all their
    earlier answers raises an alert: a client who always answers around 3.5 is not flagged
    for answering 3.5 again, a client who usually answers 4.8 is flagged for 4.0. For
    example, with points 0.75 and min_history 3, a client whose three earlier answers
    averaged 4.6 and who now averages 3.8 (0.8 below) raises an alert; 4.0 (0.6 below) does
    not. With `in_sd` set, the threshold is that many of the client's own standard
    deviations instead: with in_sd 2 and a client whose averages vary by 0.3, a fall of 0.6
    counts."""

    enabled: bool = Field(
        default=True,
        description="Flag an answer whose average falls well below the client's own usual.",
    )
    points: float = Field(
        default=0.75,
        gt=0,
        le=SCALE_MAX - SCALE_MIN,
        description="How far below the client's usual average counts as a drop, in points "
        "of the 1-5 scale: more than 0, at most 4; default 0.75.",
        examples=[0.75],
    )
    min_history: int = Field(
        default=3,
        ge=1,
        le=100,
        description="How many earlier answers a client needs before their usual is trusted, "
        "1 to 100 answers; default 3.",
    )
    # When set, the drop is measured in the client's own standard deviations instead.
    in_sd: float | None = Field(
        default=None,
        gt=0,
        le=5,
        description=(
            "If set, measure the drop in the client's own ups and downs instead of in "
            "points: how many of their standard deviations below their usual counts, more "
            "than 0, at most 5 (null, the default, uses points, as does a client whose "
            "answers have never varied)."
        ),
    )
    typical_sd: float = Field(
        default=0.3,
        gt=0,
        le=2,
        description=(
            "How much a typical client's average moves from session to session, in points "
            "(more than 0, at most 2; default 0.3); stands in for a client's own spread "
            "while their history is short (used only with in_sd and prior_answers)."
        ),
    )
    prior_answers: int = Field(
        default=0,
        ge=0,
        le=20,
        description=(
            "How many answers' worth of weight the typical spread carries against a client's "
            "own, 0 to 20 answers (0, the default: use the client's own spread alone)."
        ),
    )


class ItemDropRule(_Strict):
    """Item drop: one question lower than this client usually answers it. Ruptures are
    often about one thing, which the average can hide. For example, with points 1.5 and
    min_history 1, a client who answered "I could express confusion or disagreement" with
    5, 5 and 4 (usually 4.67) and now answers 3 (1.67 below) raises an alert naming that
    question, even if their average barely moved."""

    enabled: bool = Field(
        default=True,
        description="Flag a question answered well below how this client usually answers it.",
    )
    points: float = Field(
        default=1.5,
        gt=0,
        le=SCALE_MAX - SCALE_MIN,
        description="How far below the client's usual score on a question counts, in points "
        "of the 1-5 scale: more than 0, at most 4; default 1.5.",
    )
    min_history: int = Field(
        default=1,
        ge=1,
        le=100,
        description="How many earlier answers to a question are needed before it is "
        "compared, 1 to 100; default 1.",
    )


class SuddenDropRule(_Strict):
    """Sudden drop: much lower than last time. An answer whose average is `points` or more
    below the client's previous answer raises an alert, however the client usually
    answers. Off by default. For example, with points 1.0, averages of 4.8 then 3.6 (1.2
    lower) raise an alert; 4.8 then 4.0 (0.8 lower) do not."""

    enabled: bool = Field(
        default=False, description="Flag an answer whose average falls sharply from the last one."
    )
    points: float = Field(
        default=1.0,
        gt=0,
        le=SCALE_MAX - SCALE_MIN,
        description="How far below the previous answer's average counts as sharp, in points "
        "of the 1-5 scale: more than 0, at most 4; default 1.0.",
    )


class DeclineStreakRule(_Strict):
    """Decline streak: slipping, a little at a time. When `count` answers in a row each
    average lower than the one before, and the average has fallen at least `min_fall`
    points in all since the streak began, an alert is raised; an answer that does not fall
    ends the streak. For example, with count 2 and min_fall 0.8, averages of 4.6, 4.2 and
    3.8 (two falls in a row, 0.8 in all) raise an alert; 4.6, 4.4 and 4.2 (0.4 in all) do
    not."""

    enabled: bool = Field(
        default=True, description="Flag answers that keep getting a little lower in a row."
    )
    count: int = Field(
        default=2,
        ge=1,
        le=20,
        description="How many falls in a row it takes, 1 to 20 answers; default 2.",
    )
    min_fall: float = Field(
        default=0.8,
        ge=0,
        le=SCALE_MAX - SCALE_MIN,
        description=(
            "How many points the average must have fallen over those answers in all, so "
            "tiny wobbles are ignored: 0 to 4 points (0: any fall counts); default 0.8."
        ),
    )


class SilenceRule(_Strict):
    """Silence: the client has stopped answering. A survey that closes unanswered counts
    toward it, and an answer resets the count. For example, with count 3, the third survey
    in a row to close without an answer raises an alert suggesting the clinician invite
    feedback."""

    enabled: bool = Field(
        default=True, description="Flag a client who has stopped answering the surveys."
    )
    count: int = Field(
        default=3,
        ge=1,
        le=20,
        description="How many unanswered surveys in a row it takes, 1 to 20; default 3.",
    )


class AskedRule(_Strict):
    """Asked: the client asked to talk. Ticking "I'd like to talk about how therapy is
    going" on the survey raises an alert, whatever the scores. For example, a client who
    answers all 5s and ticks the box still raises one, suggesting the clinician address the
    relationship and invite feedback."""

    enabled: bool = _enabled("asked")


class DipRules(_Strict):
    """When a client's answer raises an alert for their clinician. One rule per kind of dip;
    each can be turned off, and an answer that several rules flag raises one alert with
    each rule's evidence. Scores are on the survey's 1 (Not at all) to 5 (Completely)
    scale."""

    floor: FloorRule = Field(default=FloorRule(), description="One low score.")
    low_overall: LowOverallRule = Field(
        default=LowOverallRule(), description="A low average across the answer."
    )
    drop: DropRule = Field(default=DropRule(), description="Lower than the client's usual.")
    item_drop: ItemDropRule = Field(
        default=ItemDropRule(), description="One question lower than the client's usual."
    )
    sudden_drop: SuddenDropRule = Field(
        default=SuddenDropRule(), description="Much lower than the client's last answer."
    )
    decline_streak: DeclineStreakRule = Field(
        default=DeclineStreakRule(), description="Several falls in a row."
    )
    silence: SilenceRule = Field(
        default=SilenceRule(), description="Several surveys in a row left unanswered."
    )
    asked: AskedRule = Field(default=AskedRule(), description="The client asked to talk.")


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
    """A nightly window in which no email goes to a client: an invitation or reminder due
    inside it waits until its end. Read on the client's own clock (their time zone). For
    example, start 21:00 and end 08:00: a survey due at 22:30 goes at 08:00 the next
    morning. A window with start equal to end is empty."""

    start: LocalTime = Field(
        default=time(21, 0),
        description="When the quiet hours begin, a local time of day HH:MM; default 21:00.",
    )
    end: LocalTime = Field(
        default=time(8, 0),
        description="When they end, HH:MM; earlier than start means the window spans "
        "midnight; default 08:00.",
    )


class Timing(_Strict):
    """When Attune emails: the client's survey invitation and reminder, and the clinician's
    nudge before the next session."""

    survey_delay_minutes: int = Field(
        default=60,
        ge=0,
        le=7 * 24 * 60,
        description="How long after the session ends the survey invitation is sent, in "
        "minutes: 0 to 10080 (a week); default 60.",
    )
    survey_expiry_hours: int = Field(
        default=72,
        ge=1,
        le=30 * 24,
        description="How long a survey stays open after it is sent, in hours: 1 to 720 (30 "
        "days; default 72); it also closes when the client's next session starts, and one "
        "that closes unanswered counts toward the silence rule.",
    )
    reminder_after_hours: int | None = Field(
        default=None,
        ge=1,
        le=14 * 24,
        description="Send one reminder this many hours after the invitation if it is still "
        "unanswered: 1 to 336 (14 days), or null (the default) for no reminder. No reminder "
        "is sent once the survey has closed.",
    )
    alert_lead_hours: float = Field(
        default=24,
        ge=0,
        le=14 * 24,
        description="How long before the client's next appointment the clinician's nudge "
        "about an open alert is sent, in hours: 0 to 336 (14 days); default 24.",
    )
    quiet_hours: QuietHours | None = Field(
        default=QuietHours(),
        description="When no email goes to clients; null for none; default 21:00 to 08:00.",
    )

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
    """How the emails to clients present themselves. A practice's name can itself disclose
    that someone is in therapy, so the owner chooses both the name and the subjects."""

    display_name: str = Field(
        default="Session feedback",
        min_length=1,
        max_length=80,
        description="The sender name clients' inboxes show, 1 to 80 characters.",
    )
    reply_to: EmailStr | None = Field(
        default=None,
        description="Where a client's reply goes, or null for the mail server's default.",
    )
    survey_subject: str = Field(
        default="A quick question about your last session",
        min_length=3,
        max_length=120,
        description="The subject of the survey invitation and reminder, 3 to 120 characters.",
    )
    nudge_subject: str = Field(
        default="Before your next session",
        min_length=3,
        max_length=120,
        description="The subject of the clinician's nudge, 3 to 120 characters.",
    )


class PracticeSettings(_Strict):
    """Everything a practice owner tunes: the survey's questions, when an answer raises an
    alert, when emails go and how they present themselves. Each saved change is a new
    version; alerts record the version they were raised under."""

    timezone: str = Field(
        default="UTC",
        description="The practice's IANA time zone, e.g. Europe/London: the calendar days "
        "its figures are counted in; default UTC.",
        examples=["Europe/London"],
    )
    item_keys: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ITEM_KEYS),
        description="The built-in questions the survey asks, in order: 3 to 5 of "
        + ", ".join(DEFAULT_ITEM_KEYS)
        + ", each once.",
    )
    custom_items: list[SurveyItem] = Field(
        default_factory=list,
        max_length=5,
        description="Up to 5 questions of the practice's own, asked after the built-in ones "
        "and answered on the same 1-5 scale.",
    )
    rules: DipRules = Field(
        default=DipRules(), description="When a client's answer raises an alert."
    )
    timing: Timing = Field(default=Timing(), description="When emails go.")
    sender: Sender = Field(
        default=Sender(), description="How emails to clients present themselves."
    )
    crisis_line: CrisisLine = Field(
        default=DEFAULT_CRISIS_LINE,
        description="What the survey page tells a client in crisis, e.g. a local helpline, "
        "5 to 300 characters.",
    )

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
