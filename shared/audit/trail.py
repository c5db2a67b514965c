"""The audit log as the owner reads it on a page: each entry with who did it by name and which
client by reference, filtered by person, client reference and time. The filtering itself is
shared.audit.list_events, the same as GET /api/v1/audit-events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlmodel import Session, col, select

from shared.access import Principal, require_owner
from shared.audit import OPERATOR_ID, list_events
from shared.errors import NotFound
from shared.models import Account, ApiKey, AuditEvent, Client
from shared.pagination import PageRequest

ERASED = "an erased client"


@dataclass(frozen=True)
class AuditEntry:
    event: AuditEvent
    actor: str  # the account's name, or the API key's name
    client_reference: str | None  # None: the entry names no client


@dataclass(frozen=True)
class AuditTrail:
    entries: list[AuditEntry]
    people: list[tuple[UUID, str]]  # everyone who may appear, for the "who" filter


def audit_people(session: Session, principal: Principal) -> list[tuple[UUID, str]]:
    """Every account and API key of the practice by name: who an entry can be by."""
    require_owner(principal)
    accounts = session.exec(
        select(Account.id, Account.name)
        .where(Account.practice_id == principal.practice_id)
        .order_by(col(Account.name))
    ).all()
    keys = session.exec(
        select(ApiKey.id, ApiKey.name)
        .where(ApiKey.practice_id == principal.practice_id)
        .order_by(col(ApiKey.name))
    ).all()
    return [(i, name) for i, name in accounts] + [(i, f"API key “{name}”") for i, name in keys]


def audit_trail(
    session: Session,
    principal: Principal,
    *,
    client_reference: str | None = None,
    actor_id: UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> AuditTrail:
    require_owner(principal)
    practice_id = principal.practice_id
    client_id = None
    if client_reference:
        client_id = session.exec(
            select(Client.id)
            .where(Client.practice_id == practice_id)
            .where(Client.reference == client_reference)
        ).first()
        if client_id is None:
            raise NotFound(
                f"No client in this practice has the reference {client_reference}.",
                field="client",
            )
    events = list_events(
        session,
        principal,
        client_id=client_id,
        actor_id=actor_id,
        since=since,
        until=until,
        page=PageRequest(size=limit),
    ).items
    people = audit_people(session, principal)
    names = dict(people) | {OPERATOR_ID: "an operator (attune work-failures)"}
    named_clients = {e.client_id for e in events if e.client_id is not None}
    references = (
        dict(
            session.exec(
                select(Client.id, Client.reference)
                .where(Client.practice_id == practice_id)
                .where(col(Client.id).in_(named_clients))
            ).all()
        )
        if named_clients
        else {}
    )
    return AuditTrail(
        entries=[
            AuditEntry(
                event=event,
                actor=names.get(event.actor_id, "a removed account or key"),
                client_reference=(
                    None if event.client_id is None else references.get(event.client_id, ERASED)
                ),
            )
            for event in events
        ],
        people=people,
    )
