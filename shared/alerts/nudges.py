"""Nudges fall due at the next appointment's start minus the practice's lead time."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from shared.db.claim import claim_row
from shared.db.due import find_due
from shared.models import (
    Notification,
    NotificationKind,
    NotificationStatus,
    Nudge,
    NudgeDelivery,
    NudgePreference,
    NudgeStatus,
)
from shared.notifications.queue import queue_notification


def sent_alone() -> ColumnElement[bool]:
    """Nudges that go out in an email of their own at their due time. Clinicians who chose a
    morning digest get theirs through shared.notifications.digests."""
    return col(Nudge.clinician_id).not_in(
        select(NudgePreference.account_id).where(
            NudgePreference.delivery == NudgeDelivery.DAILY_DIGEST
        )
    )


def due_nudges(session: Session, *, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    return find_due(
        session,
        "send_nudge",
        Nudge,
        col(Nudge.status) == NudgeStatus.PENDING,
        col(Nudge.due_at) <= now,
        sent_alone(),
        due=col(Nudge.due_at),
        now=now,
        limit=limit,
    )


def send_nudge(session: Session, nudge_id: UUID, *, now: datetime) -> bool:
    nudge = claim_row(
        session,
        Nudge,
        nudge_id,
        col(Nudge.status) == NudgeStatus.PENDING,
        col(Nudge.due_at) <= now,
        status=NudgeStatus.SENT,
        sent_at=now,
    )
    if nudge is None:
        return False
    queue_notification(
        session,
        practice_id=nudge.practice_id,
        kind=NotificationKind.NUDGE,
        key=f"nudge:{nudge_id}",
        subject_id=nudge_id,
        now=now,
    )
    return True


def origin(session: Session, nudge_id: UUID) -> str | None:
    """The request id its send logs under: the work that made it pending (Nudge.request_id)."""
    return session.exec(select(Nudge.request_id).where(Nudge.id == nudge_id)).first()


def carried_by() -> ColumnElement[bool]:
    """The email that carries a nudge: its own, or the digest it went out in."""
    return or_(
        and_(
            col(Notification.kind) == NotificationKind.NUDGE,
            col(Notification.subject_id) == col(Nudge.id),
        ),
        and_(
            col(Notification.kind) == NotificationKind.DIGEST,
            col(Notification.subject_id) == col(Nudge.digest_id),
        ),
    )


def delivered() -> ColumnElement[bool]:
    """A nudge is delivered when the relay accepted the email that carries it; queued,
    cancelled and failed emails do not count (figures, repair outcomes)."""
    return (
        select(Notification.id)
        .where(carried_by(), col(Notification.status) == NotificationStatus.SENT)
        .exists()
    )
