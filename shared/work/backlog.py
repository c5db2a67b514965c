"""What is waiting, across practices: the figures that say whether clients and clinicians
are being let down while every process looks alive.

Each is one cheap, indexed read of columns the system role may read (shared.db.row_security):
- the outbox's unpublished rows and the oldest of them (ix_outbox_unpublished): work
  committed but not handed to the broker;
- answers not yet evaluated and the oldest (ix_response_unevaluated): a client's dip that no
  one has looked at;
- emails by state, and the oldest pending one past its send time (ix_notification_retry);
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


@dataclass(frozen=True)
class Backlog:
    outbox_unpublished: int
    outbox_oldest: datetime | None
    answers_unevaluated: int
    answers_oldest: datetime | None
    emails: dict[NotificationStatus, int]
    emails_overdue_oldest: datetime | None  # the oldest pending email past its send time
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
    emails = dict.fromkeys(NotificationStatus, 0)
    for status, count in session.exec(
        select(Notification.status, func.count(col(Notification.id))).group_by(
            col(Notification.status)
        )
    ).all():
        emails[NotificationStatus(status)] = int(count)
    return Backlog(
        outbox_unpublished=_count(session, OutboxEvent.id, unpublished),
        # The oldest by id, which the index holds in order: min(created_at) would read them all.
        outbox_oldest=session.exec(
            select(OutboxEvent.created_at).where(unpublished).order_by(col(OutboxEvent.id)).limit(1)
        ).first(),
        answers_unevaluated=_count(session, Response.id, unevaluated),
        answers_oldest=_first(session, Response.submitted_at, unevaluated),
        emails=emails,
        emails_overdue_oldest=_first(session, Notification.next_attempt_at, overdue_email),
        nudges_unsent_within_hour=_count(
            session, Nudge.id, unsent_nudge & (col(Nudge.due_at) <= now + NUDGE_HORIZON)
        ),
        nudges_overdue_oldest=_first(
            session, Nudge.due_at, unsent_nudge & (col(Nudge.due_at) <= now)
        ),
        work_failures=failure_counts(session),
    )


def _count(session: Session, key: Any, condition: ColumnElement[bool]) -> int:
    return int(session.exec(select(func.count(col(key))).where(condition)).one())


def _first(session: Session, moment: Any, condition: ColumnElement[bool]) -> datetime | None:
    # ORDER BY ... LIMIT 1 rather than min(): it walks the index, and keeps the column's type
    # (SQLite hands min() back as text).
    found: datetime | None = session.exec(
        select(moment).where(condition).order_by(col(moment)).limit(1)
    ).first()
    return found
