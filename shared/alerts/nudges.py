"""Nudges fall due at the next appointment's start minus the practice's lead time."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared.models import NotificationKind, Nudge, NudgeDelivery, NudgePreference, NudgeStatus
from shared.notifications.queue import queue_notification


def due_nudges(session: Session, *, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    rows = session.exec(
        select(Nudge.practice_id, Nudge.id)
        .where(Nudge.status == NudgeStatus.PENDING)
        .where(col(Nudge.due_at) <= now)
        # Clinicians who chose a morning digest get theirs through shared.notifications.digests.
        .where(
            col(Nudge.clinician_id).not_in(
                select(NudgePreference.account_id).where(
                    NudgePreference.delivery == NudgeDelivery.DAILY_DIGEST
                )
            )
        )
        .order_by(col(Nudge.due_at))
        .limit(limit)
    ).all()
    return [(practice_id, nudge_id) for practice_id, nudge_id in rows]


def send_nudge(session: Session, nudge_id: UUID, *, now: datetime) -> bool:
    claimed = session.execute(
        update(Nudge)
        .where(col(Nudge.id) == nudge_id)
        .where(col(Nudge.status) == NudgeStatus.PENDING)
        .where(col(Nudge.due_at) <= now)
        .values(status=NudgeStatus.SENT, sent_at=now)
    ).rowcount
    if claimed != 1:
        return False
    nudge = session.get(Nudge, nudge_id)
    assert nudge is not None
    queue_notification(
        session,
        practice_id=nudge.practice_id,
        kind=NotificationKind.NUDGE,
        key=f"nudge:{nudge.id}",
        subject_id=nudge.id,
        now=now,
    )
    return True
