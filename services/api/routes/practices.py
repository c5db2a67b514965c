from __future__ import annotations

from uuid import UUID, uuid4

from litestar import Controller, post
from pydantic import EmailStr, Field

from services.api.context import ApiContext
from services.api.schemas import AccountOut, Body, Out, TimeZone
from shared.accounts.service import start_session
from shared.errors import Conflict
from shared.practice.service import sign_up
from shared.practice.settings import CrisisLine


class SignUp(Body):
    """A new practice and its owner's account."""

    practice_name: str = Field(
        min_length=1, max_length=120, description="The practice's name, 1 to 120 characters."
    )
    owner_name: str = Field(
        min_length=1, max_length=120, description="The owner's name, 1 to 120 characters."
    )
    owner_email: EmailStr = Field(description="The owner's email address: their sign-in.")
    password: str = Field(
        min_length=10, max_length=200, description="The owner's password, 10 to 200 characters."
    )
    timezone: TimeZone = Field(
        default="UTC",
        description="The practice's IANA time zone, e.g. Europe/London. Default UTC.",
    )
    crisis_line: CrisisLine | None = Field(
        default=None,
        description="What the survey page tells a client in crisis, e.g. a local helpline. "
        "Left out, the default names 988 (US) and the local emergency number.",
    )


class SignedUp(Out):
    """The new practice, its owner, and a session token for the owner."""

    practice_id: UUID = Field(description="Attune's id for the new practice.")
    owner: AccountOut = Field(description="The owner's account.")
    token: str = Field(description="A session token: send it as Authorization: Bearer <token>.")


def open_practice(context: ApiContext, data: SignUp) -> SignedUp:
    """Sign up a practice with its owner and sign the owner in: the JSON route and the
    sign-up page both do it this way."""
    # The new practice's id is chosen first: its rows are written as that practice.
    practice_id = uuid4()
    with context.db.transaction(practice_id) as session:
        now = context.clock.now()
        practice, owner = sign_up(
            session,
            practice_id=practice_id,
            practice_name=data.practice_name,
            owner_email=data.owner_email,
            owner_name=data.owner_name,
            password=data.password,
            timezone=data.timezone,
            crisis_line=data.crisis_line,
            now=now,
        )
        session.flush()
        token = start_session(session, owner, now=now, lifetime=context.settings.session_lifetime)
        return SignedUp(
            practice_id=practice.id, owner=AccountOut.model_validate(owner), token=token
        )


class PracticeController(Controller):
    path = "/api/v1"
    tags = ["practices"]

    @post(
        "/practices",
        opt={"public": True, "rate_limit": "sign_up", "raises": (Conflict,)},
        sync_to_thread=True,
        status_code=201,
        summary="Sign up a practice",
        operation_id="signUp",
    )
    def sign_up(self, data: SignUp, context: ApiContext) -> SignedUp:
        """Create a practice with its owner's account and sign the owner in. Anyone may call
        it (no credentials; rate-limited). Not idempotent: each call makes a new practice,
        and an email address already in use is refused. Returns the practice id, the owner's
        account and a session token for the owner (201)."""
        return open_practice(context, data)
