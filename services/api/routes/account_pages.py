"""The pages an emailed account link opens: choose a new password, or set up an invited
clinician's account. The GET shows a form and changes nothing (mail scanners follow links);
the POST spends the link. No session cookie is involved, so no CSRF token: the single-use
link is the credential, as on the survey pages."""

from __future__ import annotations

from contextlib import AbstractContextManager as ContextManager
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlmodel import Session

from services.api.auth import session_cookies
from services.api.context import ApiContext
from services.api.path_ids import AccountLinkToken
from services.api.routes.survey_pages import TOKEN_PAGE_HEADERS
from shared.accounts.links import open_link, use_link
from shared.accounts.service import start_session
from shared.credentials import practice_of_account_link
from shared.errors import Conflict, DomainError, Gone, Invalid
from shared.models import AccountLinkPurpose

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
PASSWORD_MIN = 10
PASSWORD_MAX = 200
PAGES = {
    AccountLinkPurpose.PASSWORD_RESET: ("Choose a new password", "Save my new password"),
    AccountLinkPurpose.CLINICIAN_INVITATION: ("Set up your Attune account", "Set my password"),
}
SIGN_IN_LINK = ("/login", "Sign in")
DONE = {
    AccountLinkPurpose.PASSWORD_RESET: "Your password was changed. Sign in with the new one.",
    AccountLinkPurpose.CLINICIAN_INVITATION: "Your account is ready. You can sign in now.",
}


def _page(name: str, status: int = 200, **context: Any) -> Template:
    return Template(
        template_name=name, context=context, status_code=status, headers=TOKEN_PAGE_HEADERS
    )


def _problem(error: DomainError) -> Template:
    return _page("message.html", status=error.status_code, title="This link", message=error.message)


def _form(purpose: AccountLinkPurpose, *, status: int = 200, error: str | None = None) -> Template:
    title, button = PAGES[purpose]
    return _page(
        "set_password.html",
        status=status,
        title=title,
        button=button,
        error=error,
        min_length=PASSWORD_MIN,
    )


def _link_transaction(context: ApiContext, token: str) -> ContextManager[Session]:
    """A transaction in the practice the link belongs to; an unknown token gets one in no
    practice, where open_link finds nothing and says the link is not valid."""
    return context.db.transaction(practice_of_account_link(context.db, token))


def _show(context: ApiContext, token: str, purpose: AccountLinkPurpose) -> Template:
    try:
        with _link_transaction(context, token) as session:
            open_link(session, token, purpose, now=context.clock.now())
    except DomainError as problem:
        return _problem(problem)
    return _form(purpose)


def _password_problem(data: dict[str, Any]) -> str | None:
    password, confirm = data.get("password"), data.get("confirm")
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"Choose a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters."
    if password != confirm:
        return "The two passwords are not the same."
    return None


def _use(
    context: ApiContext, token: str, purpose: AccountLinkPurpose, data: dict[str, Any]
) -> Template | Redirect:
    problem = _password_problem(data)
    if problem is not None:
        # Checked before the link is spent, so a typo does not use it up.
        try:
            with _link_transaction(context, token) as session:
                open_link(session, token, purpose, now=context.clock.now())
        except DomainError as error:
            return _problem(error)
        return _form(purpose, status=422, error=problem)
    signed_in: str | None = None
    try:
        with _link_transaction(context, token) as session:
            now = context.clock.now()
            account = use_link(session, token, purpose, password=data["password"], now=now)
            if (
                purpose is AccountLinkPurpose.CLINICIAN_INVITATION
                and account.deactivated_at is None
            ):
                # The invitation proved who this is: no need to type the new password again.
                signed_in = start_session(
                    session, account, now=now, lifetime=context.settings.session_lifetime
                )
    except DomainError as error:
        return _problem(error)
    if signed_in is not None:
        cookies, _ = session_cookies(signed_in, context.settings)
        return Redirect("/sessions", status_code=303, cookies=cookies)
    return _page("message.html", title="Done", message=DONE[purpose], link=SIGN_IN_LINK)


class AccountPageController(Controller):
    """The pages an emailed password-reset or invitation link opens: HTML for people, in the
    schema as part of Attune's public surface (see the client pages)."""

    path = "/account"
    tags = ["account pages"]
    opt = {
        "public": True,
        "rate_limit": "account_link",
        "exclude_from_csrf": True,
        # Each answers these itself, with a page.
        "raises": (Conflict, Gone, Invalid),
    }

    @get(
        "/reset/{token:str}",
        sync_to_thread=True,
        summary="Show the new-password form",
        operation_id="showPasswordReset",
    )
    def reset_page(self, token: AccountLinkToken, context: ApiContext) -> Template:
        """The form (HTML) to choose a new password, opened from the emailed link; the token
        in the path is the credential. Opening it changes nothing."""
        return _show(context, token, AccountLinkPurpose.PASSWORD_RESET)

    @post(
        "/reset/{token:str}",
        sync_to_thread=True,
        status_code=200,
        summary="Choose a new password",
        operation_id="resetPassword",
    )
    def reset(
        self, token: AccountLinkToken, data: Annotated[dict[str, Any], FORM], context: ApiContext
    ) -> Template | Redirect:
        """Set the new password (form fields password and confirm) and spend the link;
        every other session is signed out. The link works once; a password refused for its
        length shows the form again without spending it."""
        return _use(context, token, AccountLinkPurpose.PASSWORD_RESET, data)

    @get(
        "/join/{token:str}",
        sync_to_thread=True,
        summary="Show the invitation's password form",
        operation_id="showInvitation",
    )
    def join_page(self, token: AccountLinkToken, context: ApiContext) -> Template:
        """An invited clinician's form (HTML) to choose a password, opened from the emailed
        invitation; the token in the path is the credential. Opening it changes nothing."""
        return _show(context, token, AccountLinkPurpose.CLINICIAN_INVITATION)

    @post(
        "/join/{token:str}",
        sync_to_thread=True,
        status_code=200,
        summary="Accept an invitation",
        operation_id="acceptInvitation",
    )
    def join(
        self, token: AccountLinkToken, data: Annotated[dict[str, Any], FORM], context: ApiContext
    ) -> Template | Redirect:
        """Set the invited clinician's password (form fields password and confirm), spend
        the link and sign them in, redirecting to their sessions page. The link works
        once."""
        return _use(context, token, AccountLinkPurpose.CLINICIAN_INVITATION, data)
