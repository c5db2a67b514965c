"""A client answers a survey through the real loop: session, email, link, form."""

from __future__ import annotations

from datetime import timedelta

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture

LOW = {"honest": "2", "disagree": "3", "respected": "4", "input": "4", "pace": "2"}


def answer_a_survey(
    practice: PracticeFixture,
    stack: Stack,
    sink: MailSink,
    clock: ManualClock,
    *,
    visit: str,
    comment: str | None = None,
    scores: dict[str, str] = LOW,
) -> None:
    """Book and complete `visit` an hour ago, send its survey, answer it, raise any alert."""
    client_email = practice.client["email"]
    already = len(addressed_to(sink, client_email))
    practice.book(visit, clock.now() - timedelta(hours=1))
    practice.complete(visit)
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    surveys = addressed_to(sink, client_email)
    assert len(surveys) == already + 1
    newest = surveys[-1]
    url = next(link for link in links(newest) if "/s/" in link and "?" not in link)
    form = dict(scores, comment=comment) if comment is not None else dict(scores)
    stored = practice.http.post(url.removeprefix("http://attune.test"), data=form)
    assert stored.status_code == 200, stored.text
    tick_and_settle(stack)
