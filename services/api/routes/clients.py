from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from pydantic import EmailStr, Field

from services.api.auth import owner_only, people_only
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.schemas import Body, Out, TimeZone
from shared.access import Principal
from shared.clients import service as clients
from shared.errors import Conflict, Forbidden
from shared.pagination import PageRequest
from shared.privacy.erasure import erase_client
from shared.privacy.export import export_client


class NewClient(Body):
    email: EmailStr
    reference: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Pseudonymous reference, the only way emails to clinicians name a client.",
    )
    timezone: TimeZone = "UTC"
    clinician_id: UUID | None = Field(
        default=None, description="Required for owners and API keys; clinicians add their own."
    )


class ClientOut(Out):
    id: UUID
    reference: str
    email: str
    timezone: str
    clinician_id: UUID
    opted_out_at: datetime | None
    created_at: datetime


class AnswerOut(Out):
    id: UUID
    appointment_id: UUID
    submitted_at: datetime
    scores: dict[str, Any]
    mean: float
    asked_to_talk: bool
    comment: str | None


class ErasedOut(Out):
    appointments: int
    answers: int
    alerts: int


class ClientController(Controller):
    path = "/api/v1/clients"
    tags = ["clients"]
    opt = {"api_key": True}

    @post("/", sync_to_thread=True, status_code=201, opt={"raises": (Forbidden, Conflict)})
    def add(self, data: NewClient, principal: Principal, context: ApiContext) -> ClientOut:
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

    @get("/", sync_to_thread=True, response_headers=PAGE_HEADERS)
    def index(
        self, request: Request, principal: Principal, context: ApiContext, page: PageRequest
    ) -> Response[list[ClientOut]]:
        with context.transaction(principal) as session:
            found = clients.list_clients(session, principal, now=context.clock.now(), page=page)
            return paged(request, found, [ClientOut.model_validate(c) for c in found.items])

    @get("/{client_id:uuid}", sync_to_thread=True)
    def read(self, client_id: UUID, principal: Principal, context: ApiContext) -> ClientOut:
        with context.transaction(principal) as session:
            client = clients.read_client(session, principal, client_id, now=context.clock.now())
            return ClientOut.model_validate(client)

    @get("/{client_id:uuid}/responses", sync_to_thread=True, guards=[people_only])
    def responses(
        self, client_id: UUID, principal: Principal, context: ApiContext
    ) -> list[AnswerOut]:
        """The client's answer history, oldest first."""
        with context.transaction(principal) as session:
            answers = clients.answer_history(session, principal, client_id, now=context.clock.now())
            return [AnswerOut.model_validate(r) for r in answers]

    @get("/{client_id:uuid}/export", sync_to_thread=True, guards=[owner_only])
    def export(self, client_id: UUID, principal: Principal, context: ApiContext) -> dict[str, Any]:
        """Everything held about this client, as JSON (a subject access request)."""
        with context.transaction(principal) as session:
            return export_client(session, principal, client_id, now=context.clock.now())

    @delete("/{client_id:uuid}", sync_to_thread=True, status_code=200, guards=[owner_only])
    def erase(self, client_id: UUID, principal: Principal, context: ApiContext) -> ErasedOut:
        """Erase the client: personal data and answers are deleted; the practice's figures
        keep their anonymous counts. Cannot be undone."""
        with context.transaction(principal) as session:
            erased = erase_client(session, principal, client_id, now=context.clock.now())
            return ErasedOut(
                appointments=erased.appointments, answers=erased.answers, alerts=erased.alerts
            )
