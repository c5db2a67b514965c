"""Who is calling: a signed-in account (bearer token or cookie) or a practice API key."""

from __future__ import annotations

import anyio
import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from services.api.context import context_of
from shared.access import Principal
from shared.accounts.service import principal_for_api_key, principal_for_session
from shared.credentials import practice_of_credential
from shared.security import csrf_token_matches

SESSION_COOKIE = "attune_session"
CSRF_COOKIE = "attune_csrf"
CSRF_HEADER = "x-csrf-token"
API_KEY_HEADER = "x-api-key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def credential_of(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return connection.headers.get(API_KEY_HEADER) or connection.cookies.get(SESSION_COOKIE)


def _check_csrf(connection: ASGIConnection, credential: str) -> None:
    """A browser sends the session cookie with any request, even one a hostile page starts;
    only our own pages can send the matching header. Bearer and API-key callers set their
    header deliberately, so they need no such proof."""
    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    if (
        credential != connection.cookies.get(SESSION_COOKIE)
        or connection.headers.get("authorization")
        or connection.headers.get(API_KEY_HEADER)
    ):
        return
    sent = connection.headers.get(CSRF_HEADER, "")
    secret = context_of(connection).settings.secret_key  # type: ignore[arg-type]
    if not sent or not csrf_token_matches(credential, secret, sent):
        raise PermissionDeniedException(
            f"A request signed in by cookie must carry the {CSRF_HEADER} header "
            "(the value of the attune_csrf cookie)."
        )


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        credential = credential_of(connection)
        if not credential:
            raise NotAuthorizedException(
                "Sign in first: send 'Authorization: Bearer <token>' or an API key."
            )
        _check_csrf(connection, credential)
        context = context_of(connection)  # type: ignore[arg-type]

        def resolve() -> Principal | None:
            practice_id = practice_of_credential(context.db, credential)
            if practice_id is None:
                return None
            with context.db.transaction(practice_id) as session:
                now = context.clock.now()
                if credential.startswith("ak_"):
                    return principal_for_api_key(session, credential, now=now)
                return principal_for_session(session, credential, now=now)

        principal = await anyio.to_thread.run_sync(resolve)
        if principal is None:
            raise NotAuthorizedException("This token or API key is not valid, or has expired.")
        structlog.contextvars.bind_contextvars(practice_id=str(principal.practice_id))
        return AuthenticationResult(user=principal, auth=credential)


def api_keys_where_allowed(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Applied to every route: an API key is refused unless the route says it is for the
    scheduling system (opt={"api_key": True}), so a route added later is closed by default."""
    principal = connection.scope.get("user")
    if (
        isinstance(principal, Principal)
        and principal.is_scheduling_system
        and not handler.opt.get("api_key")
    ):
        raise PermissionDeniedException("An API key can only report clients and appointments.")


def people_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal: Principal = connection.user
    if principal.is_scheduling_system:
        raise PermissionDeniedException("An API key can only report clients and appointments.")


def owner_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal: Principal = connection.user
    if not principal.is_owner:
        raise PermissionDeniedException("Only the practice owner can do this.")
