"""An operator's retry of work that failed: `attune work-failures --retry JOB [--item ID]`.

A failed `work_failure` row keeps its item out of its finder for good (shared.db.due). A retry
clears it (no retry time, no failed mark, tries from 0), so the next tick offers the item
again if it is still due, with five fresh tries. The row stays, cleared, so a second retry of
the same item finds it and does nothing (idempotent), and `failure_counts` leaves it out.

A dead letter (job "message:<actor>") has no finder: its message is published again through
the outbox, in the same transaction, but only while its item still needs it (the answer is
still unevaluated, the completed session still has no invitation, the email is still pending);
otherwise the sweeps already did the work, and the row is only cleared.

Each row cleared is written to its practice's audit log (action work.retried, by the
operator), in the transaction that clears it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog
from sqlmodel import Session, col, select

from shared import audit
from shared.appointments.service import SCHEDULE_INVITATION
from shared.audit import AuditAction
from shared.db import Database
from shared.db.claim import claim
from shared.models import (
    Appointment,
    AppointmentStatus,
    Invitation,
    Notification,
    NotificationStatus,
    Response,
    WorkFailure,
)
from shared.notifications.queue import DELIVER_NOTIFICATION
from shared.outbox import emit
from shared.survey.responses import EVALUATE_RESPONSE

log = structlog.get_logger("attune.work")

MESSAGE_JOB = "message:"


def _answer_unevaluated(session: Session, response_id: UUID) -> bool:
    response = session.get(Response, response_id)
    return response is not None and response.evaluated_at is None


def _session_uninvited(session: Session, appointment_id: UUID) -> bool:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status is not AppointmentStatus.COMPLETED:
        return False
    invited = session.exec(
        select(Invitation.id).where(Invitation.appointment_id == appointment_id)
    ).first()
    return invited is None


def _email_pending(session: Session, notification_id: UUID) -> bool:
    notification = session.get(Notification, notification_id)
    return notification is not None and notification.status is NotificationStatus.PENDING


# What each actor's message is for, read in the item's practice: publish it again only then.
STILL_NEEDED: dict[str, Callable[[Session, UUID], bool]] = {
    EVALUATE_RESPONSE: _answer_unevaluated,
    SCHEDULE_INVITATION: _session_uninvited,
    DELIVER_NOTIFICATION: _email_pending,
}


class UnknownWork(LookupError):
    """A job no finder or actor has, or an item with no failure recorded under it."""


@dataclass(frozen=True)
class Retried:
    cleared: int = 0  # rows cleared: offered again by their finder, or republished
    republished: int = 0  # of those, dead letters whose message was published again
    already: int = 0  # rows an earlier retry had cleared: nothing to do


def is_held(row: WorkFailure) -> bool:
    """Held back or given up on: what a retry clears."""
    return row.failed_at is not None or row.retry_at is not None


def retry_failed(
    db: Database,
    job: str,
    *,
    item_id: UUID | None = None,
    known_jobs: Collection[str],
    now: datetime,
) -> Retried:
    """Clear the failed and held-back rows of `job` (one item's, with `item_id`), so their
    work is done again. Raises UnknownWork for a job not in `known_jobs`, or an item with
    no row under the job."""
    if job not in known_jobs:
        raise UnknownWork(f"unknown job {job!r}; the jobs are: {', '.join(sorted(known_jobs))}")
    # Found across practices (the system role reads these columns), then each row is cleared
    # in its own practice's transaction.
    with db.across_practices() as session:
        query = select(
            WorkFailure.id, WorkFailure.practice_id, WorkFailure.item_id, WorkFailure.failed_at
        ).where(WorkFailure.job == job)
        if item_id is not None:
            query = query.where(WorkFailure.item_id == item_id)
        rows = session.exec(query.order_by(col(WorkFailure.id))).all()
    if item_id is not None and not rows:
        raise UnknownWork(f"no failure is recorded for job {job!r} and item {item_id}")
    cleared = republished = already = 0
    actor = job.removeprefix(MESSAGE_JOB) if job.startswith(MESSAGE_JOB) else None
    for row_id, practice_id, row_item, failed_at in rows:
        with db.transaction(practice_id) as session:
            if not claim(
                session,
                WorkFailure,
                row_id,
                col(WorkFailure.failed_at).is_not(None) | col(WorkFailure.retry_at).is_not(None),
                failed_at=None,
                retry_at=None,
                attempts=0,
                updated_at=now,
            ):
                already += 1
                continue
            again = actor is not None and STILL_NEEDED.get(actor, _never)(session, row_item)
            if again:
                assert actor is not None
                emit(session, actor, practice_id, row_item, at=now)
            audit.record_operator(
                session,
                practice_id,
                AuditAction.WORK_RETRIED,
                at=now,
                subject_id=row_item,
                job=job,
                republished=int(again),
                was="failed" if failed_at is not None else "held back",
            )
        cleared += 1
        republished += int(again)
        log.info(
            "work_failure.retried",
            job=job,
            item_id=str(row_item),
            practice_id=str(practice_id),
            republished=again,
        )
    return Retried(cleared=cleared, republished=republished, already=already)


def _never(_session: Session, _item_id: UUID) -> bool:
    return False
