"""The mail server goes away for a while: notifications wait in the database, retry with
backoff, and go out once it is back, none lost and none twice.

It runs in both modes: the outage is a real aiosmtpd server stopped and started again on the
same port, and the waiting and retrying live in the database, whatever the broker.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.email.smtp import retry_delay
from shared.models import Notification, NotificationStatus
from tests.conftest import START
from tests.support.caseload import held_and_upcoming
from tests.support.inspection import everything
from tests.support.loop import addressed_to, messages, tick_and_settle
from tests.support.practice import create_practice

CLIENTS = 3


def _notifications(stack: Stack) -> list[Notification]:
    with everything(stack) as session:
        return list(session.exec(select(Notification)).all())


def test_mail_waits_for_the_smtp_server_and_goes_out_once(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    clients = held_and_upcoming(
        practice, CLIENTS, held_at=START - timedelta(hours=1), upcoming_at=START + timedelta(days=7)
    )
    clock.advance(timedelta(minutes=61))
    sink.stop()

    report = tick_and_settle(stack)
    assert report.invitations_sent == CLIENTS
    waiting = _notifications(stack)
    assert len(waiting) == CLIENTS
    assert all(n.status is NotificationStatus.PENDING and n.attempts == 1 for n in waiting)
    assert all(n.last_error for n in waiting)

    # Still down at the first retry: each tries once more and backs off further.
    clock.advance(retry_delay(1) + timedelta(seconds=1))
    tick_and_settle(stack)
    waiting = _notifications(stack)
    assert all(n.status is NotificationStatus.PENDING and n.attempts == 2 for n in waiting)
    assert messages(sink) == []

    sink.start()
    # Before the backoff is over nothing is sent, even with the server back.
    tick_and_settle(stack)
    assert messages(sink) == []
    clock.advance(retry_delay(2) + timedelta(seconds=1))
    tick_and_settle(stack)

    sent = _notifications(stack)
    assert all(n.status is NotificationStatus.SENT and n.attempts == 3 for n in sent)
    for client in clients:
        assert len(addressed_to(sink, client.email)) == 1
    # Later ticks find nothing more to send.
    clock.advance(timedelta(hours=1))
    tick_and_settle(stack)
    assert len(messages(sink)) == CLIENTS
