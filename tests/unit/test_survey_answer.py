"""The rules a survey answer passes, on what the one read found: no database needed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from shared.errors import Conflict, DomainError, Gone, Invalid, NotFound
from shared.models import InvitationStatus, TokenPurpose
from shared.practice.settings import PracticeSettings
from shared.survey.items import DEFAULT_ITEM_KEYS
from shared.survey.responses import AnswerState, accept_answer

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANSWERS = dict.fromkeys(DEFAULT_ITEM_KEYS, "4")
OPEN = AnswerState(
    purpose=TokenPurpose.SURVEY,
    link_expires_at=NOW + timedelta(days=7),
    invitation_id=uuid4(),
    practice_id=uuid4(),
    client_id=uuid4(),
    appointment_id=uuid4(),
    status=InvitationStatus.SENT,
    expires_at=NOW + timedelta(days=7),
    clinician_id=uuid4(),
    settings=PracticeSettings().model_dump(mode="json"),
)


def _accept(state: AnswerState | None, **answers: str) -> dict[str, object]:
    return accept_answer(
        state, scores=answers or ANSWERS, asked_to_talk=True, comment="  thanks ", now=NOW
    )


def test_an_open_link_gives_the_response_row() -> None:
    row = _accept(OPEN)
    assert row["invitation_id"] == OPEN.invitation_id
    assert row["clinician_id"] == OPEN.clinician_id
    assert row["scores"] == dict.fromkeys(DEFAULT_ITEM_KEYS, 4)
    assert row["mean"] == 4
    assert row["comment"] == "thanks"
    assert row["submitted_at"] == NOW


@pytest.mark.parametrize(
    ("state", "refusal"),
    [
        (None, NotFound),
        (replace(OPEN, purpose=TokenPurpose.UNSUBSCRIBE), NotFound),
        (replace(OPEN, link_expires_at=NOW), Gone),
        (replace(OPEN, status=None), NotFound),
        (replace(OPEN, status=InvitationStatus.ANSWERED), Conflict),
        (replace(OPEN, status=InvitationStatus.EXPIRED), Gone),
        (replace(OPEN, expires_at=NOW - timedelta(seconds=1)), Gone),
        (replace(OPEN, status=InvitationStatus.SCHEDULED), NotFound),
        (replace(OPEN, settings=None), NotFound),
    ],
)
def test_a_link_that_opens_no_survey_is_refused(
    state: AnswerState | None, refusal: type[DomainError]
) -> None:
    with pytest.raises(refusal):
        _accept(state)


def test_answers_must_be_whole_numbers_for_every_question() -> None:
    with pytest.raises(Invalid, match="every question"):
        _accept(OPEN, **{DEFAULT_ITEM_KEYS[0]: "4"})
    with pytest.raises(Invalid, match="whole number"):
        _accept(OPEN, **{**ANSWERS, DEFAULT_ITEM_KEYS[0]: "9"})
