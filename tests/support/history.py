"""Put past sessions straight into the database, then run the real domain functions on them.

Weeks of sessions through HTTP and SMTP would make each test slow; the rows here are what the
loop itself writes (a completed appointment, its invitation, the answer), and evaluation and
expiry go through the same functions the workers call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PastSession:
    """The rows the loop leaves behind for one completed session and its survey."""

    appointment: Appointment
    invitation: Invitation
    response: Response | None  # None: the survey went unanswered


def session_rows(
    practice_id: UUID,
    client_id: UUID,
    clinician_id: UUID,
    *,
    at: datetime,
    scores: Mapping[str, int] | None,
    asked_to_talk: bool = False,
) -> PastSession:
    """A session that ended three hours before `at`; its survey answered at `at` with
    `scores`, or (scores None) sent and expiring unanswered at `at`."""
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
    answered = scores is not None
    invitation = Invitation(
        id=uuid4(),
        practice_id=practice_id,
        appointment_id=appointment.id,
        client_id=client_id,
        status=InvitationStatus.ANSWERED if answered else InvitationStatus.SENT,
        send_at=starts_at + timedelta(hours=2),
        sent_at=starts_at + timedelta(hours=2),
        expires_at=at + timedelta(days=3) if answered else at,
        answered_at=at if answered else None,
        created_at=starts_at + timedelta(hours=1),
    )
    response = None
    if scores is not None:
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
    return PastSession(appointment, invitation, response)


def store(db: Database, practice_id: UUID, sessions: Sequence[PastSession]) -> None:
    """Insert the rows of many sessions, a few thousand per transaction."""
    for first in range(0, len(sessions), 2000):
        batch = sessions[first : first + 2000]
        with db.transaction(practice_id) as session:
            session.add_all([past.appointment for past in batch])
            session.flush()
            session.add_all([past.invitation for past in batch])
            session.flush()
            session.add_all([past.response for past in batch if past.response is not None])


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
    past = session_rows(
        practice_id, client_id, clinician_id, at=at, scores=scores, asked_to_talk=asked_to_talk
    )
    assert past.response is not None
    store(db, practice_id, [past])
    if evaluate:
        with db.transaction(practice_id) as session:
            alerts.evaluate_response(session, past.response.id, now=at)
    return past.response.id


def unanswered_session(
    db: Database, practice_id: UUID, client_id: UUID, clinician_id: UUID, *, at: datetime
) -> UUID:
    """A completed session whose survey expired unanswered at `at`, expired as the tick does."""
    past = session_rows(practice_id, client_id, clinician_id, at=at, scores=None)
    store(db, practice_id, [past])
    with db.transaction(practice_id) as session:
        assert invitations.expire_invitation(session, past.invitation.id, now=at)
    return past.invitation.id
