"""Queue an email: one row per notification key, plus the message that will send it."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlmodel import Session, select

from shared.db import insert_ignoring_conflict
from shared.models import Notification, NotificationKind, NotificationStatus
from shared.outbox import emit

DELIVER_NOTIFICATION = "deliver_notification"

# If a queued email has not gone out by then (its message was lost, its worker died), the
# sweeper queues it again. Claiming is conditional, so an early second message is harmless.
SWEEP_AFTER = timedelta(minutes=5)


def queue_notification(
    session: Session,
    *,
    practice_id: UUID,
    kind: NotificationKind,
    key: str,
    subject_id: UUID,
    now: datetime,
) -> UUID:
    notification_id = uuid4()
    inserted = insert_ignoring_conflict(
        session,
        Notification,
        {
            "id": notification_id,
            "practice_id": practice_id,
            "key": key,
            "kind": kind,
            "subject_id": subject_id,
            "status": NotificationStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now + SWEEP_AFTER,
            "created_at": now,
        },
        ["key"],
    )
    if not inserted:  # queued before (a retried act): the message names the row that is there
        notification_id = session.exec(select(Notification.id).where(Notification.key == key)).one()
    emit(session, DELIVER_NOTIFICATION, practice_id, notification_id, at=now)
    return notification_id
