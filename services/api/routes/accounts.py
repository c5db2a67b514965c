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
from services.api.path_ids import ClinicianId
from services.api.rate_limit import enforce
from services.api.schemas import AccountOut, Body, Out, TimeZone
from shared.access import Principal
from shared.accounts import links
from shared.accounts import service as accounts
from shared.credentials import practice_of_login
from shared.errors import Conflict
from shared.pagination import PageRequest


class LogIn(Body):
    """An owner's or clinician's email and password."""

    email: EmailStr = Field(description="The account's email address.")
    password: str = Field(
        min_length=1, max_length=200, description="The account's password, up to 200 characters."
    )


class LoggedIn(Out):
    """A new session."""

    token: str = Field(description="Send it as Authorization: Bearer <token>.")
    csrf_token: str = Field(
        description="For pages signed in by cookie: send it as X-CSRF-Token on every "
        "POST, PUT, PATCH and DELETE. Bearer callers do not need it."
    )
    account: AccountOut = Field(description="The signed-in account.")


class PasswordResetRequest(Body):
    """Whose password to reset."""

    email: EmailStr = Field(description="The account's email address.")


class Accepted(Out):
    """The request is taken; what happens next is said in words."""

    detail: str = Field(description="What happens next.")


class InvitationOut(Out):
    """A clinician's new invitation."""

    clinician_id: UUID = Field(description="The clinician invited.")
    expires_at: datetime = Field(description="When the emailed link stops working.")


class NewClinician(Body):
    """A clinician to add to the practice."""

    email: EmailStr = Field(description="The clinician's email address: their sign-in.")
    name: str = Field(
        min_length=1, max_length=120, description="The clinician's name, 1 to 120 characters."
    )
    timezone: TimeZone = Field(
        default="UTC",
        description="The clinician's IANA time zone, e.g. America/Chicago: their nudges and "
        "morning digest are timed in it. Default UTC.",
    )
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
        summary="Sign in",
        operation_id="logIn",
    )
    def log_in(self, data: LogIn, request: Request, context: ApiContext) -> Response[LoggedIn]:
        """Sign an owner or clinician in with email and password (no credentials needed;
        rate-limited per address and per caller). Each call starts a new session. Returns its
        token, which works as a bearer token and is also set as an HttpOnly cookie, and the
        account. A wrong email or password is a 401 that does not say which."""
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
        summary="Ask for a password reset link",
        operation_id="requestPasswordReset",
    )
    def request_password_reset(
        self, data: PasswordResetRequest, request: Request, context: ApiContext
    ) -> Accepted:
        """Email a single-use link to choose a new password (no credentials needed;
        rate-limited). The answer is the same 202 whether or not the address has an
        account, so it tells nobody who has one."""
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

    @post(
        "/logout", sync_to_thread=True, status_code=204, summary="Sign out", operation_id="logOut"
    )
    def log_out(self, request: Request, context: ApiContext) -> Response[None]:
        """End the session this request is signed in with and clear its cookies. Any signed-in
        owner or clinician. Returns 204 with no body."""
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

    @get("/me", sync_to_thread=True, summary="Read my account", operation_id="readMe")
    def me(self, principal: Principal, context: ApiContext) -> AccountOut:
        """The signed-in owner's or clinician's own account (not for API keys)."""
        with context.transaction(principal) as session:
            assert principal.account_id is not None
            return AccountOut.model_validate(
                accounts.get_clinician(session, principal, principal.account_id)
            )

    @get(
        "/clinicians",
        sync_to_thread=True,
        response_headers=PAGE_HEADERS,
        summary="List the practice's accounts",
        operation_id="listClinicians",
    )
    def list_clinicians(
        self, request: Request, principal: Principal, context: ApiContext, page: PageRequest
    ) -> Response[list[AccountOut]]:
        """The practice's owner and clinicians, a page at a time (see the Link header for the
        next page). Any signed-in owner or clinician; not for API keys."""
        with context.transaction(principal) as session:
            found = accounts.list_accounts(session, principal, page=page)
            return paged(request, found, [AccountOut.model_validate(a) for a in found.items])

    @post(
        "/clinicians",
        sync_to_thread=True,
        status_code=201,
        guards=[owner_only],
        summary="Add a clinician",
        operation_id="addClinician",
        opt={"raises": (Conflict,)},
    )
    def add_clinician(
        self, data: NewClinician, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """The owner adds a clinician to the practice. Without a password, the clinician gets
        an emailed invitation to choose one. Owner only. Not idempotent: an email address
        already in use is a 409. Returns the new account (201)."""
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
        summary="Invite a clinician again",
        operation_id="inviteClinicianAgain",
    )
    def invite_again(
        self, clinician_id: ClinicianId, principal: Principal, context: ApiContext
    ) -> InvitationOut:
        """Email the clinician a new invitation to choose their password (the last one
        expired or was lost). Owner only. Each call sends a new email and the newest link
        is the one that works. Returns when the new link expires (201)."""
        with context.transaction(principal) as session:
            link = links.invite_clinician(
                session,
                principal,
                clinician_id,
                now=context.clock.now(),
                lifetime=context.settings.invitation_lifetime,
            )
            return InvitationOut(clinician_id=clinician_id, expires_at=link.expires_at)

    @get(
        "/clinicians/{clinician_id:uuid}",
        sync_to_thread=True,
        summary="Read an account",
        operation_id="readClinician",
    )
    def get_clinician(
        self, clinician_id: ClinicianId, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """One of the practice's accounts, owner or clinician. Any signed-in owner or
        clinician; not for API keys."""
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
        summary="Deactivate a clinician",
        operation_id="deactivateClinician",
    )
    def deactivate(
        self, clinician_id: ClinicianId, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """The clinician can no longer sign in and is signed out now; their clients, alerts
        and history stay. Owner only; the owner's own account cannot be deactivated (409).
        Again changes nothing. Returns the account."""
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
        summary="Reactivate a clinician",
        operation_id="reactivateClinician",
    )
    def reactivate(
        self, clinician_id: ClinicianId, principal: Principal, context: ApiContext
    ) -> AccountOut:
        """The clinician may sign in again with their password. Owner only. Again changes
        nothing. Returns the account."""
        with context.transaction(principal) as session:
            return AccountOut.model_validate(
                accounts.reactivate_clinician(
                    session, principal, clinician_id, now=context.clock.now()
                )
            )
