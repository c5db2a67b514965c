"""Who is calling: a signed-in account (bearer token or cookie) or a practice API key."""

from __future__ import annotations

from typing import Any

import anyio
import structlog
from litestar import Response
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import (
    AbstractAuthenticationMiddleware,
    AuthenticationResult,
    DefineMiddleware,
)
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_token
from litestar.types import Receive, Scope, Send

from services.api.context import ApiContext, context_of
from shared.access import Principal
from shared.accounts.service import principal_for_api_key, principal_for_session
from shared.credentials import practice_of_credential
from shared.settings import Settings

SESSION_COOKIE = "attune_session"
CSRF_COOKIE = "attune_csrf"
CSRF_HEADER = "x-csrf-token"
API_KEY_HEADER = "x-api-key"
LITESTAR_CSRF_REFUSAL = "CSRF token verification failed"


def credential_of(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return connection.headers.get(API_KEY_HEADER) or connection.cookies.get(SESSION_COOKIE)


class SessionCSRFMiddleware(CSRFMiddleware):
    """Litestar's double-submit CSRF check, for the requests a hostile page could forge: any
    request that carries the session cookie, and every form post to our pages (sign-in and
    sign-up included, so nobody can be signed in to an attacker's account). A call to the
    JSON API without the cookie rides on no ambient credential (a bearer token or an API
    key is set deliberately), so it needs no such proof. Survey, unsubscribe and account-link
    posts are protected by their single-use token instead (opt exclude_from_csrf)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == ScopeType.HTTP
            and scope.get("path", "").startswith("/api/")
            and SESSION_COOKIE not in ASGIConnection(scope).cookies
        ):
            await self.app(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except PermissionDeniedException as refused:
            if refused.detail != LITESTAR_CSRF_REFUSAL:
                raise  # a guard's refusal from further in, not ours
            raise PermissionDeniedException(
                "This form or request is missing its anti-forgery token: a request signed in "
                f"by cookie must carry the {CSRF_HEADER} header (the value of the {CSRF_COOKIE} "
                "cookie), and a page's form its hidden _csrf_token field. Reload the page and "
                "try again."
            ) from None


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=settings.secret_key,
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_secure=True,
        cookie_samesite="strict",
        # Readable by an integration's script, which echoes it in the X-CSRF-Token header;
        # the pages put it in a hidden form field instead.
        cookie_httponly=False,
    )


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    return DefineMiddleware(SessionCSRFMiddleware, config=csrf_config(settings))


def session_cookies(token: str, settings: Settings) -> tuple[list[Cookie], str]:
    """What signs a browser in: the HttpOnly session cookie, and a fresh CSRF cookie (a token
    from before the sign-in must not carry over into the session). Also returns the CSRF
    token, for JSON callers to echo in the X-CSRF-Token header."""
    lifetime = int(settings.session_lifetime.total_seconds())
    csrf = generate_csrf_token(settings.secret_key)
    common: dict[str, Any] = {"secure": True, "samesite": "strict", "max_age": lifetime}
    return [
        Cookie(key=SESSION_COOKIE, value=token, httponly=True, **common),
        Cookie(key=CSRF_COOKIE, value=csrf, httponly=False, **common),
    ], csrf


def clear_session_cookies(response: Response[Any]) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


def principal_of(context: ApiContext, credential: str) -> Principal | None:
    """The account or API key behind a credential, if it is live. Blocking: call it from a
    thread."""
    practice_id = practice_of_credential(context.db, credential)
    if practice_id is None:
        return None
    with context.db.transaction(practice_id) as session:
        now = context.clock.now()
        if credential.startswith("ak_"):
            return principal_for_api_key(session, credential, now=now)
        return principal_for_session(
            session, credential, now=now, idle_limit=context.settings.session_idle_limit
        )


async def signed_in_principal(connection: ASGIConnection) -> Principal | None:
    """For public pages that change with the visitor (the sign-in page sends a signed-in
    visitor home): who is signed in by cookie, if anyone."""
    credential = connection.cookies.get(SESSION_COOKIE)
    if not credential:
        return None
    context = context_of(connection)  # type: ignore[arg-type]
    return await anyio.to_thread.run_sync(principal_of, context, credential)


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        credential = credential_of(connection)
        if not credential:
            raise NotAuthorizedException(
                "Sign in first: send 'Authorization: Bearer <token>' or an API key."
            )
        context = context_of(connection)  # type: ignore[arg-type]
        principal = await anyio.to_thread.run_sync(principal_of, context, credential)
        if principal is None:
            raise NotAuthorizedException("This token or API key is not valid, or has expired.")
        structlog.contextvars.bind_contextvars(practice_id=str(principal.practice_id))
        return AuthenticationResult(user=principal, auth=credential)


# Guards are coroutines: Litestar runs a plain function guard in a worker thread, a thread hop
# on every request for a check that reads only memory.
async def api_keys_where_allowed(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Applied to every route: an API key is refused unless the route says it is for the
    scheduling system (opt={"api_key": True}), so a route added later is closed by default."""
    principal = connection.scope.get("user")
    if (
        isinstance(principal, Principal)
        and principal.is_scheduling_system
        and not handler.opt.get("api_key")
    ):
        raise PermissionDeniedException("An API key can only report clients and appointments.")


async def people_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Only a person signed in can do this, not an API key."""
    principal: Principal = connection.user
    if principal.is_scheduling_system:
        raise PermissionDeniedException("An API key can only report clients and appointments.")


async def owner_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Only the practice owner can do this."""
    principal: Principal = connection.user
    if not principal.is_owner:
        raise PermissionDeniedException("Only the practice owner can do this.")
