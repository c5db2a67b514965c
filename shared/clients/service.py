"""Clients: the people who answer surveys. A clinician sees only their own."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, scoped, visible
from shared.accounts.service import get_clinician
from shared.audit import AuditAction
from shared.errors import Conflict, Forbidden, NotFound
from shared.models import Client, Response
from shared.pagination import Order, Page, PageRequest, paginate


def add_client(
    session: Session,
    principal: Principal,
    *,
    email: str,
    reference: str,
    timezone: str,
    clinician_id: UUID | None,
    now: datetime,
) -> Client:
    if principal.is_clinician:
        if clinician_id not in (None, principal.account_id):
            raise Forbidden("A clinician can add clients only to their own caseload.")
        clinician_id = principal.account_id
    if clinician_id is None:
        raise NotFound("Say which clinician sees this client.", field="clinician_id")
    get_clinician(session, principal, clinician_id)
    client = Client(
        practice_id=principal.practice_id,
        clinician_id=clinician_id,
        reference=reference,
        email=email.strip().lower(),
        timezone=timezone,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(client)
    except IntegrityError:
        raise Conflict(
            "This practice already has a client with that reference.", field="reference"
        ) from None
    audit.record(session, principal, AuditAction.CLIENT_ADDED, at=now, client_id=client.id)
    return client


def get_client(session: Session, principal: Principal, client_id: UUID) -> Client:
    return visible(session, Client, client_id, principal, what="Client", field="client_id")


def read_client(
    session: Session, principal: Principal, client_id: UUID, *, now: datetime
) -> Client:
    """get_client for a person's eyes: the read is audited."""
    client = get_client(session, principal, client_id)
    audit.record(session, principal, AuditAction.CLIENT_READ, at=now, client_id=client.id)
    return client


def list_clients(
    session: Session, principal: Principal, *, now: datetime, page: PageRequest = PageRequest()
) -> Page[Client]:
    found = paginate(
        session,
        scoped(select(Client), Client, principal),
        page,
        [Order(col(Client.reference)), Order(col(Client.id))],
    )
    audit.record(session, principal, AuditAction.CLIENTS_LISTED, at=now, count=len(found.items))
    return found


def answer_history(
    session: Session, principal: Principal, client_id: UUID, *, now: datetime
) -> list[Response]:
    client = get_client(session, principal, client_id)
    answers = list(
        session.exec(
            select(Response)
            .where(Response.client_id == client.id)
            .order_by(col(Response.submitted_at))
        ).all()
    )
    audit.record(
        session,
        principal,
        AuditAction.ANSWERS_READ,
        at=now,
        client_id=client.id,
        count=len(answers),
    )
    return answers
