"""Put past sessions straight into the database, then run the real domain functions on them.

Weeks of sessions through HTTP and SMTP would make each test slow; the rows here are what the
loop itself writes (a completed appointment, its invitation, the answer), and evaluation and
expiry go through the same functions the workers call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from statistics import fmean
from uuid import UUID, uuid4

from shared.alerts import service as alerts
from shared.db import Database
from shared.models import (
    Appointment,
    AppointmentStatus,
    Invitation,
    InvitationStatus,
    Response,
)
from shared.survey import invitations

FIVE = {"honest": 5, "disagree": 5, "respected": 5, "input": 5, "pace": 5}


def _session_rows(
    practice_id: UUID, client_id: UUID, clinician_id: UUID, at: datetime, status: InvitationStatus
) -> tuple[Appointment, Invitation]:
    starts_at = at - timedelta(hours=3)
    appointment = Appointment(
        id=uuid4(),
        practice_id=practice_id,
        client_id=client_id,
        clinician_id=clinician_id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=50),
        status=AppointmentStatus.COMPLETED,
        completed_at=starts_at + timedelta(minutes=50),
        updated_at=starts_at + timedelta(minutes=50),
    )
    invitation = Invitation(
        id=uuid4(),
        practice_id=practice_id,
        appointment_id=appointment.id,
        client_id=client_id,
        status=status,
        send_at=starts_at + timedelta(hours=2),
        sent_at=starts_at + timedelta(hours=2),
        expires_at=at if status is InvitationStatus.SENT else at + timedelta(days=3),
        answered_at=at if status is InvitationStatus.ANSWERED else None,
        created_at=starts_at + timedelta(hours=1),
    )
    return appointment, invitation


def answered_session(
    db: Database,
    practice_id: UUID,
    client_id: UUID,
    clinician_id: UUID,
    *,
    at: datetime,
    scores: Mapping[str, int] = FIVE,
    asked_to_talk: bool = False,
    evaluate: bool = True,
) -> UUID:
    """A completed session whose survey was answered at `at`; evaluated as the worker would."""
    appointment, invitation = _session_rows(
        practice_id, client_id, clinician_id, at, InvitationStatus.ANSWERED
    )
    response = Response(
        id=uuid4(),
        practice_id=practice_id,
        invitation_id=invitation.id,
        client_id=client_id,
        clinician_id=clinician_id,
        appointment_id=appointment.id,
        scores=dict(scores),
        mean=fmean(scores.values()),
        asked_to_talk=asked_to_talk,
        submitted_at=at,
    )
    with db.transaction(practice_id) as session:
        session.add(appointment)
        session.flush()
        session.add(invitation)
        session.flush()
        session.add(response)
    if evaluate:
        with db.transaction(practice_id) as session:
            alerts.evaluate_response(session, response.id, now=at)
    return response.id


def unanswered_session(
    db: Database, practice_id: UUID, client_id: UUID, clinician_id: UUID, *, at: datetime
) -> UUID:
    """A completed session whose survey expired unanswered at `at`, expired as the tick does."""
    appointment, invitation = _session_rows(
        practice_id, client_id, clinician_id, at, InvitationStatus.SENT
    )
    with db.transaction(practice_id) as session:
        session.add(appointment)
        session.flush()
        session.add(invitation)
    with db.transaction(practice_id) as session:
        assert invitations.expire_invitation(session, invitation.id, now=at)
    return invitation.id
