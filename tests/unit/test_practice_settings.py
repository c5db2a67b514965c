"""What a valid set of practice settings is: validation only, no database."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.practice.settings import (
    DeclineStreakRule,
    DipRules,
    DropRule,
    FloorRule,
    ItemDropRule,
    PracticeSettings,
    QuietHours,
    Sender,
    SilenceRule,
    Timing,
)
from shared.survey.items import BUILT_IN_ITEMS, DEFAULT_ITEM_KEYS, SurveyItem
from shared.survey.moves import Move


def custom_item(key: str = "homework", move: str = "slow_pace") -> dict[str, str]:
    return {
        "key": key,
        "prompt": "The homework felt doable.",
        "move": move,
        "topic": "The homework",
    }


def refused(data: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        PracticeSettings.model_validate(data)
    return caught.value


def assert_names_field(error: ValidationError, *loc: str | int) -> None:
    """The error points at the field (its location), and says so in its text."""
    locations = [tuple(detail["loc"]) for detail in error.errors()]
    assert loc in locations, f"expected an error at {loc}, got {locations}"
    assert ".".join(str(part) for part in loc) in str(error)


# --- defaults ----------------------------------------------------------------------------


def test_defaults_are_valid_and_match_the_design() -> None:
    settings = PracticeSettings()
    assert settings.timezone == "UTC"
    assert settings.item_keys == list(DEFAULT_ITEM_KEYS)
    assert [item.key for item in settings.items] == [
        "honest",
        "disagree",
        "respected",
        "input",
        "pace",
    ]
    rules = settings.rules
    assert (rules.floor.enabled, rules.floor.floor) == (True, 2)
    assert (rules.low_overall.enabled, rules.low_overall.floor) == (True, 4.0)
    assert (rules.drop.enabled, rules.drop.points, rules.drop.min_history) == (True, 0.75, 3)
    assert rules.drop.in_sd is None
    assert (rules.sudden_drop.enabled, rules.sudden_drop.points) == (False, 1.0)
    assert (rules.drop.typical_sd, rules.drop.prior_answers) == (0.3, 0)
    assert (rules.item_drop.enabled, rules.item_drop.points, rules.item_drop.min_history) == (
        True,
        1.5,
        1,
    )
    assert (rules.decline_streak.enabled, rules.decline_streak.count) == (True, 2)
    assert rules.decline_streak.min_fall == 0.8
    assert (rules.silence.enabled, rules.silence.count) == (True, 3)
    assert rules.asked.enabled is True
    assert settings.timing.quiet_hours == QuietHours(start=time(21, 0), end=time(8, 0))
    assert settings.zone == ZoneInfo("UTC")


def test_built_in_items_suggest_the_designed_moves() -> None:
    assert {key: item.move for key, item in BUILT_IN_ITEMS.items()} == {
        "honest": Move.ADDRESS_RELATIONSHIP,
        "disagree": Move.INVITE_FEEDBACK,
        "respected": Move.ADDRESS_RELATIONSHIP,
        "input": Move.INVITE_FEEDBACK,
        "pace": Move.SLOW_PACE,
    }


def test_a_full_valid_settings_document_round_trips() -> None:
    data = {
        "timezone": "America/New_York",
        "item_keys": ["pace", "honest", "input"],
        "custom_items": [custom_item()],
        "rules": {"drop": {"in_sd": 1.5}, "sudden_drop": {"enabled": True, "points": 1.0}},
        "timing": {"alert_lead_hours": 2.5, "quiet_hours": None, "reminder_after_hours": 24},
        "sender": {"display_name": "Feedback", "reply_to": "desk@example.org"},
    }
    settings = PracticeSettings.model_validate(data)
    assert settings.zone == ZoneInfo("America/New_York")
    assert [item.key for item in settings.items] == ["pace", "honest", "input", "homework"]
    assert settings.items[-1].move is Move.SLOW_PACE
    assert settings.rules.drop.in_sd == 1.5
    assert settings.timing.quiet_hours is None
    assert PracticeSettings.model_validate(settings.model_dump()) == settings
    assert PracticeSettings.model_validate_json(settings.model_dump_json()) == settings


# A settings document as stored before the cohort measurements (issue 12) added the item-drop
# rule, the decline streak's minimum fall and the baseline's typical spread: every field of
# the model then, with the values a practice had saved.
STORED_BEFORE_ITEM_DROP: dict[str, Any] = {
    "timezone": "Europe/Berlin",
    "item_keys": ["honest", "disagree", "respected", "input", "pace"],
    "custom_items": [],
    "rules": {
        "floor": {"enabled": True, "floor": 2},
        "low_overall": {"enabled": True, "floor": 4.0},
        "drop": {"enabled": True, "points": 0.75, "min_history": 3, "in_sd": 1.5},
        "sudden_drop": {"enabled": False, "points": 1.0},
        "decline_streak": {"enabled": True, "count": 2},
        "silence": {"enabled": True, "count": 2},
        "asked": {"enabled": True},
    },
    "timing": {
        "survey_delay_minutes": 60,
        "survey_expiry_hours": 72,
        "reminder_after_hours": None,
        "alert_lead_hours": 24.0,
        "quiet_hours": {"start": "21:00:00", "end": "08:00:00"},
    },
    "sender": {
        "display_name": "Session feedback",
        "reply_to": None,
        "survey_subject": "A quick question about your last session",
        "nudge_subject": "Before your next session",
    },
    "crisis_line": "If you are in crisis, call or text 988 (US), or your local emergency number.",
}


def test_a_settings_document_stored_before_the_new_rule_fields_still_loads() -> None:
    """Stored versions are validated on every read: an older one keeps what it saved and takes
    the defaults for what it never had."""
    settings = PracticeSettings.model_validate(STORED_BEFORE_ITEM_DROP)
    rules = settings.rules
    assert rules.silence.count == 2  # as saved, not the new default of 3
    assert rules.drop.in_sd == 1.5
    assert rules.item_drop == DipRules().item_drop
    assert rules.decline_streak.min_fall == DipRules().decline_streak.min_fall
    assert (rules.drop.typical_sd, rules.drop.prior_answers) == (0.3, 0)
    assert PracticeSettings.model_validate(settings.model_dump(mode="json")) == settings


def test_every_rule_setting_explains_itself_in_one_sentence() -> None:
    """The owner's settings page shows each field's description beside it."""
    for rule in (DropRule, ItemDropRule, DeclineStreakRule, SilenceRule):
        for name, field in rule.model_fields.items():
            assert field.description, f"{rule.__name__}.{name} has no description"
            assert field.description.count(". ") == 0, f"{rule.__name__}.{name}: one sentence"


@pytest.mark.parametrize(
    ("loc", "value"),
    [
        (("item_drop", "points"), 0),
        (("item_drop", "min_history"), 0),
        (("decline_streak", "min_fall"), -0.1),
        (("drop", "typical_sd"), 0),
        (("drop", "prior_answers"), -1),
    ],
)
def test_new_rule_fields_refuse_nonsense(loc: tuple[str, str], value: float) -> None:
    rule, field = loc
    error = refused({"rules": {rule: {field: value}}})
    assert_names_field(error, "rules", rule, field)


def test_timing_durations() -> None:
    timing = Timing(survey_delay_minutes=90, survey_expiry_hours=48, alert_lead_hours=1.5)
    assert timing.survey_delay == timedelta(minutes=90)
    assert timing.survey_expiry == timedelta(hours=48)
    assert timing.alert_lead == timedelta(minutes=90)


# --- refused: each names the field -------------------------------------------------------


@pytest.mark.parametrize("floor", [6, 0, -1])
def test_item_floor_outside_the_scale_is_refused(floor: int) -> None:
    error = refused({"rules": {"floor": {"floor": floor}}})
    assert_names_field(error, "rules", "floor", "floor")


def test_item_floor_from_the_bottom_to_one_below_the_top_is_allowed() -> None:
    assert FloorRule(floor=1).floor == 1
    assert FloorRule(floor=4).floor == 4


def test_item_floor_at_the_top_would_flag_every_answer_and_is_refused() -> None:
    error = refused({"rules": {"floor": {"floor": 5}}})
    assert_names_field(error, "rules", "floor", "floor")
    assert "would flag every answer" in str(error)


@pytest.mark.parametrize("floor", [5.5, 0.9])
def test_overall_floor_outside_the_scale_is_refused(floor: float) -> None:
    error = refused({"rules": {"low_overall": {"floor": floor}}})
    assert_names_field(error, "rules", "low_overall", "floor")


def test_negative_lead_time_is_refused() -> None:
    error = refused({"timing": {"alert_lead_hours": -1}})
    assert_names_field(error, "timing", "alert_lead_hours")


def test_a_zero_lead_time_is_allowed() -> None:
    assert Timing(alert_lead_hours=0).alert_lead == timedelta(0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("survey_delay_minutes", -5),
        ("survey_expiry_hours", 0),
        ("reminder_after_hours", 0),
        ("alert_lead_hours", 14 * 24 + 1),
    ],
)
def test_timing_out_of_range_is_refused(field: str, value: int) -> None:
    error = refused({"timing": {field: value}})
    assert_names_field(error, "timing", field)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "EST+5"])
def test_unknown_time_zone_is_refused(zone: str) -> None:
    error = refused({"timezone": zone})
    assert_names_field(error, "timezone")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_known_time_zones_are_accepted(zone: str) -> None:
    assert PracticeSettings(timezone=zone).zone == ZoneInfo(zone)


@pytest.mark.parametrize("keys", [[], ["honest"], ["honest", "pace"]])
def test_fewer_than_three_items_are_refused(keys: list[str]) -> None:
    error = refused({"item_keys": keys})
    assert_names_field(error, "item_keys")
    assert "3 to 5" in str(error)


def test_three_items_are_enough() -> None:
    settings = PracticeSettings(item_keys=["honest", "pace", "input"])
    assert [item.key for item in settings.items] == ["honest", "pace", "input"]


def test_duplicate_items_are_refused() -> None:
    error = refused({"item_keys": ["honest", "pace", "honest"]})
    assert_names_field(error, "item_keys")
    assert "twice" in str(error)


def test_unknown_built_in_item_is_refused() -> None:
    error = refused({"item_keys": ["honest", "pace", "mood"]})
    assert_names_field(error, "item_keys")
    assert "mood" in str(error)


@pytest.mark.parametrize("key", ["honest", "pace", "respected"])
def test_custom_item_key_clashing_with_a_built_in_is_refused(key: str) -> None:
    error = refused({"custom_items": [custom_item(key)]})
    assert_names_field(error, "custom_items")
    assert repr(key) in str(error)


def test_custom_item_key_clashes_even_with_a_built_in_item_not_chosen() -> None:
    error = refused(
        {"item_keys": ["honest", "input", "disagree"], "custom_items": [custom_item("pace")]}
    )
    assert_names_field(error, "custom_items")


def test_two_custom_items_with_the_same_key_are_refused() -> None:
    error = refused({"custom_items": [custom_item("homework"), custom_item("homework")]})
    assert_names_field(error, "custom_items")


def test_more_than_five_custom_items_are_refused() -> None:
    error = refused({"custom_items": [custom_item(f"extra_{n}") for n in range(6)]})
    assert_names_field(error, "custom_items")


@pytest.mark.parametrize("key", ["Homework", "1st", "h", "with space", "x" * 40])
def test_custom_item_key_must_be_a_simple_identifier(key: str) -> None:
    error = refused({"custom_items": [custom_item(key)]})
    assert_names_field(error, "custom_items", 0, "key")


def test_custom_item_move_must_be_a_known_move() -> None:
    error = refused({"custom_items": [custom_item(move="hug")]})
    assert_names_field(error, "custom_items", 0, "move")


@pytest.mark.parametrize(
    ("rule", "field", "value"),
    [
        ("drop", "points", 0),
        ("drop", "points", 4.5),
        ("drop", "min_history", 0),
        ("drop", "in_sd", 0),
        ("drop", "in_sd", 6),
        ("sudden_drop", "points", -1),
        ("decline_streak", "count", 0),
        ("silence", "count", 21),
    ],
)
def test_rule_tuning_out_of_range_is_refused(rule: str, field: str, value: float) -> None:
    error = refused({"rules": {rule: {field: value}}})
    assert_names_field(error, "rules", rule, field)


def test_unknown_fields_are_refused() -> None:
    assert_names_field(refused({"colour": "blue"}), "colour")
    assert_names_field(refused({"rules": {"mood": {"enabled": True}}}), "rules", "mood")
    assert_names_field(
        refused({"rules": {"floor": {"threshold": 2}}}), "rules", "floor", "threshold"
    )


def test_sender_lines_must_not_be_empty() -> None:
    assert_names_field(refused({"sender": {"display_name": ""}}), "sender", "display_name")
    assert_names_field(refused({"sender": {"reply_to": "not-an-address"}}), "sender", "reply_to")


def test_settings_are_frozen() -> None:
    settings = PracticeSettings()
    with pytest.raises(ValidationError):
        settings.timezone = "Europe/Berlin"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        settings.rules.floor.floor = 3  # type: ignore[misc]


def test_a_custom_item_can_be_built_directly() -> None:
    item = SurveyItem.model_validate(custom_item())
    settings = PracticeSettings(custom_items=[item])
    assert settings.items[-1] == item
    assert DipRules(drop=DropRule(in_sd=1.0)).drop.in_sd == 1.0
    assert Sender().display_name == "Session feedback"
