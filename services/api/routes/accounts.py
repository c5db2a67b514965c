from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from pydantic import EmailStr, Field

from services.api.auth import (
    clear_session_cookies,
    credential_of,
    owner_only,
    people_only,
    session_cookies,
)
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.rate_limit import enforce
from services.api.schemas import AccountOut, Body, Out, TimeZone
from shared.access import Principal
from shared.accounts import links
from shared.accounts import service as accounts
from shared.credentials import practice_of_login
from shared.errors import Conflict
from shared.pagination import PageRequest


class LogIn(Body):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class LoggedIn(Out):
    token: str
    csrf_token: str = Field(
        description="For pages signed in by cookie: send it as X-CSRF-Token on every "
        "POST, PUT, PATCH and DELETE. Bearer callers do not need it."
    )
    account: AccountOut


class PasswordResetRequest(Body):
    email: EmailStr


class Accepted(Out):
    detail: str


class InvitationOut(Out):
    clinician_id: UUID
    expires_at: datetime


class NewClinician(Body):
    email: EmailStr
    name: str = Field(min_length=1, max_length=120)
    timezone: TimeZone = "UTC"
    password: str | None = Field(
        default=None,
        min_length=10,
        max_length=200,
        description="Leave out to email the clinician an invitation to choose their own.",
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/login",
        opt={"public": True, "rate_limit": "login", "raises": (accounts.BadCredentials,)},
        sync_to_thread=True,
        status_code=200,
    )
    def log_in(self, data: LogIn, request: Request, context: ApiContext) -> Response[LoggedIn]:
        """Log in; the token works as a bearer token and is also set as an HttpOnly cookie."""
        enforce(request, "login_account", data.email.strip().lower())
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
            account_out = AccountOut.model_validate(account)
        cookies, csrf = session_cookies(token, context.settings)
        return Response(
            LoggedIn(token=token, csrf_token=csrf, account=account_out), cookies=cookies
        )

    @post(
        "/password-reset",
        opt={"public": True, "rate_limit": "password_reset"},
        sync_to_thread=True,
        status_code=202,
    )
    def request_password_reset(
        self, data: PasswordResetRequest, request: Request, context: ApiContext
    ) -> Accepted:
        """Email a single-use link to choose a new password. The answer is the same whether
        or not the address has an account."""
        enforce(request, "password_reset", data.email.strip().lower())
        with context.db.transaction(practice_of_login(context.db, data.email)) as session:
            links.request_password_reset(
                session,
                email=data.email,
                now=context.clock.now(),
                lifetime=context.settings.password_reset_lifetime,
            )
        return Accepted(
            detail="If this address has an account, a link to choose a new password is on its "
            "way. It works once and expires soon."
        )

    @post("/logout", sync_to_thread=True, status_code=204)
    def log_out(self, request: Request, context: ApiContext) -> Response[None]:
        credential = credential_of(request)
        if credential:
            with context.transaction(request.user) as session:
                accounts.log_out(session, credential, now=context.clock.now())
        response: Response[None] = Response(None, status_code=204)
        clear_session_cookies(response)
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

    @get("/clinicians", sync_to_thread=True, response_headers=PAGE_HEADERS)
    def list_clinicians(
        self, request: Request, principal: Principal, context: ApiContext, page: PageRequest
    ) -> Response[list[AccountOut]]:
        with context.transaction(principal) as session:
            found = accounts.list_accounts(session, principal, page=page)
            return paged(request, found, [AccountOut.model_validate(a) for a in found.items])

    @post(
        "/clinicians",
        sync_to_thread=True,
        status_code=201,
        guards=[owner_only],
        opt={"raises": (Conflict,)},
    )
    def add_clinician(
        self, data: NewClinician, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """The owner adds a clinician to the practice. Without a password, the clinician gets
        an emailed invitation to choose one."""
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
            if data.password is None:
                links.invite_clinician(
                    session,
                    principal,
                    account.id,
                    now=context.clock.now(),
                    lifetime=context.settings.invitation_lifetime,
                )
            return AccountOut.model_validate(account)

    @post(
        "/clinicians/{clinician_id:uuid}/invitation",
        opt={"raises": (Conflict,)},
        sync_to_thread=True,
        status_code=201,
        guards=[owner_only],
    )
    def invite_again(
        self, clinician_id: UUID, principal: Principal, context: ApiContext
    ) -> InvitationOut:
        """Email the clinician a new invitation (the last one expired or was lost)."""
        with context.transaction(principal) as session:
            link = links.invite_clinician(
                session,
                principal,
                clinician_id,
                now=context.clock.now(),
                lifetime=context.settings.invitation_lifetime,
            )
            return InvitationOut(clinician_id=clinician_id, expires_at=link.expires_at)

    @get("/clinicians/{clinician_id:uuid}", sync_to_thread=True)
    def get_clinician(
        self, clinician_id: UUID, principal: Principal, context: ApiContext
    ) -> AccountOut:
        with context.transaction(principal) as session:
            return AccountOut.model_validate(
                accounts.get_clinician(session, principal, clinician_id)
            )

    @post(
        "/clinicians/{clinician_id:uuid}/deactivate",
        opt={"raises": (Conflict,)},
        sync_to_thread=True,
        status_code=200,
        guards=[owner_only],
    )
    def deactivate(
        self, clinician_id: UUID, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """The clinician can no longer sign in and is signed out now; their clients, alerts
        and history stay. Again changes nothing."""
        with context.transaction(principal) as session:
            return AccountOut.model_validate(
                accounts.deactivate_clinician(
                    session, principal, clinician_id, now=context.clock.now()
                )
            )

    @post(
        "/clinicians/{clinician_id:uuid}/reactivate",
        sync_to_thread=True,
        status_code=200,
        guards=[owner_only],
    )
    def reactivate(
        self, clinician_id: UUID, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """The clinician may sign in again with their password. Again changes nothing."""
        with context.transaction(principal) as session:
            return AccountOut.model_validate(
                accounts.reactivate_clinician(
                    session, principal, clinician_id, now=context.clock.now()
                )
            )
