from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from pydantic import Field

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.path_ids import ApiKeyId
from services.api.schemas import Body, Out
from shared.access import Principal
from shared.accounts import service as accounts
from shared.pagination import PageRequest


class NewApiKey(Body):
    """A key for a scheduling system to report clients and appointments with."""

    name: str = Field(
        min_length=1,
        max_length=80,
        description="What the key is for, e.g. the scheduling system's name; 1 to 80 characters.",
    )


class ApiKeyOut(Out):
    """An API key's record; the key itself is never shown again after it is created."""

    id: UUID = Field(description="Attune's id for the key.")
    name: str = Field(description="What the key is for.")
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime = Field(description="When it was created.")
    last_used_at: datetime | None = Field(description="When it last made a call.")
    revoked_at: datetime | None = Field(description="When it was revoked; null while it works.")


class CreatedApiKey(ApiKeyOut):
    """A new API key, with the key itself: store it now."""

    key: str = Field(description="Shown once: only its hash is kept.")


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]
    guards = [owner_only]

    @post(
        "/",
        sync_to_thread=True,
        status_code=201,
        summary="Create an API key",
        operation_id="createApiKey",
    )
    def create(self, data: NewApiKey, principal: Principal, context: ApiContext) -> CreatedApiKey:
        """A new key for the practice's scheduling system: it may add and read clients and
        book and report appointments, nothing else; it is sent in the X-API-Key header.
        Owner only. Each call makes a new key. Returns the key itself, shown this once
        (only its hash is kept) (201)."""
        with context.transaction(principal) as session:
            raw, key = accounts.create_api_key(
                session, principal, name=data.name, now=context.clock.now()
            )
            session.flush()
            return CreatedApiKey(**ApiKeyOut.model_validate(key).model_dump(), key=raw)

    @get(
        "/",
        sync_to_thread=True,
        response_headers=PAGE_HEADERS,
        summary="List the API keys",
        operation_id="listApiKeys",
    )
    def index(
        self, request: Request, principal: Principal, context: ApiContext, page: PageRequest
    ) -> Response[list[ApiKeyOut]]:
        """The practice's API keys with their prefix and when each was last used, a page at
        a time (see the Link header); the keys themselves are never shown again. Owner
        only."""
        with context.transaction(principal) as session:
            keys = accounts.list_api_keys(session, principal, now=context.clock.now(), page=page)
            return paged(request, keys, [ApiKeyOut.model_validate(k) for k in keys.items])

    @delete(
        "/{key_id:uuid}",
        sync_to_thread=True,
        status_code=200,
        summary="Revoke an API key",
        operation_id="revokeApiKey",
    )
    def revoke(self, key_id: ApiKeyId, principal: Principal, context: ApiContext) -> ApiKeyOut:
        """The key stops working at once. Owner only. Revoking again changes nothing.
        Returns the key's record with its revocation time."""
        with context.transaction(principal) as session:
            key = accounts.revoke_api_key(session, principal, key_id, now=context.clock.now())
            return ApiKeyOut.model_validate(key)
