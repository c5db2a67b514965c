"""The client's side: open a survey link, answer it once, or opt out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any
from uuid import UUID, uuid4

import psycopg
from sqlalchemy import bindparam, insert
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared.db import Database
from shared.db.claim import claim_async, claiming
from shared.db.compiled import CompiledStatement
from shared.db.row_security import LINK_PRACTICE_FUNCTION
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
# No savepoint: the claim already makes a response the invitation's only one, so its unique
# index fires only on a bug, and then the whole transaction is refused with these words.
ALREADY_ANSWERED_BUG = "This survey has already been answered."


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

    The system's hot path: one transaction in the link's practice, under row-level security,
    with one read of everything accept_answer needs, then the claim of the invitation (the
    single use of the link), the response and the outbox event."""

    def accept(state: AnswerState | None) -> dict[str, Any]:
        return accept_answer(
            state, scores=scores, asked_to_talk=asked_to_talk, comment=comment, now=now
        )

    return await _store_answer(db, hash_token(raw_token), accept, now=now)


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


async def _store_answer(
    db: Database,
    digest: str,
    accept: Callable[[AnswerState | None], dict[str, Any]],
    *,
    now: datetime,
) -> UUID:
    """The answer's one transaction: read its state, let `accept` rule on it and give the
    response row, store that row if the claim of the invitation takes it. Conflict: another
    answer took it first. The one place that knows the two databases apart."""
    if db.dialect == "postgresql":
        return await _store_answer_pipelined(db, digest, accept, now=now)
    # SQLite has no row-level security, so no practice to name first.
    async with db.transaction_async() as connection:
        found = (await connection.execute(_ANSWER_STATE, {"digest": digest})).first()
        response = accept(AnswerState(*tuple[Any, ...](found)) if found else None)
        claimed = await claim_async(
            connection,
            Invitation,
            response["invitation_id"],
            _STILL_SENT,
            status=InvitationStatus.ANSWERED,
            answered_at=now,
        )
        if not claimed:
            raise Conflict(ALREADY_ANSWERED)
        try:
            await connection.execute(insert(_RESPONSE).values(**response))
        except IntegrityError:
            raise Conflict(ALREADY_ANSWERED_BUG) from None
        await emit_async(
            connection, EVALUATE_RESPONSE, response["practice_id"], response["id"], at=now
        )
    return response["id"]  # type: ignore[no-any-return]


async def _store_answer_pipelined(
    db: Database,
    digest: str,
    accept: Callable[[AnswerState | None], dict[str, Any]],
    *,
    now: datetime,
) -> UUID:
    """_store_answer on PostgreSQL in two round trips, on psycopg in pipeline mode with
    prepared statements (SQLAlchemy's async execution was most of an answer's cost):
    1. BEGIN, naming the link's practice (answer_link_practice, migration 0016: the system
       role's lookup, inside this transaction), and the read of the answer's state;
    2. the claim, the response and the outbox event in one statement, and COMMIT."""
    async with db.driver_connection_async() as connection:
        # Our own BEGIN and COMMIT, so that each travels with the statements beside it:
        # psycopg's implicit BEGIN in a pipeline waits for its own answer (a round trip).
        await connection.set_autocommit(True)
        try:
            async with connection.pipeline():
                await connection.execute(b"BEGIN")
                await connection.execute(_NAME_LINK_PRACTICE, {"digest": digest}, prepare=True)
                read = await connection.execute(
                    _ANSWER_STATE_SQL.sql, {"digest": digest}, prepare=True
                )
                found = await read.fetchone()  # round trip 1
                response = accept(AnswerState(*_ANSWER_STATE_SQL.row(found)) if found else None)
                event = event_params(
                    EVALUATE_RESPONSE, response["practice_id"], response["id"], at=now
                )
                claim = {
                    "invitation_id": response["invitation_id"],
                    "still_status": InvitationStatus.SENT,
                    "claimed_status": InvitationStatus.ANSWERED,
                    "answered_at": now,
                }
                # Prefixed: a parameter named like a column of the UPDATE would be SET on it.
                row = {f"response_{name}": value for name, value in response.items()}
                stored = await connection.execute(
                    _STORE_SQL.sql, _STORE_SQL.params({**row, **event, **claim}), prepare=True
                )
                await connection.execute(b"COMMIT")
            # Leaving the pipeline sent its Sync and read every result: round trip 2.
            claimed = await stored.fetchone() is not None
        except psycopg.IntegrityError:
            raise Conflict(ALREADY_ANSWERED_BUG) from None
        finally:
            if not connection.broken:
                await connection.rollback()  # only a failure leaves anything to roll back
                await connection.set_autocommit(False)
    if not claimed:
        raise Conflict(ALREADY_ANSWERED)
    return response["id"]  # type: ignore[no-any-return]


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
_STORE_SQL = CompiledStatement.of(emit_after(_ANSWERED))


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
_ANSWER_STATE_SQL = CompiledStatement.of(_ANSWER_STATE)
# The transaction's practice, from the link (an unknown link: none, so every read finds
# nothing and the answer is "not valid", as before).
_NAME_LINK_PRACTICE = (
    "SELECT set_config('app.practice_id', "
    f"coalesce({LINK_PRACTICE_FUNCTION}(%(digest)s)::text, ''), true)"
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
