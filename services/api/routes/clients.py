from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from pydantic import EmailStr, Field

from services.api.auth import owner_only, people_only
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.path_ids import ClientId
from services.api.schemas import Body, Out, TimeZone
from shared.access import Principal
from shared.clients import service as clients
from shared.errors import Conflict, Forbidden
from shared.pagination import PageRequest
from shared.privacy.erasure import erase_client
from shared.privacy.export import export_client


class NewClient(Body):
    """A client to send post-session surveys to."""

    email: EmailStr = Field(description="Where the client's survey invitations go.")
    reference: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Pseudonymous reference, the only way emails to clinicians name a client.",
    )
    timezone: TimeZone = Field(
        default="UTC",
        description="The client's IANA time zone, e.g. Europe/Dublin: quiet hours are read "
        "on their clock. Default UTC.",
    )
    clinician_id: UUID | None = Field(
        default=None, description="Required for owners and API keys; clinicians add their own."
    )


class ClientOut(Out):
    """A client of one of the practice's clinicians."""

    id: UUID = Field(description="Attune's id for the client.")
    reference: str = Field(description="The practice's pseudonymous reference for them.")
    email: str = Field(description="Where their survey invitations go.")
    timezone: str = Field(description="Their IANA time zone.")
    clinician_id: UUID = Field(description="Their clinician.")
    opted_out_at: datetime | None = Field(
        description="When they unsubscribed from the surveys; null while they get them."
    )
    created_at: datetime = Field(description="When they were added.")


class AnswerOut(Out):
    """One survey answer."""

    id: UUID = Field(description="Attune's id for the answer.")
    appointment_id: UUID = Field(description="The session it is about.")
    submitted_at: datetime = Field(description="When the client sent it.")
    scores: dict[str, Any] = Field(
        description='Each question\'s score from 1 to 5, by item key, e.g. {"pace": 2}.'
    )
    mean: float = Field(description="The average of the scores.")
    asked_to_talk: bool = Field(description="Whether the client asked to talk about therapy.")
    comment: str | None = Field(description="The client's comment, if they wrote one.")


class ErasedOut(Out):
    """How much an erasure deleted."""

    appointments: int = Field(description="Appointments deleted.")
    answers: int = Field(description="Survey answers deleted.")
    alerts: int = Field(description="Alerts deleted.")


class ClientController(Controller):
    path = "/api/v1/clients"
    tags = ["clients"]
    opt = {"api_key": True}

    @post(
        "/",
        sync_to_thread=True,
        status_code=201,
        summary="Add a client",
        operation_id="addClient",
        opt={"raises": (Forbidden, Conflict)},
    )
    def add(self, data: NewClient, principal: Principal, context: ApiContext) -> ClientOut:
        """Add a client of one of the practice's clinicians. Who: an API key or the owner
        (naming the clinician), or a clinician (their own client). Not idempotent: a
        reference already in use is a 409. Returns the client (201)."""
        with context.transaction(principal) as session:
            client = clients.add_client(
                session,
                principal,
                email=data.email,
                reference=data.reference,
                timezone=data.timezone,
                clinician_id=data.clinician_id,
                now=context.clock.now(),
            )
            session.flush()
            return ClientOut.model_validate(client)

    @get(
        "/",
        sync_to_thread=True,
        response_headers=PAGE_HEADERS,
        summary="List clients",
        operation_id="listClients",
    )
    def index(
        self, request: Request, principal: Principal, context: ApiContext, page: PageRequest
    ) -> Response[list[ClientOut]]:
        """The clients the caller may see (a clinician: their own; the owner and API keys:
        all), a page at a time (see the Link header). The read is recorded in the audit
        log."""
        with context.transaction(principal) as session:
            found = clients.list_clients(session, principal, now=context.clock.now(), page=page)
            return paged(request, found, [ClientOut.model_validate(c) for c in found.items])

    @get(
        "/{client_id:uuid}", sync_to_thread=True, summary="Read a client", operation_id="readClient"
    )
    def read(self, client_id: ClientId, principal: Principal, context: ApiContext) -> ClientOut:
        """One client. Who: an API key, the owner, or the client's clinician (another
        clinician's client is a 404). The read is recorded in the audit log."""
        with context.transaction(principal) as session:
            client = clients.read_client(session, principal, client_id, now=context.clock.now())
            return ClientOut.model_validate(client)

    @get(
        "/{client_id:uuid}/responses",
        sync_to_thread=True,
        guards=[people_only],
        summary="Read a client's answers",
        operation_id="listClientAnswers",
    )
    def responses(
        self, client_id: ClientId, principal: Principal, context: ApiContext
    ) -> list[AnswerOut]:
        """The client's survey answers, oldest first, with scores, average and comment. Who:
        the owner or the client's clinician; not API keys. The read is recorded in the
        audit log."""
        with context.transaction(principal) as session:
            answers = clients.answer_history(session, principal, client_id, now=context.clock.now())
            return [AnswerOut.model_validate(r) for r in answers]

    @get(
        "/{client_id:uuid}/export",
        sync_to_thread=True,
        guards=[owner_only],
        summary="Export everything held about a client",
        operation_id="exportClient",
    )
    def export(
        self, client_id: ClientId, principal: Principal, context: ApiContext
    ) -> dict[str, Any]:
        """Everything held about this client, as one JSON document, for a subject access
        request. Owner only. The export is recorded in the audit log."""
        with context.transaction(principal) as session:
            return export_client(session, principal, client_id, now=context.clock.now())

    @delete(
        "/{client_id:uuid}",
        sync_to_thread=True,
        status_code=200,
        guards=[owner_only],
        summary="Erase a client",
        operation_id="eraseClient",
    )
    def erase(self, client_id: ClientId, principal: Principal, context: ApiContext) -> ErasedOut:
        """Erase the client: personal data, appointments, answers and alerts are deleted;
        the practice's figures keep their anonymous counts. Owner only. Cannot be undone;
        afterwards the client is a 404. Returns how many rows of each kind went."""
        with context.transaction(principal) as session:
            erased = erase_client(session, principal, client_id, now=context.clock.now())
            return ErasedOut(
                appointments=erased.appointments, answers=erased.answers, alerts=erased.alerts
            )
