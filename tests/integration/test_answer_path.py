"""A survey answer through the real API, on the path each database takes (PostgreSQL: psycopg in
pipeline mode, its practice named by answer_link_practice; SQLite: SQLAlchemy Core): every
state of a link gets the answer it always got, and answers racing on one link store once."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text, update

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.db.row_security import APP_ROLE
from shared.email.sink import MailSink
from shared.models import AccessToken, Invitation, InvitationStatus, OutboxEvent, Response
from shared.security import hash_token
from shared.survey.responses import EVALUATE_RESPONSE
from tests.support.answers import ANSWERS, complete_and_send
from tests.support.inspection import count, everything
from tests.support.links import survey_path, unsubscribe_path
from tests.support.loop import addressed_to, tick_and_settle
from tests.support.practice import CLIENT_EMAIL, PracticeFixture


def _evaluations(stack: Stack) -> int:
    return count(stack, OutboxEvent, OutboxEvent.actor == EVALUATE_RESPONSE)


def test_every_state_of_a_link_gets_the_answer_it_always_got(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    complete_and_send(stack, clock, practice, "visit-1")
    email = addressed_to(sink, CLIENT_EMAIL)[-1]
    path, unsubscribe = survey_path(email), unsubscribe_path(email)

    unknown = http.post("/s/" + "n" * 43, data=ANSWERS)
    assert unknown.status_code == 404 and "not valid" in unknown.text
    # An unsubscribe link's token is a real token of this practice, but opens no survey.
    wrong_kind = http.post("/s/" + unsubscribe.rsplit("/", 1)[-1], data=ANSWERS)
    assert wrong_kind.status_code == 404 and "not valid" in wrong_kind.text
    missing = http.post(path, data={**ANSWERS, "pace": ""})
    assert missing.status_code == 422 and "<form" in missing.text
    assert count(stack, Response) == 0 and _evaluations(stack) == 0

    assert http.post(path, data=ANSWERS).status_code == 200
    again = http.post(path, data=ANSWERS)
    assert again.status_code == 409 and "Already answered" in again.text
    assert count(stack, Response) == 1 and _evaluations(stack) == 1

    # A second session's survey, left unanswered until it closes.
    complete_and_send(stack, clock, practice, "visit-2")
    closed_path = survey_path(addressed_to(sink, CLIENT_EMAIL)[-1])
    clock.advance(timedelta(days=4))
    tick_and_settle(stack)
    closed = http.post(closed_path, data=ANSWERS)
    assert closed.status_code == 410 and "closed" in closed.text

    # A third whose link itself has run out, while its invitation is still open.
    complete_and_send(stack, clock, practice, "visit-3")
    expired_path = survey_path(addressed_to(sink, CLIENT_EMAIL)[-1])
    digest = hash_token(expired_path.rsplit("/", 1)[-1])
    with everything(stack) as session:
        session.exec(
            update(AccessToken)  # type: ignore[call-overload]
            .where(AccessToken.token_hash == digest)  # type: ignore[arg-type]
            .values(expires_at=clock.now() - timedelta(minutes=1))
        )
    expired = http.post(expired_path, data=ANSWERS)
    assert expired.status_code == 410 and "expired" in expired.text
    assert count(stack, Response) == 1 and _evaluations(stack) == 1


def test_answers_racing_on_one_link_store_once(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    complete_and_send(stack, clock, practice, "visit-1")
    path = survey_path(addressed_to(sink, CLIENT_EMAIL)[-1])
    racers = 8
    start = threading.Barrier(racers)
    statuses: list[int] = []

    def answer() -> None:
        with httpx.Client(base_url=str(http.base_url), timeout=30) as own:
            start.wait()
            statuses.append(own.post(path, data=ANSWERS).status_code)

    threads = [threading.Thread(target=answer) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200] + [409] * (racers - 1)
    assert count(stack, Response) == 1 and _evaluations(stack) == 1
    assert count(stack, Invitation, Invitation.status == InvitationStatus.ANSWERED) == 1


@pytest.mark.postgres
def test_an_answer_on_a_connection_the_database_dropped_is_refused_503_then_goes_through(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    complete_and_send(stack, clock, practice, "visit-1")
    path = survey_path(addressed_to(sink, CLIENT_EMAIL)[-1])
    assert http.post("/s/" + "n" * 43, data=ANSWERS).status_code == 404  # a pooled connection
    # This database's connections only: the server and the role are shared with other runs.
    with everything(stack) as session:
        dropped = session.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE usename = :role AND datname = current_database()"
            ),
            {"role": APP_ROLE},
        ).scalar_one()
    assert dropped >= 1
    statuses = [http.post(path, data=ANSWERS).status_code]
    while statuses[-1] == 503 and len(statuses) < 20:
        statuses.append(http.post(path, data=ANSWERS).status_code)
    # Each pooled connection the server dropped fails one request with a 503 (never a 500)
    # and leaves the pool; then the answer is stored, once.
    assert statuses[0] == 503 and statuses[-1] == 200, statuses
    assert set(statuses) == {503, 200}
    assert count(stack, Response) == 1 and _evaluations(stack) == 1
