"""A refused form's problems in plain words: what to do, with a number's both bounds read from
the model, a validator's own sentence kept, and never pydantic's wording."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from services.api.pages.onboarding.appointments import AppointmentForm
from services.api.pages.plain_words import NumberRule, field_info
from services.api.pages.rendering import field_errors
from services.api.routes.clients import NewClient
from shared.practice.settings import PracticeSettings

PYDANTIC_WORDS = re.compile(r"Input should|String should|Field required|UUID|Value error")


def refused(model: type[BaseModel], **values: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model(**values)
    return caught.value


def test_the_appointment_form_posted_empty_says_what_to_enter() -> None:
    error = refused(AppointmentForm, client_id="", day="", start="", minutes="")
    assert field_errors(error, AppointmentForm, {"client_id": "Choose a client."}) == {
        "client_id": "Choose a client.",
        "day": "Enter a date.",
        "start": "Enter a time, like 09:30.",
        "minutes": "Enter a whole number between 5 and 480.",
    }


def test_a_number_names_both_bounds_though_pydantic_reports_the_one_crossed() -> None:
    error = refused(
        PracticeSettings,
        rules={"drop": {"min_history": "0", "points": "-1"}},
        timing={"survey_delay_minutes": "soon"},
    )
    assert field_errors(error, PracticeSettings) == {
        "rules.drop.min_history": "Enter a whole number between 1 and 100.",
        "rules.drop.points": "Enter a number above 0 and at most 4.",
        "timing.survey_delay_minutes": "Enter a whole number between 0 and 10080.",
    }


def test_without_the_model_the_reported_bound_is_still_in_words() -> None:
    class Hours(BaseModel):
        hour: int = Field(ge=0, le=23)

    assert field_errors(refused(Hours, hour=30)) == {"hour": "Enter a number of 23 or less."}
    assert field_errors(refused(Hours, hour=30), Hours) == {
        "hour": "Enter a whole number between 0 and 23."
    }


def test_a_validators_own_sentence_is_kept_and_emails_are_asked_for_plainly() -> None:
    error = refused(NewClient, email="", reference="a b", timezone="Mars/Olympus")
    problems = field_errors(error, NewClient)
    assert problems["email"] == "Enter an email address, like name@example.com."
    assert problems["timezone"] == "Unknown time zone 'Mars/Olympus'."
    assert problems["reference"] == "Some of these characters are not allowed here."
    assert field_errors(refused(NewClient, reference="a"), NewClient)["email"] == (
        "Enter an email address, like name@example.com."
    )


def test_a_custom_items_field_is_found_through_the_list() -> None:
    info = field_info(PracticeSettings, ("custom_items", 0, "prompt"))
    assert info is not None and info.annotation is str
    assert field_info(PracticeSettings, ("rules", "nothing")) is None


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (NumberRule(whole=True, lowest=0, highest=10), "Enter a whole number between 0 and 10."),
        (NumberRule(whole=False, lowest=1), "Enter a number of 1 or more."),
        (NumberRule(whole=False, above=0), "Enter a number above 0."),
        (NumberRule(whole=False, lowest=0, below=5), "Enter a number at least 0 and below 5."),
        (NumberRule(whole=True), "Enter a whole number."),
    ],
)
def test_number_rules_in_words(rule: NumberRule, words: str) -> None:
    assert rule.ask() == words


def test_nothing_a_settings_form_can_be_refused_for_reads_like_pydantic() -> None:
    error = refused(
        PracticeSettings,
        timezone="",
        item_keys=["honest"],
        custom_items=[{"key": "", "prompt": "", "topic": "", "move": "x"}],
        rules={"floor": {"floor": "x"}, "drop": {"in_sd": "9"}},
        timing={"quiet_hours": {"start": "x"}, "alert_lead_hours": "soon"},
        sender={"display_name": "", "reply_to": "bad", "survey_subject": "x" * 500},
        crisis_line="a",
        unknown="field",
    )
    problems = field_errors(error, PracticeSettings)
    assert len(problems) >= 10
    for field, words in problems.items():
        assert not PYDANTIC_WORDS.search(words), (field, words)
        assert words[0].isupper() and words.endswith("."), (field, words)
