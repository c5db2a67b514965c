"""Send one notification, at most once per claim, and record how it went."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime as datetime_t
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from sqlalchemy import ColumnElement, Update, and_, bindparam, or_, update
from sqlmodel import Session, col, select

from shared.clock import Clock
from shared.db import Database
from shared.db.claim import claim_row, claiming
from shared.db.due import find_due
from shared.email.message import OutgoingEmail
from shared.email.smtp import PermanentDeliveryError, TransientDeliveryError, retry_delay
from shared.errors import NotFound
from shared.models import Notification, NotificationStatus, WorkerHeartbeat
from shared.notifications.compose import ClaimedNotification, NothingToSend, compose
from shared.notifications.queue import DELIVER_NOTIFICATION, SWEEP_AFTER
from shared.outbox import emit
from shared.settings import Settings
from shared.work.heartbeats import stale_after as heartbeats_stale_after

# The default heartbeat (5 s) gone stale; the scheduler passes its own cut-off.
HEARTBEAT_STALE = heartbeats_stale_after(5.0)
# A claim that names no worker (made before heartbeats, or by a caller without one) is handed
# back after this long.
CLAIM_LIMIT = 2 * SWEEP_AFTER


_NOTIFICATION = Notification.__table__  # type: ignore[attr-defined]

# The send path's statements are built once, with bound parameters: building them anew was
# a tenth of a worker's CPU per email.
_CLAIM = claiming(
    Notification,
    bindparam("notification_id"),
    col(Notification.status) == NotificationStatus.PENDING,
    status=NotificationStatus.SENDING,
    claimed_at=bindparam("now"),
    claimed_by=bindparam("worker_id"),
    attempts=Notification.attempts + 1,
).returning(
    _NOTIFICATION.c.id,
    _NOTIFICATION.c.practice_id,
    _NOTIFICATION.c.key,
    _NOTIFICATION.c.kind,
    _NOTIFICATION.c.subject_id,
    _NOTIFICATION.c.attempts,
)


class Mailer(Protocol):
    def send(self, message: OutgoingEmail, *, accepted: Callable[[], None] | None = None) -> None:
        """Deliver; call `accepted` the moment the relay has taken the message (before
        anything else, even QUIT), so it is recorded with nothing in between."""
        ...

    def close(self) -> None:
        """Let go of whatever the calling thread holds open (its SMTP connection)."""
        ...


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
    *,
    worker_id: UUID | None = None,
) -> Outcome:
    with db.transaction(practice_id) as session:
        now = clock.now()
        claimed = (
            session.connection()
            .execute(
                _CLAIM, {"notification_id": notification_id, "now": now, "worker_id": worker_id}
            )
            .first()
        )
        if claimed is None:
            return Outcome.SKIPPED
        notification = ClaimedNotification(*claimed)
        try:
            message = compose(session, notification, config, now=now)
        except NothingToSend as moot:
            _set(
                session,
                notification_id,
                status=NotificationStatus.CANCELLED,
                last_error=moot.reason,
            )
            return Outcome.CANCELLED
        except NotFound as gone:
            _set(
                session,
                notification_id,
                status=NotificationStatus.FAILED,
                last_error=f"nothing to send: {gone.message}",
            )
            return Outcome.FAILED
        attempts = notification.attempts
    message_id = message.message_id
    # The record's transaction is opened (and its practice named) before the send, and holds
    # no lock while the mail server works; once the relay says 250, one UPDATE and a COMMIT
    # are all that stand between the accepted email and Attune knowing it: the at-least-once
    # window (README, "Faults and guarantees").
    relay_took_it = threading.Event()
    with db.prepared_transaction(practice_id) as record:

        def accepted() -> None:
            relay_took_it.set()
            _finish(
                record,
                worker_id,
                notification_id,
                status=NotificationStatus.SENT,
                sent_at=clock.now(),
                message_id=message_id,
                last_error=None,
            )

        try:
            mailer.send(message, accepted=accepted)
        except TransientDeliveryError as error:
            _finish(
                record,
                worker_id,
                notification_id,
                status=NotificationStatus.PENDING,
                next_attempt_at=clock.now() + retry_delay(attempts),
                last_error=error.reason[:500],
            )
            return Outcome.RETRY
        except PermanentDeliveryError as error:
            _finish(
                record,
                worker_id,
                notification_id,
                status=NotificationStatus.FAILED,
                last_error=error.reason[:500],
            )
            return Outcome.FAILED
        except Exception:
            if not relay_took_it.is_set():
                raise
            # The relay took it and recording it failed (the database went away): below.
    if not record.info.get("finished"):
        # Recording failed (or the mailer returned without calling back): try again in fresh
        # transactions for a few seconds before leaving the claim to the sweep, which would
        # send it a second time.
        _record_sent_again(db, worker_id, practice_id, notification_id, clock, message_id)
    return Outcome.SENT


def _set(session: Session, notification_id: UUID, **values: object) -> None:
    """Settle a claim just taken in the same transaction (the email is called off)."""
    session.connection().execute(
        update(Notification).where(col(Notification.id) == notification_id).values(**values)
    )


@functools.cache
def _finishing(columns: frozenset[str]) -> Update:
    """The UPDATE that ends a claim, setting `columns` (bound as "new_<column>"), built once per
    outcome."""
    return (
        update(_NOTIFICATION)
        .where(_NOTIFICATION.c.id == bindparam("notification_id"))
        .where(_NOTIFICATION.c.status == NotificationStatus.SENDING)
        .where(_NOTIFICATION.c.claimed_by.is_not_distinct_from(bindparam("worker_id")))
        .values({column: bindparam(f"new_{column}") for column in sorted(columns)})
    )


def _finish(
    record: Session, worker_id: UUID | None, notification_id: UUID, **values: object
) -> None:
    """End a claim, only while it is still ours (a claim handed back and taken by another
    worker is theirs to finish), and commit at once."""
    record.connection().execute(
        _finishing(frozenset(values)),
        {
            "notification_id": notification_id,
            "worker_id": worker_id,
            **{f"new_{column}": value for column, value in values.items()},
        },
    )
    record.commit()
    record.info["finished"] = True


RECORD_RETRIES = (0.2, 0.5, 1.0, 2.0, 4.0)


def _record_sent_again(
    db: Database,
    worker_id: UUID | None,
    practice_id: UUID,
    notification_id: UUID,
    clock: Clock,
    message_id: str,
) -> None:
    pause = threading.Event()
    for delay in (*RECORD_RETRIES, None):
        try:
            with db.prepared_transaction(practice_id) as record:
                _finish(
                    record,
                    worker_id,
                    notification_id,
                    status=NotificationStatus.SENT,
                    sent_at=clock.now(),
                    message_id=message_id,
                    last_error=None,
                )
            return
        except Exception:
            if delay is None:
                raise
            pause.wait(delay)


# The sweeper, in two find/act pairs like every scheduler job: the finds run across practices
# and return (practice id, notification id); each act is a conditional update in the
# notification's own practice, so a second scheduler or an overlapping tick changes nothing.


def _claim_abandoned(now: datetime_t, alive_since: datetime_t | None) -> ColumnElement[bool]:
    """A claim whose worker has not beaten since `alive_since` (wall-clock time, as the
    heartbeats are: liveness is about real seconds, not the scheduler's clock), or, for a claim
    that names no worker, one older than CLAIM_LIMIT."""
    alive = (
        select(WorkerHeartbeat.id)
        .where(col(WorkerHeartbeat.id) == col(Notification.claimed_by))
        .where(
            col(WorkerHeartbeat.beat_at) > (alive_since or datetime_t.now(UTC) - HEARTBEAT_STALE)
        )
    )
    return or_(
        col(Notification.claimed_at) <= now - CLAIM_LIMIT,
        and_(col(Notification.claimed_by).is_not(None), ~alive.exists()),
    )


def stuck_notifications(
    session: Session, *, now: datetime_t, limit: int, alive_since: datetime_t | None = None
) -> list[tuple[UUID, UUID]]:
    """Claims whose worker died mid-send."""
    return find_due(
        session,
        "release_notification",
        Notification,
        col(Notification.status) == NotificationStatus.SENDING,
        _claim_abandoned(now, alive_since),
        due=col(Notification.claimed_at),
        now=now,
        limit=limit,
    )


def release_notification(
    session: Session,
    notification_id: UUID,
    *,
    now: datetime_t,
    alive_since: datetime_t | None = None,
) -> bool:
    """Hand the claim back and queue the email at once (the worker is gone; if it had got as
    far as the relay's 250, this sends it a second time, with the same Message-ID)."""
    notification = claim_row(
        session,
        Notification,
        notification_id,
        col(Notification.status) == NotificationStatus.SENDING,
        _claim_abandoned(now, alive_since),
        status=NotificationStatus.PENDING,
        claimed_by=None,
        next_attempt_at=now + SWEEP_AFTER,
    )
    if notification is None:
        return False
    emit(session, DELIVER_NOTIFICATION, notification.practice_id, notification.id, at=now)
    return True


def due_notifications(session: Session, *, now: datetime_t, limit: int) -> list[tuple[UUID, UUID]]:
    """What should have gone out by now: retries whose backoff is over, lost messages."""
    return find_due(
        session,
        "requeue_notification",
        Notification,
        col(Notification.status) == NotificationStatus.PENDING,
        col(Notification.next_attempt_at) <= now,
        due=col(Notification.next_attempt_at),
        now=now,
        limit=limit,
    )


def requeue_notification(session: Session, notification_id: UUID, *, now: datetime_t) -> bool:
    notification = claim_row(
        session,
        Notification,
        notification_id,
        col(Notification.status) == NotificationStatus.PENDING,
        col(Notification.next_attempt_at) <= now,
        next_attempt_at=now + SWEEP_AFTER,
    )
    if notification is None:
        return False
    emit(session, DELIVER_NOTIFICATION, notification.practice_id, notification.id, at=now)
    return True
