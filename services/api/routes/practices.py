from __future__ import annotations

from uuid import UUID, uuid4

from litestar import Controller, post
from pydantic import EmailStr, Field

from services.api.context import ApiContext
from services.api.schemas import AccountOut, Body, Out, TimeZone
from shared.accounts.service import log_in
from shared.practice.service import sign_up


class SignUp(Body):
    practice_name: str = Field(min_length=1, max_length=120)
    owner_name: str = Field(min_length=1, max_length=120)
    owner_email: EmailStr
    password: str = Field(min_length=10, max_length=200)
    timezone: TimeZone = "UTC"


class SignedUp(Out):
    practice_id: UUID
    owner: AccountOut
    token: str


class PracticeController(Controller):
    path = "/api/v1"
    tags = ["practices"]

    @post(
        "/practices",
        opt={"public": True, "rate_limit": "sign_up"},
        sync_to_thread=True,
        status_code=201,
    )
    def sign_up(self, data: SignUp, context: ApiContext) -> SignedUp:
        """Sign up a practice with its owner; returns a session token for the owner."""
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
                now=now,
            )
            session.flush()
            token, _ = log_in(
                session,
                email=data.owner_email,
                password=data.password,
                now=now,
                lifetime=context.settings.session_lifetime,
            )
            return SignedUp(
                practice_id=practice.id, owner=AccountOut.model_validate(owner), token=token
            )
