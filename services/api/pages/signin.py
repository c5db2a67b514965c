"""Signing in and out, and asking for a password reset. The sign-up page and the first-run
checklist live in services/api/pages/signup.py."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template
from pydantic import ValidationError

from services.api.auth import (
    clear_session_cookies,
    credential_of,
    session_cookies,
    signed_in_principal,
)
from services.api.context import ApiContext
from services.api.pages.rendering import (
    PAGE,
    PUBLIC_PAGE,
    field_errors,
    home_of,
    page,
    safe_next,
    see_other,
)
from services.api.rate_limit import enforce
from services.api.routes.accounts import LogIn, PasswordResetRequest
from shared.accounts import links
from shared.accounts import service as accounts
from shared.accounts.service import BadCredentials
from shared.credentials import practice_of_login

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
ASKS = {"password": "Enter your password."}


def _sign_in_form(
    *,
    next_path: str,
    email: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
    notice: str | None = None,
) -> Template:
    return page(
        "signin/login.html",
        principal=None,
        status=status,
        next_path=next_path,
        email=email,
        errors=errors or {},
        notice=notice,
    )


class SignInPages(Controller):
    tags = ["pages"]
    include_in_schema = False

    @get("/", opt=PUBLIC_PAGE)
    async def root(self, request: Request) -> Redirect:
        """Signed in: your home page. Signed out: the sign-in page."""
        principal = await signed_in_principal(request)
        return see_other(home_of(principal) if principal else "/login")

    @get("/login", opt=PUBLIC_PAGE)
    async def sign_in_page(self, request: Request, next: str | None = None) -> Template | Redirect:
        principal = await signed_in_principal(request)
        if principal is not None:
            return see_other(safe_next(next, home_of(principal)))
        notice = {
            "signed-out": "You are signed out.",
            "expired": "Your session ended. Please sign in again.",
        }.get(request.query_params.get("notice", ""))
        return _sign_in_form(next_path=safe_next(next, ""), notice=notice)

    @post("/login", opt={**PUBLIC_PAGE, "rate_limit": "login"}, sync_to_thread=True)
    def sign_in(
        self, request: Request, data: Annotated[dict[str, Any], FORM], context: ApiContext
    ) -> Response[Any]:
        email = str(data.get("email", ""))[:254]
        next_path = safe_next(str(data.get("next", "")), "")
        try:
            form = LogIn(email=email, password=str(data.get("password", "")))
        except ValidationError as error:
            return _sign_in_form(
                next_path=next_path,
                email=email,
                errors=field_errors(error, LogIn, ASKS),
                status=422,
            )
        enforce(request, "login_account", form.email.strip().lower())
        try:
            with context.db.transaction(practice_of_login(context.db, form.email)) as session:
                token, account = accounts.log_in(
                    session,
                    email=form.email,
                    password=form.password,
                    now=context.clock.now(),
                    lifetime=context.settings.session_lifetime,
                )
                home = "/practice" if account.role == "owner" else "/sessions"
        except BadCredentials as refused:
            return _sign_in_form(
                next_path=next_path, email=email, errors={"form": refused.message}, status=401
            )
        cookies, _ = session_cookies(token, context.settings)
        return Redirect(safe_next(next_path, home), status_code=303, cookies=cookies)

    @post("/logout", opt=PAGE, sync_to_thread=True)
    def sign_out(self, request: Request, context: ApiContext) -> Redirect:
        credential = credential_of(request)
        if credential:
            with context.transaction(request.user) as session:
                accounts.log_out(session, credential, now=context.clock.now())
        response = Redirect("/login?notice=signed-out", status_code=303)
        clear_session_cookies(response)
        return response

    @get("/forgot-password", opt=PUBLIC_PAGE)
    async def forgot_password_page(self) -> Template:
        return page("signin/forgot.html", principal=None, errors={}, email="", sent=False)

    @post(
        "/forgot-password",
        opt={**PUBLIC_PAGE, "rate_limit": "password_reset"},
        sync_to_thread=True,
    )
    def forgot_password(
        self, request: Request, data: Annotated[dict[str, Any], FORM], context: ApiContext
    ) -> Template:
        """Email a single-use link to choose a new password; the page says the same whether
        or not the address has an account."""
        email = str(data.get("email", ""))[:254]
        try:
            form = PasswordResetRequest(email=email)
        except ValidationError as error:
            return page(
                "signin/forgot.html",
                principal=None,
                status=422,
                errors=field_errors(error, PasswordResetRequest),
                email=email,
                sent=False,
            )
        enforce(request, "password_reset", form.email.strip().lower())
        with context.db.transaction(practice_of_login(context.db, form.email)) as session:
            links.request_password_reset(
                session,
                email=form.email,
                now=context.clock.now(),
                lifetime=context.settings.password_reset_lifetime,
            )
        return page("signin/forgot.html", principal=None, errors={}, email=email, sent=True)
