"""The settings form's field descriptors: what the inputs show, and the document they make."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.api.pages.practice import settings_form as form
from services.api.pages.rendering import field_errors
from shared.practice.settings import DipRules, PracticeSettings


def posted(settings: PracticeSettings, **changes: Any) -> dict[str, Any]:
    """The form as a browser posts it for `settings`, with some inputs changed (a name with
    dots written with __; None leaves a box unticked)."""
    values = form.values_of(settings)
    body: dict[str, Any] = {
        path: ("on" if value else None) if isinstance(value, bool) else value
        for path, value in values.fields.items()
    }
    body["item_keys"] = list(values.item_keys)
    for n, row in enumerate(values.custom_items):
        for part, value in row.items():
            body[f"custom_items.{n}.{part}"] = value
    body.update({name.replace("__", "."): value for name, value in changes.items()})
    return {name: value for name, value in body.items() if value is not None}


def submitted(current: PracticeSettings, body: dict[str, Any]) -> PracticeSettings:
    return PracticeSettings.model_validate(form.settings_document(form.typed_values(body), current))


def test_every_rule_and_every_rule_parameter_has_a_place_on_the_form() -> None:
    on_form = {knob.path for knob in form.knobs()}
    for rule, model in DipRules.model_fields.items():
        assert model.annotation is not None
        for parameter in model.annotation.model_fields:
            assert f"rules.{rule}.{parameter}" in on_form, (rule, parameter)
    assert [rule.name for rule in form.RULES] == list(DipRules.model_fields)


def test_the_form_as_shown_saves_back_to_the_same_settings() -> None:
    settings = PracticeSettings(timezone="Europe/London")
    assert submitted(settings, posted(settings)) == settings


def test_typed_text_becomes_settings_and_unticked_boxes_turn_off() -> None:
    current = PracticeSettings()
    body = posted(
        current,
        rules__low_overall__floor="4.2",
        rules__drop__enabled=None,
        rules__drop__in_sd="1.5",
        timing__reminder_after_hours="24",
        timing__quiet_hours=None,
    )
    body["item_keys"] = ["honest", "pace", "input"]
    candidate = submitted(current, body)
    assert candidate.rules.low_overall.floor == 4.2
    assert candidate.rules.drop.enabled is False
    assert candidate.rules.drop.in_sd == 1.5
    assert candidate.timing.reminder_after_hours == 24
    assert candidate.timing.quiet_hours is None
    # The bank's order, whatever order the boxes came in.
    assert candidate.item_keys == ["honest", "input", "pace"]


def test_an_empty_optional_field_means_none() -> None:
    current = PracticeSettings.model_validate({"timing": {"reminder_after_hours": 12}})
    assert submitted(current, posted(current, timing__reminder_after_hours="")).timing == (
        current.timing.model_copy(update={"reminder_after_hours": None})
    )


def test_what_the_form_does_not_show_keeps_its_current_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A field with no knob (as a rule parameter added on another branch would be, until
    its knob is added) is saved as it stands, not reset to its default."""
    current = PracticeSettings.model_validate({"rules": {"drop": {"in_sd": 1.5}}})
    body = posted(current, rules__drop__points="1.0")
    del body["rules.drop.in_sd"]
    everything = form.knobs()
    monkeypatch.setattr(
        form, "knobs", lambda: [k for k in everything if k.path != "rules.drop.in_sd"]
    )
    candidate = submitted(current, body)
    assert candidate.rules.drop.in_sd == 1.5
    assert candidate.rules.drop.points == 1.0


def test_refused_values_come_back_under_the_input_names() -> None:
    body = posted(PracticeSettings(), rules__floor__floor="5", timing__survey_delay_minutes="soon")
    with pytest.raises(ValidationError) as refused:
        submitted(PracticeSettings(), body)
    errors = field_errors(refused.value)
    assert set(errors) == {"rules.floor.floor", "timing.survey_delay_minutes"}
    assert set(errors) <= {knob.path for knob in form.knobs()}
    # And the inputs show what was typed, not the saved values.
    typed = form.typed_values(body)
    assert typed.fields["rules.floor.floor"] == "5"
    assert typed.fields["timing.survey_delay_minutes"] == "soon"


def test_blank_custom_item_rows_are_ignored_and_filled_ones_kept() -> None:
    body = posted(
        PracticeSettings(),
        custom_items__3__key="safe",
        custom_items__3__prompt="I felt safe to speak.",
        custom_items__3__topic="Feeling safe to speak",
        custom_items__3__move="slow_pace",
        custom_items__0__move="invite_feedback",  # a move alone is not a row
    )
    candidate = submitted(PracticeSettings(), body)
    assert [item.key for item in candidate.custom_items] == ["safe"]
    shown = form.values_of(candidate).custom_items
    assert [row["key"] for row in shown] == ["safe", ""]  # and a blank row to add one


def test_each_rule_sentence_names_its_values() -> None:
    settings = PracticeSettings.model_validate({"rules": {"silence": {"count": 3}}})
    sentences = {rule.name: rule.explained(settings) for rule in form.RULES}
    assert sentences["silence"] == "Flags a client who has left 3 surveys in a row unanswered."
    assert sentences["low_overall"] == "Flags a session when the average of all items is below 4."
