"""The settings history's "what changed", in words: two stored documents in, lines out."""

from __future__ import annotations

from typing import Any

from shared.practice.changes import field_name, settings_changes
from shared.practice.settings import PracticeSettings


def stored(**changes: Any) -> dict[str, Any]:
    """A settings document as stored, from the defaults with some parts replaced."""
    document = PracticeSettings().model_dump(mode="json")
    for path, value in changes.items():
        *groups, last = path.split("__")
        target = document
        for group in groups:
            target = target[group]
        target[last] = value
    return PracticeSettings.model_validate(document).model_dump(mode="json")


def test_a_changed_threshold_reads_old_to_new() -> None:
    assert settings_changes(stored(), stored(rules__low_overall__floor=4.2)) == [
        "Low overall floor: 4.0 → 4.2"
    ]


def test_the_first_version_and_an_identical_one_have_no_changes() -> None:
    assert settings_changes(None, stored()) == []
    assert settings_changes(stored(), stored()) == []


def test_several_changes_come_in_the_order_of_the_settings() -> None:
    old = stored()
    new = stored(
        timezone="Europe/London",
        rules__sudden_drop__enabled=True,
        rules__drop__in_sd=1.5,
        timing__reminder_after_hours=24,
        timing__quiet_hours__start="22:30:00",
        sender__display_name="Harbour feedback",
        crisis_line="Call Samaritans on 116 123.",
    )
    assert settings_changes(old, new) == [
        "Time zone: “UTC” → “Europe/London”",
        "Drop from usual, in standard deviations: none → 1.5",
        "Sudden drop rule: off → on",
        "Reminder after, hours: none → 24",
        "Quiet hours start: 21:00 → 22:30",
        "Sender name: “Session feedback” → “Harbour feedback”",
        "Crisis line: “If you are in crisis, call or text 988 (US), or your local emergency "
        "number.” → “Call Samaritans on 116 123.”",
    ]


def test_quiet_hours_turned_off_and_back_on() -> None:
    on, off = stored(), stored(timing__quiet_hours=None)
    assert settings_changes(on, off) == ["Quiet hours: 21:00 to 08:00 → off"]
    assert settings_changes(off, on) == ["Quiet hours: off → 21:00 to 08:00"]


def test_survey_items_say_what_was_added_and_removed() -> None:
    old = stored()
    assert settings_changes(old, stored(item_keys=["honest", "respected", "pace"])) == [
        "Survey items: removed disagree, input"
    ]
    three = stored(item_keys=["honest", "respected", "pace"])
    assert settings_changes(three, stored(item_keys=["honest", "input", "pace"])) == [
        "Survey items: added input; removed respected"
    ]
    assert settings_changes(three, stored(item_keys=["pace", "honest", "respected"])) == [
        "Survey items: reordered to pace, honest, respected"
    ]


def test_custom_items_added_changed_and_removed_by_key() -> None:
    safe = {
        "key": "safe",
        "prompt": "I felt safe to speak.",
        "move": "address_relationship",
        "topic": "Feeling safe to speak",
    }
    without, with_one = stored(), stored(custom_items=[safe])
    assert settings_changes(without, with_one) == [
        "Your own item added: safe (“I felt safe to speak.”)"
    ]
    moved = stored(custom_items=[safe | {"move": "slow_pace"}])
    assert settings_changes(with_one, moved) == [
        "Your own item safe, move: Address the relationship directly → Slow the pace"
    ]
    assert settings_changes(with_one, without) == ["Your own item removed: safe"]


def test_a_field_without_a_name_here_is_still_reported() -> None:
    """A rule parameter added later (another branch's work) shows under its path's words."""
    old = {"rules": {"drop": {"window_weeks": 4}}}
    new = {"rules": {"drop": {"window_weeks": 6}}}
    assert settings_changes(old, new) == ["Drop window weeks: 4 → 6"]
    assert field_name("rules.cohort.enabled") == "Cohort enabled"
