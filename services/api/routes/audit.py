from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from pydantic import Field

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.schemas import Out
from shared import audit
from shared.access import Principal
from shared.errors import Invalid
from shared.pagination import PageRequest


class AuditEventOut(Out):
    """Who read or changed what, and when; never an email, a name, a score or a comment."""

    id: UUID = Field(description="Attune's id for the event.")
    at: datetime = Field(description="When it happened.")
    actor_kind: str = Field(
        description="account (an owner or clinician), api_key, or operator (attune on the shell)."
    )
    actor_id: UUID = Field(description="The account's or API key's id.")
    action: str = Field(description="What was done, e.g. client.read or settings.changed.")
    client_id: UUID | None = Field(description="The client concerned, if any.")
    subject_id: UUID | None = Field(description="The record concerned, e.g. the appointment.")
    detail: dict[str, Any] = Field(description="Counts and field names only.")


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise Invalid(f"'{name}' needs a time zone, e.g. 2026-03-02T09:00:00Z.", field=name)
    return value


class AuditController(Controller):
    """Read only: the log has no route that changes it."""

    path = "/api/v1/audit-events"
    tags = ["audit"]
    guards = [owner_only]

    @get(
        "/",
        sync_to_thread=True,
        response_headers=PAGE_HEADERS,
        summary="Read the audit log",
        operation_id="listAuditEvents",
    )
    def index(
        self,
        request: Request,
        principal: Principal,
        context: ApiContext,
        page: PageRequest,
        client_id: UUID | None = None,
        actor_id: UUID | None = None,
        since: Annotated[
            datetime | None, Parameter(description="Inclusive, with a time zone.")
        ] = None,
        until: Annotated[
            datetime | None, Parameter(description="Exclusive, with a time zone.")
        ] = None,
    ) -> Response[list[AuditEventOut]]:
        """Who read or changed which client's data, the settings and the API keys, newest
        first, a page at a time (see the Link header); filter by client, actor and time.
        Owner only. The log is read-only: no route changes it."""
        with context.transaction(principal) as session:
            found = audit.list_events(
                session,
                principal,
                client_id=client_id,
                actor_id=actor_id,
                since=_aware("since", since),
                until=_aware("until", until),
                page=page,
            )
            return paged(request, found, [AuditEventOut.model_validate(e) for e in found.items])
