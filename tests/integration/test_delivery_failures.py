"""A survey email through the whole loop against SMTP servers that misbehave: the
notification's state, its retries and its failure reason as the owner sees them in the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.db import Database
from shared.email.smtp import retry_delay
from shared.models import Notification, NotificationStatus
from shared.settings import Settings
from tests.conftest import make_stack
from tests.integration.test_smtp import DropAfterData, Received, Recorder, Refuser, smtp_server
from tests.integration.test_smtp_connections import HangUpAfterEach, Sessions
from tests.support.caseload import held_and_upcoming
from tests.support.inspection import everything
from tests.support.loop import tick_and_settle
from tests.support.practice import PracticeFixture, create_practice
from tests.support.server import serving

CLIENT_EMAIL = "robin.client@harbour.example.com"


@contextmanager
def loop_mailing_to(
    port: int, settings: Settings, clock: ManualClock
) -> Iterator[tuple[Stack, httpx.Client]]:
    stack = make_stack(settings.model_copy(update={"smtp_port": port}), clock)
    try:
        with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            yield stack, http
    finally:
        if settings.redis_url:
            stack.broker.flush_all()  # type: ignore[attr-defined]
        stack.stop()


def send_survey(stack: Stack, clock: ManualClock, practice: PracticeFixture) -> None:
    practice.book("visit-1", clock.now() - timedelta(hours=1))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)


def the_notification(stack: Stack) -> Notification:
    with everything(stack) as session:
        return Notification.model_validate(session.exec(select(Notification)).one())


def as_owner_sees_it(practice: PracticeFixture, **query: Any) -> list[dict[str, Any]]:
    listed = practice.http.get("/api/v1/notifications", params=query, headers=practice.as_owner())
    assert listed.status_code == 200, listed.text
    return listed.json()  # type: ignore[no-any-return]


def test_a_server_that_fails_once_gets_the_message_once_after_backoff(
    settings: Settings, clock: ManualClock, db: Database
) -> None:
    handler = Refuser("MAIL", "451 4.3.0 Try again later", failures=1)
    with smtp_server(handler) as port, loop_mailing_to(port, settings, clock) as (stack, http):
        practice = create_practice(http)
        send_survey(stack, clock, practice)
        waiting = the_notification(stack)
        assert waiting.status is NotificationStatus.PENDING
        assert waiting.attempts == 1
        assert waiting.last_error is not None and "451" in waiting.last_error
        assert waiting.next_attempt_at == clock.now() + retry_delay(1)
        assert handler.received == []

        # Not before its time: the backoff lives in the database, not in a sleeping worker.
        clock.set(waiting.next_attempt_at - timedelta(seconds=1))
        tick_and_settle(stack)
        assert the_notification(stack).attempts == 1
        clock.set(waiting.next_attempt_at)
        tick_and_settle(stack)
        clock.advance(timedelta(hours=1))
        tick_and_settle(stack)

        sent = the_notification(stack)
        assert sent.status is NotificationStatus.SENT
        assert sent.attempts == 2
        assert sent.last_error is None
        [received] = handler.received
        assert received.parsed()["Message-ID"] == sent.message_id
        [shown] = as_owner_sees_it(practice)
        assert (shown["status"], shown["attempts"], shown["message_id"]) == (
            "sent",
            2,
            sent.message_id,
        )


def test_a_server_that_always_refuses_marks_it_failed_with_the_reason_and_stops(
    settings: Settings, clock: ManualClock, db: Database
) -> None:
    handler = Refuser("RCPT", "550 5.1.1 <{address}>: Recipient address rejected")
    with smtp_server(handler) as port, loop_mailing_to(port, settings, clock) as (stack, http):
        practice = create_practice(http)
        send_survey(stack, clock, practice)
        for _ in range(3):
            clock.advance(timedelta(hours=2))
            tick_and_settle(stack)

        failed = the_notification(stack)
        assert failed.status is NotificationStatus.FAILED
        assert failed.attempts == 1  # permanent: never tried again
        assert handler.refused == 1
        practice.log_in_again()
        [shown] = as_owner_sees_it(practice, status="failed")
        assert shown["kind"] == "survey"
        assert "550 5.1.1" in shown["last_error"]
        assert "Recipient address rejected" in shown["last_error"]
        assert CLIENT_EMAIL not in str(shown)  # the log says what happened, not to whom
        assert as_owner_sees_it(practice, status="sent") == []
        # Only the owner reads the practice's mail log.
        clinician = http.get("/api/v1/notifications", headers=practice.as_clinician())
        assert clinician.status_code == 403
        bad_filter = http.get(
            "/api/v1/notifications", params={"status": "lost"}, headers=practice.as_owner()
        )
        assert bad_filter.status_code == 422
        assert "status" in bad_filter.text


def test_a_dropped_connection_is_retried_and_never_marked_failed(
    settings: Settings, clock: ManualClock, db: Database
) -> None:
    with (
        smtp_server(DropAfterData()) as port,
        loop_mailing_to(port, settings, clock) as (
            stack,
            http,
        ),
    ):
        practice = create_practice(http)
        send_survey(stack, clock, practice)
        first = the_notification(stack)
        assert first.status is NotificationStatus.PENDING
        assert first.attempts == 1
        assert first.last_error is not None and "disconnect" in first.last_error.lower()
        clock.set(first.next_attempt_at)
        tick_and_settle(stack)
        clock.advance(timedelta(minutes=10))
        tick_and_settle(stack)
        second = the_notification(stack)
        assert second.status is NotificationStatus.PENDING
        assert second.attempts >= 2
        assert second.next_attempt_at > first.next_attempt_at


def test_a_refused_connection_is_retried(
    settings: Settings, clock: ManualClock, db: Database
) -> None:
    with smtp_server(Recorder()) as port:
        pass  # the port is now closed: nothing listens there
    with loop_mailing_to(port, settings, clock) as (stack, http):
        practice = create_practice(http)
        send_survey(stack, clock, practice)
        refused = the_notification(stack)
        assert refused.status is NotificationStatus.PENDING
        assert refused.attempts == 1
        assert refused.last_error is not None and "refused" in refused.last_error.lower()


def _send_surveys(stack: Stack, clock: ManualClock, practice: PracticeFixture) -> list[str]:
    clients = held_and_upcoming(
        practice,
        SURVEYS,
        held_at=clock.now() - timedelta(hours=1),
        upcoming_at=clock.now() + timedelta(days=7),
    )
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    return [client.email for client in clients]


def _all_sent_once(stack: Stack, received: list[Received], emails: list[str]) -> None:
    with everything(stack) as session:
        notifications = session.exec(select(Notification)).all()
    assert len(notifications) == len(emails)
    assert all(n.status is NotificationStatus.SENT and n.attempts == 1 for n in notifications)
    parsed = [message.parsed() for message in received]
    assert sorted(str(m["To"]) for m in parsed) == sorted(emails)
    assert sorted(str(m["Message-ID"]) for m in parsed) == sorted(
        str(n.message_id) for n in notifications
    )


SURVEYS = 5


def test_a_worker_thread_sends_its_emails_over_one_connection_and_quits_it(
    settings: Settings, clock: ManualClock, db: Database
) -> None:
    server = Sessions()
    with smtp_server(server) as port:
        with loop_mailing_to(port, settings, clock) as (stack, http):
            emails = _send_surveys(stack, clock, create_practice(http))
            _all_sent_once(stack, server.received, emails)
            threads = stack.workers[0].worker_threads
            assert len(set(server.peers)) <= threads < SURVEYS
        # Stopping the worker ends each connection politely.
        assert server.quits == len(set(server.peers))


def test_a_server_that_hangs_up_after_each_email_gets_each_exactly_once(
    settings: Settings, clock: ManualClock, db: Database
) -> None:
    server = HangUpAfterEach()
    with smtp_server(server) as port, loop_mailing_to(port, settings, clock) as (stack, http):
        emails = _send_surveys(stack, clock, create_practice(http))
        _all_sent_once(stack, server.received, emails)
        assert len(set(server.peers)) == SURVEYS
