"""Send one notification, at most once per claim, and record how it went."""

from __future__ import annotations

from datetime import datetime as datetime_t
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared.clock import Clock
from shared.db import Database
from shared.email.smtp import PermanentDeliveryError, TransientDeliveryError, retry_delay
from shared.errors import NotFound
from shared.models import Notification, NotificationStatus
from shared.notifications.compose import NothingToSend, compose
from shared.notifications.queue import DELIVER_NOTIFICATION, SWEEP_AFTER
from shared.outbox import emit
from shared.settings import Settings


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # someone else has it, or it is done
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"  # nothing to say any more: see NothingToSend


def deliver(
    db: Database,
    clock: Clock,
    mailer: Mailer,
    config: Settings,
    practice_id: UUID,
    notification_id: UUID,
) -> Outcome:
    with db.transaction(practice_id) as session:
        now = clock.now()
        claimed = session.execute(
            update(Notification)
            .where(col(Notification.id) == notification_id)
            .where(col(Notification.status) == NotificationStatus.PENDING)
            .values(
                status=NotificationStatus.SENDING,
                claimed_at=now,
                attempts=Notification.attempts + 1,
            )
        ).rowcount
        if claimed != 1:
            return Outcome.SKIPPED
        notification = session.get(Notification, notification_id)
        assert notification is not None
        session.refresh(notification)
        try:
            message = compose(session, notification, config, now=now)
        except NothingToSend as moot:
            notification.status = NotificationStatus.CANCELLED
            notification.last_error = moot.reason
            return Outcome.CANCELLED
        except NotFound as gone:
            notification.status = NotificationStatus.FAILED
            notification.last_error = f"nothing to send: {gone.message}"
            return Outcome.FAILED
        attempts = notification.attempts
    # Outside any transaction: a slow mail server must not hold database locks.
    try:
        mailer.send(message)
    except TransientDeliveryError as error:
        _finish(
            db,
            practice_id,
            notification_id,
            status=NotificationStatus.PENDING,
            next_attempt_at=clock.now() + retry_delay(attempts),
            last_error=error.reason[:500],
        )
        return Outcome.RETRY
    except PermanentDeliveryError as error:
        _finish(
            db,
            practice_id,
            notification_id,
            status=NotificationStatus.FAILED,
            last_error=error.reason[:500],
        )
        return Outcome.FAILED
    _finish(
        db,
        practice_id,
        notification_id,
        status=NotificationStatus.SENT,
        sent_at=clock.now(),
        message_id=str(message["Message-ID"]),
        last_error=None,
    )
    return Outcome.SENT


def _finish(db: Database, practice_id: UUID, notification_id: UUID, **values: object) -> None:
    with db.transaction(practice_id) as session:
        session.execute(
            update(Notification)
            .where(col(Notification.id) == notification_id)
            .where(col(Notification.status) == NotificationStatus.SENDING)
            .values(**values)
        )


# The sweeper, in two find/act pairs like every scheduler job: the finds run across practices
# and return (practice id, notification id); each act is a conditional update in the
# notification's own practice, so a second scheduler or an overlapping tick changes nothing.


def stuck_notifications(
    session: Session, *, now: datetime_t, limit: int
) -> list[tuple[UUID, UUID]]:
    """Claims whose worker died mid-send."""
    rows = session.exec(
        select(Notification.practice_id, Notification.id)
        .where(Notification.status == NotificationStatus.SENDING)
        .where(col(Notification.claimed_at) <= now - 2 * SWEEP_AFTER)
        .limit(limit)
    ).all()
    return [(practice_id, notification_id) for practice_id, notification_id in rows]


def release_notification(session: Session, notification_id: UUID, *, now: datetime_t) -> bool:
    return (
        session.execute(
            update(Notification)
            .where(col(Notification.id) == notification_id)
            .where(col(Notification.status) == NotificationStatus.SENDING)
            .where(col(Notification.claimed_at) <= now - 2 * SWEEP_AFTER)
            .values(status=NotificationStatus.PENDING, next_attempt_at=now)
        ).rowcount
        == 1
    )


def due_notifications(session: Session, *, now: datetime_t, limit: int) -> list[tuple[UUID, UUID]]:
    """What should have gone out by now: retries whose backoff is over, lost messages."""
    rows = session.exec(
        select(Notification.practice_id, Notification.id)
        .where(Notification.status == NotificationStatus.PENDING)
        .where(col(Notification.next_attempt_at) <= now)
        .order_by(col(Notification.next_attempt_at))
        .limit(limit)
    ).all()
    return [(practice_id, notification_id) for practice_id, notification_id in rows]


def requeue_notification(session: Session, notification_id: UUID, *, now: datetime_t) -> bool:
    claimed = session.execute(
        update(Notification)
        .where(col(Notification.id) == notification_id)
        .where(col(Notification.status) == NotificationStatus.PENDING)
        .where(col(Notification.next_attempt_at) <= now)
        .values(next_attempt_at=now + SWEEP_AFTER)
    ).rowcount
    if claimed != 1:
        return False
    notification = session.get(Notification, notification_id)
    assert notification is not None
    emit(session, DELIVER_NOTIFICATION, notification.practice_id, notification.id, at=now)
    return True
