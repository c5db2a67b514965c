"""A claim names its worker; the tick hands back the claims of a worker whose heartbeat went
stale (three missed beats), at once, and leaves a live worker's claims alone. Wall-clock time
is injected here too, so nothing waits."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import httpx
from sqlalchemy import update
from sqlmodel import col, select

from services.bootstrap import Stack
from services.worker.scheduler import tick
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Notification, NotificationStatus, WorkerHeartbeat
from shared.work.heartbeats import FORGET_AFTER, beat, stale_after
from tests.support.inspection import everything
from tests.support.loop import addressed_to, settle, tick_and_settle
from tests.support.practice import create_practice

STALE = stale_after(5.0)


def _claim_as(stack: Stack, notification_id: UUID, worker_id: UUID, clock: ManualClock) -> None:
    """Put the email back in the state a worker leaves it in mid-send."""
    with everything(stack) as session:
        session.execute(
            update(Notification)
            .where(col(Notification.id) == notification_id)
            .values(
                status=NotificationStatus.SENDING,
                claimed_by=worker_id,
                claimed_at=clock.now(),
                sent_at=None,
            )
        )


def _status(stack: Stack, notification_id: UUID) -> NotificationStatus:
    with everything(stack) as session:
        return session.exec(
            select(Notification.status).where(Notification.id == notification_id)
        ).one()


def test_a_dead_workers_claim_is_handed_back_and_a_live_ones_is_not(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", clock.now() - timedelta(hours=1))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    [first] = addressed_to(sink, practice.client["email"])
    with everything(stack) as session:
        notification_id = session.exec(select(Notification.id)).one()

    wall = ManualClock(clock.now())
    worker = uuid4()
    beat(stack.db, worker, now=wall.now())
    _claim_as(stack, notification_id, worker, clock)

    # Two beats missed: still alive, its claim stays.
    wall.advance(STALE - timedelta(seconds=1))
    assert tick(stack.db, clock, stack.publisher, wall_clock=wall).notifications_requeued == 0
    assert _status(stack, notification_id) is NotificationStatus.SENDING
    # It beats again: the clock of the schedules has not moved at all.
    beat(stack.db, worker, now=wall.now())
    wall.advance(STALE - timedelta(seconds=1))
    assert tick(stack.db, clock, stack.publisher, wall_clock=wall).notifications_requeued == 0

    # Three missed beats: dead. Its claim is handed back and queued in the same tick.
    wall.advance(timedelta(seconds=2))
    assert tick(stack.db, clock, stack.publisher, wall_clock=wall).notifications_requeued == 1
    settle(stack)
    assert _status(stack, notification_id) is NotificationStatus.SENT
    emails = addressed_to(sink, practice.client["email"])
    # The dead worker may have got as far as the relay's 250: the second copy is the same
    # message, with the same Message-ID.
    assert [str(m["Message-ID"]) for m in emails] == [str(first["Message-ID"])] * 2


def test_a_worker_that_never_came_back_is_forgotten_after_a_day(
    stack: Stack, clock: ManualClock
) -> None:
    wall = ManualClock(clock.now())
    gone, alive = uuid4(), uuid4()
    beat(stack.db, gone, now=wall.now())
    wall.advance(FORGET_AFTER)
    beat(stack.db, alive, now=wall.now())
    wall.advance(timedelta(seconds=1))
    tick(stack.db, clock, stack.publisher, wall_clock=wall)
    with everything(stack) as session:
        left = set(session.exec(select(WorkerHeartbeat.id)).all())
    assert gone not in left
    assert alive in left
