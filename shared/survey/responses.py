"""The client's side: open a survey link, answer it once, or opt out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import bindparam, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Session, col, select

from shared.credentials import practice_of_link_async
from shared.db import Database
from shared.db.claim import claim_async, claiming
from shared.errors import Conflict, Gone, Invalid, NotFound
from shared.models import (
    AccessToken,
    Client,
    Invitation,
    InvitationStatus,
    Practice,
    PracticeSettingsVersion,
    Response,
    TokenPurpose,
)
from shared.outbox import emit_after, emit_async, event_params
from shared.practice.service import current_settings
from shared.practice.settings import PracticeSettings
from shared.security import hash_token
from shared.survey.items import SCALE_MAX, SCALE_MIN, SurveyItem

EVALUATE_RESPONSE = "evaluate_response"
COMMENT_MAX = 2000
LINK_NOT_VALID = "This link is not valid. Please use the newest email you received."
ALREADY_ANSWERED = "This survey has already been answered. Thank you for your feedback."


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
    if row is None:
        raise NotFound(LINK_NOT_VALID)
    check_link(row.purpose, row.expires_at, purpose, now=now)
    return SurveyLink(practice_id=row.practice_id, subject_id=row.subject_id)


def check_link(
    purpose: TokenPurpose, expires_at: datetime | None, wanted: TokenPurpose, *, now: datetime
) -> None:
    """A link of the wanted kind that has not expired."""
    if purpose is not wanted:
        raise NotFound(LINK_NOT_VALID)
    if expires_at is not None and expires_at <= now:
        raise Gone("This link has expired.")


def check_open(
    status: InvitationStatus | None, expires_at: datetime | None, *, now: datetime
) -> None:
    """An invitation that is sent, not yet answered, and still open (None: there is none)."""
    if status is None:
        raise NotFound("This link is not valid.")
    if status is InvitationStatus.ANSWERED:
        raise Conflict(ALREADY_ANSWERED)
    if status is InvitationStatus.EXPIRED or (expires_at is not None and expires_at <= now):
        raise Gone("This survey has closed. You will get a new one after your next session.")
    if status is not InvitationStatus.SENT:
        raise NotFound("This link is not valid.")


def _open_invitation(session: Session, invitation_id: UUID, *, now: datetime) -> Invitation:
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound("This link is not valid.")
    check_open(invitation.status, invitation.expires_at, now=now)
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


def accept_answer(
    state: AnswerState | None,
    *,
    scores: Mapping[str, object],
    asked_to_talk: bool,
    comment: str | None,
    now: datetime,
) -> dict[str, Any]:
    """Every rule an answer must pass, on what one read found (None: no such link): the
    link, the invitation it opens, the practice's current survey. Returns the response row
    to store."""
    if state is None:
        raise NotFound(LINK_NOT_VALID)
    check_link(state.purpose, state.link_expires_at, TokenPurpose.SURVEY, now=now)
    check_open(state.status, state.expires_at, now=now)
    if state.settings is None:
        raise NotFound("Practice not found.")
    items = PracticeSettings.model_validate(state.settings).items
    clean = validate_scores(items, scores)
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise Invalid(f"The comment can be at most {COMMENT_MAX} characters.", field="comment")
    return {
        "id": uuid4(),
        "practice_id": state.practice_id,
        "invitation_id": state.invitation_id,
        "client_id": state.client_id,
        "clinician_id": state.clinician_id,
        "appointment_id": state.appointment_id,
        "scores": clean,
        "mean": fmean(clean.values()),
        "asked_to_talk": asked_to_talk,
        "comment": comment,
        "submitted_at": now,
    }


async def submit_response(
    db: Database,
    raw_token: str,
    *,
    scores: Mapping[str, object],
    asked_to_talk: bool,
    comment: str | None,
    now: datetime,
) -> UUID:
    """Store a client's answers, once, and record the evaluation they need (the outbox).

    The system's hot path, so written in Core on the event loop with few round trips: the
    link's practice (the system role's one lookup), then one transaction in that practice,
    under row-level security: one read of everything accept_answer needs, the claim of the
    invitation (the single use of the link), the response, the outbox event."""
    practice_id = await practice_of_link_async(db, raw_token)
    async with db.transaction_async(practice_id) as connection:
        found = (await connection.execute(_ANSWER_STATE, {"digest": hash_token(raw_token)})).first()
        response = accept_answer(
            AnswerState(*tuple[Any, ...](found)) if found else None,
            scores=scores,
            asked_to_talk=asked_to_talk,
            comment=comment,
            now=now,
        )
        try:
            claimed = await _store(connection, response, now=now)
        except IntegrityError:
            # No savepoint: the claim already makes this the invitation's only response, so
            # the unique index fires only on a bug, and then the whole transaction is refused.
            raise Conflict("This survey has already been answered.") from None
        if not claimed:
            raise Conflict(ALREADY_ANSWERED)
    return response["id"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AnswerState:
    """What accept_answer reads, in _ANSWER_STATE's column order. Everything past the link
    is None when the link opens no invitation (an unsubscribe link's subject is a client)."""

    purpose: TokenPurpose
    link_expires_at: datetime | None
    invitation_id: UUID | None
    practice_id: UUID | None
    client_id: UUID | None
    appointment_id: UUID | None
    status: InvitationStatus | None
    expires_at: datetime | None
    clinician_id: UUID | None
    settings: dict[str, Any] | None


_TOKEN = AccessToken.__table__  # type: ignore[attr-defined]
_INVITATION = Invitation.__table__  # type: ignore[attr-defined]
_CLIENT = Client.__table__  # type: ignore[attr-defined]
_PRACTICE = Practice.__table__  # type: ignore[attr-defined]
_SETTINGS = PracticeSettingsVersion.__table__  # type: ignore[attr-defined]
_RESPONSE = Response.__table__  # type: ignore[attr-defined]


async def _store(connection: AsyncConnection, response: dict[str, Any], *, now: datetime) -> bool:
    """The claim of the invitation (the single use of the link) and, only if it took it, the
    response and its evaluation's outbox event. False: another answer took it first."""
    if connection.dialect.name == "postgresql":
        # One round trip: data-modifying CTEs, which SQLite lacks.
        event = event_params(EVALUATE_RESPONSE, response["practice_id"], response["id"], at=now)
        claim = {
            "invitation_id": response["invitation_id"],
            "still_status": InvitationStatus.SENT,
            "claimed_status": InvitationStatus.ANSWERED,
            "answered_at": now,
        }
        # Prefixed: a parameter named like a column of the UPDATE would be SET on it.
        row = {f"response_{name}": value for name, value in response.items()}
        stored = await connection.execute(_STORE, {**row, **event, **claim})
        return stored.first() is not None
    if not await claim_async(
        connection,
        Invitation,
        response["invitation_id"],
        _STILL_SENT,
        status=InvitationStatus.ANSWERED,
        answered_at=now,
    ):
        return False
    await connection.execute(insert(_RESPONSE).values(**response))
    await emit_async(connection, EVALUATE_RESPONSE, response["practice_id"], response["id"], at=now)
    return True


# The statements are built once: the survey answer is the hot path.
_STILL_SENT = col(Invitation.status) == InvitationStatus.SENT
_RESPONSE_COLUMNS = [
    "id",
    "practice_id",
    "invitation_id",
    "client_id",
    "clinician_id",
    "appointment_id",
    "scores",
    "mean",
    "asked_to_talk",
    "comment",
    "submitted_at",
]
# Every value a named parameter: SQLAlchemy 2.1 loses the values of literals inside a
# data-modifying CTE ("A value is required for bind parameter").
_CLAIMED = (
    claiming(
        Invitation,
        bindparam("invitation_id"),
        col(Invitation.status) == bindparam("still_status"),
        status=bindparam("claimed_status"),
        answered_at=bindparam("answered_at"),
    )
    .returning(_INVITATION.c.id)
    .cte("claimed")
)
_ANSWERED = (
    insert(_RESPONSE)
    .from_select(
        _RESPONSE_COLUMNS,
        select(
            *(
                bindparam(f"response_{name}", type_=_RESPONSE.c[name].type)
                for name in _RESPONSE_COLUMNS
            )
        ).select_from(_CLAIMED),
    )
    .returning(_RESPONSE.c.id)
    .cte("answered")
)
_STORE = emit_after(_ANSWERED)


# One read: the link, its invitation, the invitation's client's clinician and the practice's
# current settings (AnswerState).
_ANSWER_STATE = (
    sa_select(
        _TOKEN.c.purpose,
        _TOKEN.c.expires_at,
        _INVITATION.c.id,
        _INVITATION.c.practice_id,
        _INVITATION.c.client_id,
        _INVITATION.c.appointment_id,
        _INVITATION.c.status,
        _INVITATION.c.expires_at,
        _CLIENT.c.clinician_id,
        _SETTINGS.c.body,
    )
    .select_from(_TOKEN)
    .outerjoin(_INVITATION, _INVITATION.c.id == _TOKEN.c.subject_id)
    .outerjoin(_CLIENT, _CLIENT.c.id == _INVITATION.c.client_id)
    .outerjoin(_PRACTICE, _PRACTICE.c.id == _INVITATION.c.practice_id)
    .outerjoin(
        _SETTINGS,
        (_SETTINGS.c.practice_id == _PRACTICE.c.id)
        & (_SETTINGS.c.version == _PRACTICE.c.settings_version),
    )
    .where(_TOKEN.c.token_hash == bindparam("digest"))
)


def client_of_invitation(session: Session, invitation_id: UUID) -> Client:
    client = session.exec(
        select(Client)
        .join(Invitation, col(Invitation.client_id) == col(Client.id))
        .where(Invitation.id == invitation_id)
    ).first()
    if client is None:
        raise NotFound("This link is not valid.")
    return client
