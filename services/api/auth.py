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

SESSION_COOKIE = "attune_session"
API_KEY_HEADER = "x-api-key"


def credential_of(connection: ASGIConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return connection.headers.get(API_KEY_HEADER) or connection.cookies.get(SESSION_COOKIE)


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        credential = credential_of(connection)
        if not credential:
            raise NotAuthorizedException(
                "Sign in first: send 'Authorization: Bearer <token>' or an API key."
            )
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


def people_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal: Principal = connection.user
    if principal.is_scheduling_system:
        raise PermissionDeniedException("An API key can only report clients and appointments.")


def owner_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    principal: Principal = connection.user
    if not principal.is_owner:
        raise PermissionDeniedException("Only the practice owner can do this.")
