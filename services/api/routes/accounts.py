from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, Response, get, post
from pydantic import EmailStr, Field

from services.api.auth import SESSION_COOKIE, credential_of, people_only
from services.api.context import ApiContext
from services.api.schemas import AccountOut, Body, Out, TimeZone
from shared.access import Principal
from shared.accounts import service as accounts
from shared.credentials import practice_of_login


class LogIn(Body):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class LoggedIn(Out):
    token: str
    account: AccountOut


class NewClinician(Body):
    email: EmailStr
    name: str = Field(min_length=1, max_length=120)
    timezone: TimeZone = "UTC"
    password: str | None = Field(default=None, min_length=10, max_length=200)


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/login", opt={"public": True}, sync_to_thread=True, status_code=200)
    def log_in(self, data: LogIn, context: ApiContext) -> Response[LoggedIn]:
        """Log in; the token works as a bearer token and is also set as an HttpOnly cookie."""
        # An unknown email still runs log_in (in no practice, so it finds no one), which
        # spends a password hash's time: the answer's timing tells nothing.
        with context.db.transaction(practice_of_login(context.db, data.email)) as session:
            token, account = accounts.log_in(
                session,
                email=data.email,
                password=data.password,
                now=context.clock.now(),
                lifetime=context.settings.session_lifetime,
            )
            body = LoggedIn(token=token, account=AccountOut.model_validate(account))
        response = Response(body)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            secure=True,
            samesite="strict",
            max_age=int(context.settings.session_lifetime.total_seconds()),
        )
        return response

    @post("/logout", sync_to_thread=True, status_code=204)
    def log_out(self, request: Request, context: ApiContext) -> Response[None]:
        credential = credential_of(request)
        if credential:
            with context.transaction(request.user) as session:
                accounts.log_out(session, credential, now=context.clock.now())
        response: Response[None] = Response(None, status_code=204)
        response.delete_cookie(SESSION_COOKIE)
        return response


class AccountController(Controller):
    path = "/api/v1"
    tags = ["accounts"]
    guards = [people_only]

    @get("/me", sync_to_thread=True)
    def me(self, principal: Principal, context: ApiContext) -> AccountOut:
        with context.transaction(principal) as session:
            assert principal.account_id is not None
            return AccountOut.model_validate(
                accounts.get_clinician(session, principal, principal.account_id)
            )

    @get("/clinicians", sync_to_thread=True)
    def list_clinicians(self, principal: Principal, context: ApiContext) -> list[AccountOut]:
        with context.transaction(principal) as session:
            return [
                AccountOut.model_validate(a) for a in accounts.list_accounts(session, principal)
            ]

    @post("/clinicians", sync_to_thread=True, status_code=201)
    def add_clinician(
        self, data: NewClinician, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """The owner adds a clinician to the practice."""
        with context.transaction(principal) as session:
            account = accounts.add_clinician(
                session,
                principal,
                email=data.email,
                name=data.name,
                timezone=data.timezone,
                password=data.password,
                now=context.clock.now(),
            )
            session.flush()
            return AccountOut.model_validate(account)

    @get("/clinicians/{clinician_id:uuid}", sync_to_thread=True)
    def get_clinician(
        self, clinician_id: UUID, principal: Principal, context: ApiContext
    ) -> AccountOut:
        with context.transaction(principal) as session:
            return AccountOut.model_validate(
                accounts.get_clinician(session, principal, clinician_id)
            )
