"""What is waiting, across practices: the figures that say whether clients and clinicians
are being let down while every process looks alive.

Each is one cheap, indexed read of columns the system role may read (shared.db.row_security):
- the outbox's unpublished rows and the oldest of them (ix_outbox_unpublished): work
  committed but not handed to the broker;
- answers not yet evaluated and the oldest (ix_response_unevaluated): a client's dip that no
  one has looked at;
- emails not delivered yet or given up on, by state (pending, sending, failed), and the
  oldest pending one past its next attempt (ix_notification_retry). Sent and cancelled emails
  are history that is never purged: counting them by state read the whole index, 0.5 s at a
  million emails, where these three take a millisecond. Emails sent are counted as they go,
  by the worker (attune_worker_messages_total, deliver_notification processed). An email's
  next attempt is its sweep time (a lost message) or its retry time (the relay refused it),
  and the scheduler's sweep takes it then, so a pending one long past it means the sweep
  has stopped;
- nudges sent on their own that are due within the hour, or overdue, and not sent, and the
  oldest overdue one (ix_nudge_due): a clinician about to see a client without being told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, select

from shared.alerts.nudges import sent_alone
from shared.models import (
    Notification,
    NotificationStatus,
    Nudge,
    NudgeStatus,
    OutboxEvent,
    Response,
)
from shared.work.failures import failure_counts

NUDGE_HORIZON = timedelta(hours=1)
OPEN_EMAIL_STATES = (
    NotificationStatus.PENDING,
    NotificationStatus.SENDING,
    NotificationStatus.FAILED,
)


@dataclass(frozen=True)
class Backlog:
    outbox_unpublished: int
    outbox_oldest: datetime | None
    answers_unevaluated: int
    answers_oldest: datetime | None
    emails: dict[NotificationStatus, int]  # OPEN_EMAIL_STATES only
    emails_overdue_oldest: datetime | None  # the oldest pending email's next attempt, if past
    nudges_unsent_within_hour: int  # due by now + NUDGE_HORIZON, overdue ones included
    nudges_overdue_oldest: datetime | None
    work_failures: dict[tuple[str, str], int]  # (job, "failed" | "retrying") -> items


def age_seconds(oldest: datetime | None, now: datetime) -> float:
    """How long the oldest has waited; 0 with nothing waiting (or a row from the future)."""
    return 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)


def read_backlog(session: Session, *, now: datetime) -> Backlog:
    """`session` is Database.across_practices(): every practice's rows."""
    unpublished = col(OutboxEvent.published_at).is_(None)
    unevaluated = col(Response.evaluated_at).is_(None)
    overdue_email = (col(Notification.status) == NotificationStatus.PENDING) & (
        col(Notification.next_attempt_at) <= now
    )
    unsent_nudge = (col(Nudge.status) == NudgeStatus.PENDING) & sent_alone()
    emails = dict.fromkeys(OPEN_EMAIL_STATES, 0)
    for status, count in session.exec(
        select(Notification.status, func.count())
        .where(col(Notification.status).in_(OPEN_EMAIL_STATES))
        .group_by(col(Notification.status))
    ).all():
        emails[NotificationStatus(status)] = int(count)
    return Backlog(
        outbox_unpublished=_count(session, unpublished),
        # The oldest by id, in the order of ix_outbox_unpublished (published_at, id): ordered
        # by id alone, PostgreSQL walks the primary key through every published row first
        # (0.17 s behind 500,000 of them, against 0.02 ms).
        outbox_oldest=session.exec(
            select(OutboxEvent.created_at)
            .where(unpublished)
            .order_by(col(OutboxEvent.published_at), col(OutboxEvent.id))
            .limit(1)
        ).first(),
        answers_unevaluated=_count(session, unevaluated),
        answers_oldest=_first(session, Response.submitted_at, unevaluated),
        emails=emails,
        emails_overdue_oldest=_first(session, Notification.next_attempt_at, overdue_email),
        nudges_unsent_within_hour=_count(
            session, unsent_nudge & (col(Nudge.due_at) <= now + NUDGE_HORIZON)
        ),
        nudges_overdue_oldest=_first(
            session, Nudge.due_at, unsent_nudge & (col(Nudge.due_at) <= now)
        ),
        work_failures=failure_counts(session),
    )


def _count(session: Session, condition: ColumnElement[bool]) -> int:
    # count(*): answered from the index alone, where count(id) would visit every row.
    return int(session.exec(select(func.count()).where(condition)).one())


def _first(session: Session, moment: Any, condition: ColumnElement[bool]) -> datetime | None:
    # ORDER BY ... LIMIT 1 rather than min(): it walks the index, and keeps the column's type
    # (SQLite hands min() back as text).
    found: datetime | None = session.exec(
        select(moment).where(condition).order_by(col(moment)).limit(1)
    ).first()
    return found
