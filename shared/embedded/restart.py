"""What `attune serve` does before it starts working after a stop, clean or not.

In production the broker is Redis: a message published before a crash is still there after
it, and a claim left by a dead worker is released by the sweep once it is old enough to be
sure the worker is gone. In one process the broker lives in memory, so whatever it held is
gone after a restart; and the instance lock (shared.embedded.lock) proves that nobody else
is working, so every claim found at start-up is an orphan, with no need to wait.

So, before the workers start:
- every claim left in `sending` goes back to `pending`, due now. The email may have reached
  the relay before the crash and not been recorded: it goes again, with the same Message-ID,
  exactly as production's sweep would send it (the at-least-once window, README).
- every email queued and never tried is due now (its message was in memory).
- every other event relayed within the actors' age limit is published again. Each actor is
  idempotent, so the ones that had already run change nothing; the ones that had not, run.
Emails waiting out a retry backoff keep their time: the scheduler's sweep sends them then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from shared.db import Database
from shared.logging import following
from shared.models import Notification, NotificationStatus, OutboxEvent
from shared.notifications.queue import DELIVER_NOTIFICATION
from shared.outbox import Publisher

# The longest any actor's message stays worth running (services.worker.actors, max_age).
REPLAY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Recovery:
    claims_released: int
    emails_due_now: int
    events_replayed: int


def recover(db: Database, publisher: Publisher, *, now: datetime) -> Recovery:
    """Call with the instance lock held and before any worker runs."""
    # One process, one file: no row-level security here, so one transaction sees everything.
    with db.transaction() as session:
        released = session.exec(
            update(Notification)
            .where(col(Notification.status) == NotificationStatus.SENDING)
            .values(status=NotificationStatus.PENDING, next_attempt_at=now)
        ).rowcount
        never_tried = session.exec(
            update(Notification)
            .where(col(Notification.status) == NotificationStatus.PENDING)
            .where(col(Notification.attempts) == 0)
            .where(col(Notification.next_attempt_at) > now)
            .values(next_attempt_at=now)
        ).rowcount
        replay = session.exec(
            select(OutboxEvent.actor, OutboxEvent.args, OutboxEvent.request_id)
            .where(col(OutboxEvent.published_at) >= now - REPLAY_WINDOW)
            .where(OutboxEvent.actor != DELIVER_NOTIFICATION)
            .order_by(col(OutboxEvent.id))
        ).all()
    for actor, args, request_id in replay:
        with following(request_id):
            publisher.publish(actor, args)
    return Recovery(released, never_tried, len(replay))
