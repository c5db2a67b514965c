"""Aim a client's open alerts at their next appointment, and keep its one nudge in step.

Called after anything that changes what "next appointment" means: a new alert, a booking, a
reschedule, a cancellation, a no-show or a completion. It only moves rows; sending is the
scheduler's job once a nudge falls due.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import Session, col, select

from shared.db import insert_ignoring_conflict
from shared.models import (
    Alert,
    AlertStatus,
    Appointment,
    AppointmentStatus,
    Nudge,
    NudgeStatus,
)
from shared.practice.service import current_settings
from shared.scheduling.timing import nudge_due_at


def next_appointment(session: Session, client_id: UUID, *, now: datetime) -> Appointment | None:
    return session.exec(
        select(Appointment)
        .where(Appointment.client_id == client_id)
        .where(Appointment.status == AppointmentStatus.SCHEDULED)
        .where(col(Appointment.starts_at) > now)
        .order_by(col(Appointment.starts_at))
        .limit(1)
    ).first()


def reaim_client(session: Session, practice_id: UUID, client_id: UUID, *, now: datetime) -> None:
    timing = current_settings(session, practice_id).settings.timing
    target = next_appointment(session, client_id, now=now)
    nudges = {
        nudge.appointment_id: nudge
        for nudge in session.exec(
            select(Nudge)
            .join(Appointment, col(Appointment.id) == col(Nudge.appointment_id))
            .where(Appointment.client_id == client_id)
        ).all()
    }
    # An alert whose nudge already went out stays with that appointment: it was acted on.
    nudged = {aid for aid, nudge in nudges.items() if nudge.status is NudgeStatus.SENT}
    waiting = [
        alert
        for alert in session.exec(
            select(Alert)
            .where(Alert.client_id == client_id)
            .where(Alert.status == AlertStatus.OPEN)
        ).all()
        if alert.target_appointment_id is None or alert.target_appointment_id not in nudged
    ]
    for alert in waiting:
        alert.target_appointment_id = target.id if target else None

    for appointment_id, nudge in nudges.items():
        keep = target is not None and waiting and appointment_id == target.id
        if nudge.status is NudgeStatus.PENDING and not keep:
            nudge.status = NudgeStatus.CANCELLED

    if target is None or not waiting:
        return
    due_at = nudge_due_at(target.starts_at, timing)
    existing = nudges.get(target.id)
    if existing is None:
        insert_ignoring_conflict(
            session,
            Nudge,
            {
                "id": uuid4(),
                "practice_id": practice_id,
                "appointment_id": target.id,
                "clinician_id": target.clinician_id,
                "status": NudgeStatus.PENDING,
                "due_at": due_at,
                "created_at": now,
            },
            ["appointment_id"],
        )
    elif existing.status is not NudgeStatus.SENT:
        existing.status = NudgeStatus.PENDING
        existing.due_at = due_at
        existing.clinician_id = target.clinician_id
