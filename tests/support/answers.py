"""A client answers a survey through the real loop: session, email, link, form."""

from __future__ import annotations

from datetime import timedelta

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from tests.support.links import survey_path
from tests.support.loop import addressed_to, tick_and_settle
from tests.support.practice import PracticeFixture

LOW = {"honest": "2", "disagree": "3", "respected": "4", "input": "4", "pace": "2"}
ANSWERS = {"honest": "4", "disagree": "4", "respected": "5", "input": "4", "pace": "4"}


def complete_and_send(
    stack: Stack, clock: ManualClock, practice: PracticeFixture, visit: str
) -> None:
    """Book and complete `visit` an hour ago; its survey goes out."""
    practice.book(visit, clock.now() - timedelta(hours=1))
    practice.complete(visit)
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)


def answer_a_survey(
    practice: PracticeFixture,
    stack: Stack,
    sink: MailSink,
    clock: ManualClock,
    *,
    visit: str,
    comment: str | None = None,
    scores: dict[str, str] = LOW,
    headers: dict[str, str] | None = None,
    evaluate: bool = True,
) -> None:
    """Book and complete `visit` an hour ago, send its survey, answer it, raise any alert.
    `evaluate=False` stops before the answer's evaluation runs (it is published when the
    caller next settles), so a test can break it first."""
    client_email = practice.client["email"]
    already = len(addressed_to(sink, client_email))
    complete_and_send(stack, clock, practice, visit)
    surveys = addressed_to(sink, client_email)
    assert len(surveys) == already + 1
    form = dict(scores, comment=comment) if comment is not None else dict(scores)
    stored = practice.http.post(survey_path(surveys[-1]), data=form, headers=headers)
    assert stored.status_code == 200, stored.text
    if evaluate:
        tick_and_settle(stack)
