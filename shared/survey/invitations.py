"""Survey invitations: created when an appointment completes, sent when due, expired when
unanswered."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from shared.alerts.aiming import next_appointment_start
from shared.alerts.service import record_silence
from shared.db import insert_ignoring_conflict
from shared.db.claim import claim, claim_row
from shared.db.due import find_due
from shared.models import (
    Appointment,
    AppointmentStatus,
    Client,
    Invitation,
    InvitationStatus,
    NotificationKind,
)
from shared.notifications.queue import queue_notification
from shared.practice.service import current_document, current_settings, settings_of
from shared.scheduling.timing import invitation_expires_at, invitation_send_at, reminder_at


def schedule_invitation(session: Session, appointment_id: UUID, *, now: datetime) -> bool:
    """One invitation per completed appointment; True if this call created it."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.status is not AppointmentStatus.COMPLETED:
        return False
    client = session.get(Client, appointment.client_id)
    assert client is not None
    timing = current_settings(session, appointment.practice_id).settings.timing
    session_end = max(appointment.ends_at, appointment.completed_at or appointment.ends_at)
    return insert_ignoring_conflict(
        session,
        Invitation,
        {
            "id": uuid4(),
            "practice_id": appointment.practice_id,
            "appointment_id": appointment.id,
            "client_id": client.id,
            "status": InvitationStatus.SCHEDULED,
            "send_at": invitation_send_at(session_end, timing, ZoneInfo(client.timezone)),
            "created_at": now,
        },
        ["appointment_id"],
    )


# A completed session's schedule_invitation message normally runs within a second; one with
# no invitation this long after (its message dead-lettered or lost) is scheduled by the sweep.
# Older sessions than SCHEDULING_SWEEP_WINDOW are left alone: a survey about a session weeks
# ago would ask about the wrong session.
SCHEDULING_SWEEP_AFTER = timedelta(minutes=3)
SCHEDULING_SWEEP_WINDOW = timedelta(days=2)


def unscheduled_appointments(
    session: Session, *, now: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    """(practice id, appointment id) of recently completed sessions with no invitation."""
    return find_due(
        session,
        "schedule_late_invitation",
        Appointment,
        col(Appointment.status) == AppointmentStatus.COMPLETED,
        col(Appointment.completed_at) <= now - SCHEDULING_SWEEP_AFTER,
        col(Appointment.completed_at) > now - SCHEDULING_SWEEP_WINDOW,
        ~select(Invitation.appointment_id)
        .where(col(Invitation.appointment_id) == col(Appointment.id))
        .exists(),
        due=col(Appointment.completed_at),
        now=now,
        limit=limit,
    )


def due_invitations(session: Session, *, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    """(practice id, invitation id) of invitations whose send time has come."""
    return find_due(
        session,
        "send_invitation",
        Invitation,
        col(Invitation.status) == InvitationStatus.SCHEDULED,
        col(Invitation.send_at) <= now,
        due=col(Invitation.send_at),
        now=now,
        limit=limit,
    )


def send_invitation(session: Session, invitation_id: UUID, *, now: datetime) -> bool:
    """Hand a due invitation to the mailer; True if this call did it.

    The scheduler's hottest act, in as few round trips as its guarantees allow: one read of
    what the send needs (the client's choice and zone, their next session, the practice's
    settings), then one conditional claim that sets everything the send decides, and the
    email. No object is loaded: the claim is still the only thing that decides who sends."""
    facts = session.execute(
        sql_select(
            col(Invitation.practice_id),
            col(Client.opted_out_at),
            col(Client.timezone),
            next_appointment_start(col(Client.id), now=now),
            current_document(col(Invitation.practice_id)),
        )
        .join(Invitation, col(Invitation.client_id) == col(Client.id))
        .where(col(Invitation.id) == invitation_id)
        .where(col(Invitation.status) == InvitationStatus.SCHEDULED)
    ).first()
    if facts is None:
        return False  # gone, or already sent, withheld or expired
    practice_id, opted_out_at, timezone, following, settings = facts
    still_scheduled = col(Invitation.status) == InvitationStatus.SCHEDULED
    if opted_out_at is not None:
        claim(session, Invitation, invitation_id, still_scheduled, status=InvitationStatus.WITHHELD)
        return False
    timing = settings_of(settings).timing
    expires_at = invitation_expires_at(now, timing, following)
    if not claim(
        session,
        Invitation,
        invitation_id,
        still_scheduled,
        status=InvitationStatus.SENT,
        sent_at=now,
        expires_at=expires_at,
        reminder_at=reminder_at(now, timing, ZoneInfo(timezone), expires_at=expires_at),
    ):
        return False
    queue_notification(
        session,
        practice_id=practice_id,
        kind=NotificationKind.SURVEY,
        key=f"survey:{invitation_id}",
        subject_id=invitation_id,
        now=now,
    )
    return True


def due_reminders(session: Session, *, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    """(practice id, invitation id) of open invitations whose one reminder has come due."""
    return find_due(
        session,
        "send_reminder",
        Invitation,
        col(Invitation.status) == InvitationStatus.SENT,
        col(Invitation.reminder_at) <= now,
        col(Invitation.reminded_at).is_(None),
        due=col(Invitation.reminder_at),
        now=now,
        limit=limit,
    )


def send_reminder(session: Session, invitation_id: UUID, *, now: datetime) -> bool:
    """Queue the reminder once, and only while the survey is open and the client still wants
    invitations; True if this call did it."""
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        return False
    client = session.get(Client, invitation.client_id)
    assert client is not None
    if client.opted_out_at is not None:
        # Never due again: resuming invitations later is about future sessions.
        invitation.reminder_at = None
        return False
    if not claim(
        session,
        Invitation,
        invitation_id,
        col(Invitation.status) == InvitationStatus.SENT,
        col(Invitation.reminded_at).is_(None),
        col(Invitation.reminder_at) <= now,
        col(Invitation.expires_at) > now,
        reminded_at=now,
    ):
        return False
    queue_notification(
        session,
        practice_id=invitation.practice_id,
        kind=NotificationKind.SURVEY_REMINDER,
        key=f"reminder:{invitation.id}",
        subject_id=invitation.id,
        now=now,
    )
    return True


def expired_invitations(session: Session, *, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
    return find_due(
        session,
        "expire_invitation",
        Invitation,
        col(Invitation.status) == InvitationStatus.SENT,
        col(Invitation.expires_at) <= now,
        due=col(Invitation.expires_at),
        now=now,
        limit=limit,
    )


def expire_invitation(session: Session, invitation_id: UUID, *, now: datetime) -> bool:
    invitation = claim_row(
        session,
        Invitation,
        invitation_id,
        col(Invitation.status) == InvitationStatus.SENT,
        col(Invitation.expires_at) <= now,
        status=InvitationStatus.EXPIRED,
    )
    if invitation is None:
        return False
    record_silence(session, invitation, now=now)
    return True
