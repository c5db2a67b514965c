"""The scheduler tick: long waits live in the database, and this finds what has come due.

Each item is claimed with a conditional update in its own transaction, so several scheduler
replicas can tick at once without doing anything twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from shared.alerts import nudges
from shared.clock import Clock
from shared.db import Database
from shared.notifications import delivery, digests
from shared.outbox import Publisher, relay
from shared.retention import DEFAULT_RETENTION, purge_expired
from shared.survey import invitations

log = structlog.get_logger("attune.scheduler")
BATCH = 200


@dataclass
class TickReport:
    invitations_sent: int = 0
    invitations_expired: int = 0
    reminders_sent: int = 0
    nudges_sent: int = 0
    digests_sent: int = 0
    notifications_requeued: int = 0
    published: int = 0


def _each_due(
    db: Database,
    now: datetime,
    find: Callable[..., list[tuple[UUID, UUID]]],
    act: Callable[..., bool],
) -> int:
    # Only the finding crosses practices; each act runs as its own practice.
    with db.across_practices() as session:
        due = find(session, now=now, limit=BATCH)
    done = 0
    for practice_id, item_id in due:
        with db.transaction(practice_id) as session:
            done += act(session, item_id, now=now)
    return done


def tick(
    db: Database, clock: Clock, publisher: Publisher, *, retention: timedelta = DEFAULT_RETENTION
) -> TickReport:
    now = clock.now()
    report = TickReport(
        invitations_sent=_each_due(
            db, now, invitations.due_invitations, invitations.send_invitation
        ),
        invitations_expired=_each_due(
            db, now, invitations.expired_invitations, invitations.expire_invitation
        ),
        reminders_sent=_each_due(db, now, invitations.due_reminders, invitations.send_reminder),
        nudges_sent=_each_due(db, now, nudges.due_nudges, nudges.send_nudge),
        digests_sent=_each_due(db, now, digests.digest_clinicians_with_nudges, digests.send_digest),
    )
    report.notifications_requeued = _each_due(
        db, now, delivery.stuck_notifications, delivery.release_notification
    ) + _each_due(db, now, delivery.due_notifications, delivery.requeue_notification)
    report.published = relay(db, publisher, clock)
    purge_expired(db, now=now, keep=retention)
    if any(vars(report).values()):
        log.info("scheduler.tick", **vars(report))
    return report


def run_forever(
    db: Database,
    clock: Clock,
    publisher: Publisher,
    *,
    interval: float,
    stop: threading.Event,
    retention: timedelta = DEFAULT_RETENTION,
) -> None:
    while not stop.is_set():
        try:
            tick(db, clock, publisher, retention=retention)
        except Exception:
            # A database or broker outage must not end the loop: the next tick tries again.
            log.exception("scheduler.tick_failed")
        stop.wait(interval)
