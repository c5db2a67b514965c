"""Aim a client's open alerts at their next appointment, and keep its one nudge in step.

Called after anything that changes what "next appointment" means: a new alert, a booking, a
reschedule, a cancellation, a no-show or a completion. It only moves rows; sending is the
scheduler's job once a nudge falls due.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

import structlog
from sqlalchemy import ScalarSelect, func
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, or_, select

from shared.db import insert_ignoring_conflict
from shared.logging import current_request_id
from shared.models import (
    Alert,
    AlertStatus,
    Appointment,
    AppointmentStatus,
    Nudge,
    NudgeStatus,
)
from shared.practice.service import current_settings
from shared.practice.settings import Timing
from shared.scheduling.timing import nudge_due_at

log = structlog.get_logger("attune.alerts")


def next_appointment(session: Session, client_id: UUID, *, now: datetime) -> Appointment | None:
    return session.exec(
        select(Appointment)
        .where(Appointment.client_id == client_id)
        .where(Appointment.status == AppointmentStatus.SCHEDULED)
        .where(col(Appointment.starts_at) > now)
        .order_by(col(Appointment.starts_at))
        .limit(1)
    ).first()


def next_appointment_start(
    client_id: Mapped[UUID] | UUID, *, now: datetime
) -> ScalarSelect[datetime]:
    """next_appointment's start as a column of a larger read (None if there is none)."""
    return (
        select(func.min(Appointment.starts_at))
        .where(col(Appointment.client_id) == client_id)
        .where(col(Appointment.status) == AppointmentStatus.SCHEDULED)
        .where(col(Appointment.starts_at) > now)
        .scalar_subquery()
    )


def reaim_client(
    session: Session,
    practice_id: UUID,
    client_id: UUID,
    *,
    now: datetime,
    timing: Timing | None = None,
) -> None:
    """`timing`: the practice's current timing, when the caller has read its settings already
    (an evaluation raising an alert); otherwise read here, and only if a nudge is to be aimed."""
    target = next_appointment(session, client_id, now=now)
    # Open alerts not yet acted on: held, or aimed at an appointment whose nudge has not gone
    # out. One whose nudge went out stays with that appointment: it was acted on. Reading only
    # these (and only pending nudges below) keeps the work the same however long the client's
    # history of alerts and nudges.
    waiting = session.exec(
        select(Alert)
        .outerjoin(Nudge, col(Nudge.appointment_id) == col(Alert.target_appointment_id))
        .where(Alert.client_id == client_id)
        .where(Alert.status == AlertStatus.OPEN)
        .where(or_(col(Nudge.id).is_(None), col(Nudge.status) != NudgeStatus.SENT))
    ).all()
    # The pending nudges, and in the same read the target's own nudge whatever its status.
    wanted = col(Nudge.status) == NudgeStatus.PENDING
    if target is not None:
        wanted = or_(wanted, col(Nudge.appointment_id) == target.id)
    nudges = session.exec(
        select(Nudge)
        .join(Appointment, col(Appointment.id) == col(Nudge.appointment_id))
        .where(Appointment.client_id == client_id)
        .where(wanted)
    ).all()
    existing = next(
        (nudge for nudge in nudges if target is not None and nudge.appointment_id == target.id),
        None,
    )
    for alert in waiting:
        alert.target_appointment_id = target.id if target else None
    for nudge in nudges:
        if nudge.status is not NudgeStatus.PENDING:
            continue
        keep = target is not None and waiting and nudge.appointment_id == target.id
        if not keep:
            nudge.status = NudgeStatus.CANCELLED

    if target is None or not waiting:
        return
    if timing is None:
        timing = current_settings(session, practice_id).settings.timing
    due_at = nudge_due_at(target.starts_at, timing)
    if existing is None:
        nudge_id = uuid4()
        if insert_ignoring_conflict(
            session,
            Nudge,
            {
                "id": nudge_id,
                "practice_id": practice_id,
                "appointment_id": target.id,
                "clinician_id": target.clinician_id,
                "status": NudgeStatus.PENDING,
                "due_at": due_at,
                "created_at": now,
                "request_id": current_request_id(),
            },
            ["appointment_id"],
        ):
            log.info("nudge.aimed", nudge_id=str(nudge_id), due_at=due_at.isoformat())
    elif existing.status is not NudgeStatus.SENT:
        moved = existing.status is not NudgeStatus.PENDING or existing.due_at != due_at
        if existing.status is not NudgeStatus.PENDING:
            # Revived by this work: its send logs under this work's id.
            existing.request_id = current_request_id()
        existing.status = NudgeStatus.PENDING
        existing.due_at = due_at
        existing.clinician_id = target.clinician_id
        if moved:
            log.info("nudge.aimed", nudge_id=str(existing.id), due_at=due_at.isoformat())
