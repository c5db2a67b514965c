"""The client's side: open a survey link, answer it once, or opt out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from uuid import UUID, uuid4

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.db.claim import claim
from shared.errors import Conflict, Gone, Invalid, NotFound
from shared.models import (
    AccessToken,
    Client,
    Invitation,
    InvitationStatus,
    Response,
    TokenPurpose,
)
from shared.outbox import emit
from shared.practice.service import current_settings
from shared.practice.settings import PracticeSettings
from shared.security import hash_token
from shared.survey.items import SCALE_MAX, SCALE_MIN, SurveyItem

EVALUATE_RESPONSE = "evaluate_response"
COMMENT_MAX = 2000


@dataclass(frozen=True)
class SurveyLink:
    practice_id: UUID
    subject_id: UUID


@dataclass(frozen=True)
class SurveyForm:
    items: list[SurveyItem]
    settings: PracticeSettings
    expires_at: datetime | None


def resolve_link(
    session: Session, raw_token: str, purpose: TokenPurpose, *, now: datetime
) -> SurveyLink:
    """Find what a link points at. Needs no practice: the token itself is the credential."""
    row = session.get(AccessToken, hash_token(raw_token))
    if row is None or row.purpose is not purpose:
        raise NotFound("This link is not valid. Please use the newest email you received.")
    if row.expires_at is not None and row.expires_at <= now:
        raise Gone("This link has expired.")
    return SurveyLink(practice_id=row.practice_id, subject_id=row.subject_id)


def _open_invitation(session: Session, invitation_id: UUID, *, now: datetime) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound("This link is not valid.")
    if invitation.status is InvitationStatus.ANSWERED:
        raise Conflict("This survey has already been answered. Thank you for your feedback.")
    if invitation.status is InvitationStatus.EXPIRED or (
        invitation.expires_at is not None and invitation.expires_at <= now
    ):
        raise Gone("This survey has closed. You will get a new one after your next session.")
    if invitation.status is not InvitationStatus.SENT:
        raise NotFound("This link is not valid.")
    return invitation


def survey_form(session: Session, invitation_id: UUID, *, now: datetime) -> SurveyForm:
    invitation = _open_invitation(session, invitation_id, now=now)
    settings = current_settings(session, invitation.practice_id).settings
    return SurveyForm(items=settings.items, settings=settings, expires_at=invitation.expires_at)


def validate_scores(items: list[SurveyItem], scores: Mapping[str, object]) -> dict[str, int]:
    """Exactly the survey's items, each a whole number on the scale."""
    keys = [item.key for item in items]
    unknown = sorted(set(scores) - set(keys))
    if unknown:
        raise Invalid(f"Unknown question: {', '.join(unknown)}.", field=unknown[0])
    clean: dict[str, int] = {}
    for key in keys:
        if key not in scores or scores[key] in (None, ""):
            raise Invalid("Please answer every question.", field=key)
        value = scores[key]
        try:
            number = int(str(value)) if not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not SCALE_MIN <= number <= SCALE_MAX:
            raise Invalid(
                f"Each answer must be a whole number from {SCALE_MIN} to {SCALE_MAX}.", field=key
            )
        clean[key] = number
    return clean


def submit_response(
    session: Session,
    invitation_id: UUID,
    *,
    scores: Mapping[str, object],
    asked_to_talk: bool,
    comment: str | None,
    now: datetime,
) -> Response:
    invitation = _open_invitation(session, invitation_id, now=now)
    settings = current_settings(session, invitation.practice_id).settings
    clean = validate_scores(settings.items, scores)
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise Invalid(f"The comment can be at most {COMMENT_MAX} characters.", field="comment")
    if not claim(
        session,
        Invitation,
        invitation.id,
        col(Invitation.status) == InvitationStatus.SENT,
        status=InvitationStatus.ANSWERED,
        answered_at=now,
    ):
        raise Conflict("This survey has already been answered. Thank you for your feedback.")
    client = session.get(Client, invitation.client_id)
    assert client is not None
    response = Response(
        id=uuid4(),
        practice_id=invitation.practice_id,
        invitation_id=invitation.id,
        client_id=client.id,
        clinician_id=client.clinician_id,
        appointment_id=invitation.appointment_id,
        scores=clean,
        mean=fmean(clean.values()),
        asked_to_talk=asked_to_talk,
        comment=comment,
        submitted_at=now,
    )
    # No savepoint: the claim above already makes this the invitation's only response, so the
    # unique index can only fire on a bug, and then the whole transaction is refused anyway.
    session.add(response)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("This survey has already been answered.") from None
    emit(session, EVALUATE_RESPONSE, response.practice_id, response.id, at=now)
    return response


def client_of_invitation(session: Session, invitation_id: UUID) -> Client:
    client = session.exec(
        select(Client)
        .join(Invitation, col(Invitation.client_id) == col(Client.id))
        .where(Invitation.id == invitation_id)
    ).first()
    if client is None:
        raise NotFound("This link is not valid.")
    return client
