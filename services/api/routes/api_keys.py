from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from pydantic import Field

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.schemas import Body, Out
from shared.access import Principal
from shared.accounts import service as accounts
from shared.pagination import PageRequest


class NewApiKey(Body):
    name: str = Field(min_length=1, max_length=80, description="e.g. the scheduling system's name")


class ApiKeyOut(Out):
    id: UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class CreatedApiKey(ApiKeyOut):
    key: str = Field(description="Shown once: only its hash is kept.")


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]
    guards = [owner_only]

    @post("/", sync_to_thread=True, status_code=201)
    def create(self, data: NewApiKey, principal: Principal, context: ApiContext) -> CreatedApiKey:
        with context.transaction(principal) as session:
            raw, key = accounts.create_api_key(
                session, principal, name=data.name, now=context.clock.now()
            )
            session.flush()
            return CreatedApiKey(**ApiKeyOut.model_validate(key).model_dump(), key=raw)

    @get("/", sync_to_thread=True, response_headers=PAGE_HEADERS)
    def index(
        self, request: Request, principal: Principal, context: ApiContext, page: PageRequest
    ) -> Response[list[ApiKeyOut]]:
        with context.transaction(principal) as session:
            keys = accounts.list_api_keys(session, principal, now=context.clock.now(), page=page)
            return paged(request, keys, [ApiKeyOut.model_validate(k) for k in keys.items])

    @delete("/{key_id:uuid}", sync_to_thread=True, status_code=200)
    def revoke(self, key_id: UUID, principal: Principal, context: ApiContext) -> ApiKeyOut:
        with context.transaction(principal) as session:
            key = accounts.revoke_api_key(session, principal, key_id, now=context.clock.now())
            return ApiKeyOut.model_validate(key)
