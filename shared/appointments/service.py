"""Appointments as the scheduling system reports them.

Every transition is idempotent: reporting the same state again changes nothing, so a
scheduling system may re-send events freely.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, scoped, visible
from shared.alerts.aiming import reaim_client
from shared.audit import AuditAction
from shared.clients.service import get_client
from shared.errors import Conflict, Invalid, NotFound
from shared.models import Appointment, AppointmentStatus, Client
from shared.outbox import emit

SCHEDULE_INVITATION = "schedule_invitation"


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise Invalid("An appointment must end after it starts.", field="ends_at")


def get_appointment(session: Session, principal: Principal, appointment_id: UUID) -> Appointment:
    return visible(session, Appointment, appointment_id, principal, what="Appointment")


def find_by_external_id(session: Session, principal: Principal, external_id: str) -> Appointment:
    appointment = session.exec(
        select(Appointment)
        .where(Appointment.practice_id == principal.practice_id)
        .where(Appointment.external_id == external_id)
    ).first()
    if appointment is None or (
        principal.is_clinician and appointment.clinician_id != principal.account_id
    ):
        raise NotFound("No appointment with that external id.")
    return appointment


def appointments_between(
    session: Session, principal: Principal, *, since: datetime, until: datetime
) -> list[tuple[Appointment, str]]:
    """The appointments the principal may see that start in [since, until), soonest first,
    each with its client's reference (what a page may show of the client)."""
    query = (
        scoped(select(Appointment, Client.reference), Appointment, principal)
        .join(Client, col(Client.id) == col(Appointment.client_id))
        .where(col(Appointment.starts_at) >= since)
        .where(col(Appointment.starts_at) < until)
        .order_by(col(Appointment.starts_at))
    )
    return [(appointment, reference) for appointment, reference in session.exec(query).all()]


def book(
    session: Session,
    principal: Principal,
    *,
    client_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    external_id: str | None,
    now: datetime,
) -> tuple[Appointment, bool]:
    """Create an appointment; returns it and whether it is new.

    With an external id, booking again with the same times returns the existing appointment
    unchanged; with other times it is a reschedule.
    """
    _check_times(starts_at, ends_at)
    client = get_client(session, principal, client_id)
    if external_id is not None:
        existing = session.exec(
            select(Appointment)
            .where(Appointment.practice_id == principal.practice_id)
            .where(Appointment.external_id == external_id)
            .with_for_update()
        ).first()
        if existing is not None:
            if existing.client_id != client.id:
                raise Conflict(
                    "That external id already belongs to another client's appointment.",
                    field="external_id",
                )
            if (existing.starts_at, existing.ends_at) != (starts_at, ends_at):
                reschedule(
                    session, principal, existing, starts_at=starts_at, ends_at=ends_at, now=now
                )
            return existing, False
    appointment = Appointment(
        practice_id=principal.practice_id,
        client_id=client.id,
        clinician_id=client.clinician_id,
        external_id=external_id,
        starts_at=starts_at,
        ends_at=ends_at,
        updated_at=now,
    )
    session.add(appointment)
    session.flush()
    reaim_client(session, client.practice_id, client.id, now=now)
    audit.record(
        session,
        principal,
        AuditAction.APPOINTMENT_BOOKED,
        at=now,
        client_id=client.id,
        subject_id=appointment.id,
    )
    return appointment, True


def reschedule(
    session: Session,
    principal: Principal,
    appointment: Appointment,
    *,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> Appointment:
    _check_times(starts_at, ends_at)
    if (appointment.starts_at, appointment.ends_at) == (starts_at, ends_at):
        return appointment
    if appointment.status is not AppointmentStatus.SCHEDULED:
        raise Conflict(f"A {appointment.status.value} appointment cannot be rescheduled.")
    appointment.starts_at = starts_at
    appointment.ends_at = ends_at
    appointment.updated_at = now
    session.flush()
    reaim_client(session, appointment.practice_id, appointment.client_id, now=now)
    audit.record(
        session,
        principal,
        AuditAction.APPOINTMENT_RESCHEDULED,
        at=now,
        client_id=appointment.client_id,
        subject_id=appointment.id,
    )
    return appointment


def read_appointment(
    session: Session, principal: Principal, appointment: Appointment, *, now: datetime
) -> Appointment:
    """An appointment found for a caller to see: the read is audited."""
    audit.record(
        session,
        principal,
        AuditAction.APPOINTMENT_READ,
        at=now,
        client_id=appointment.client_id,
        subject_id=appointment.id,
    )
    return appointment


_FINISHED = {
    AppointmentStatus.COMPLETED: AuditAction.APPOINTMENT_COMPLETED,
    AppointmentStatus.CANCELLED: AuditAction.APPOINTMENT_CANCELLED,
    AppointmentStatus.NO_SHOW: AuditAction.APPOINTMENT_NO_SHOW,
}


def _finish(
    session: Session,
    principal: Principal,
    appointment: Appointment,
    status: AppointmentStatus,
    *,
    now: datetime,
) -> bool:
    """Move a scheduled appointment to a final status; False if it already had that status."""
    if appointment.status is status:
        return False
    if appointment.status is not AppointmentStatus.SCHEDULED:
        raise Conflict(f"The appointment is already {appointment.status.value.replace('_', ' ')}.")
    appointment.status = status
    appointment.updated_at = now
    audit.record(
        session,
        principal,
        _FINISHED[status],
        at=now,
        client_id=appointment.client_id,
        subject_id=appointment.id,
    )
    return True


def complete(
    session: Session, principal: Principal, appointment: Appointment, *, now: datetime
) -> Appointment:
    if _finish(session, principal, appointment, AppointmentStatus.COMPLETED, now=now):
        appointment.completed_at = now
        emit(session, SCHEDULE_INVITATION, appointment.practice_id, appointment.id, at=now)
        session.flush()
        reaim_client(session, appointment.practice_id, appointment.client_id, now=now)
    return appointment


def cancel(
    session: Session, principal: Principal, appointment: Appointment, *, now: datetime
) -> Appointment:
    if _finish(session, principal, appointment, AppointmentStatus.CANCELLED, now=now):
        session.flush()
        reaim_client(session, appointment.practice_id, appointment.client_id, now=now)
    return appointment


def mark_no_show(
    session: Session, principal: Principal, appointment: Appointment, *, now: datetime
) -> Appointment:
    if _finish(session, principal, appointment, AppointmentStatus.NO_SHOW, now=now):
        session.flush()
        reaim_client(session, appointment.practice_id, appointment.client_id, now=now)
    return appointment
