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
    practice_name: str = Field(min_length=1, max_length=120)
    owner_name: str = Field(min_length=1, max_length=120)
    owner_email: EmailStr
    password: str = Field(min_length=10, max_length=200)
    timezone: TimeZone = "UTC"
    crisis_line: CrisisLine | None = Field(
        default=None,
        description="What the survey page tells a client in crisis, e.g. a local helpline. "
        "Left out, the default names 988 (US) and the local emergency number.",
    )


class SignedUp(Out):
    practice_id: UUID
    owner: AccountOut
    token: str


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
    )
    def sign_up(self, data: SignUp, context: ApiContext) -> SignedUp:
        """Sign up a practice with its owner; returns a session token for the owner."""
        return open_practice(context, data)
