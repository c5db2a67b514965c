"""Everything held about one client, as JSON: the owner's answer to a subject access request."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlmodel import Session, SQLModel, col, or_, select

from shared import audit
from shared.access import Principal, require_owner
from shared.audit import AuditAction
from shared.clients.service import get_client
from shared.models import (
    AccessToken,
    Alert,
    Appointment,
    AuditEvent,
    ClientHistory,
    Invitation,
    Notification,
    Nudge,
    OptOutChange,
    Response,
)

# Kept out of the export: secrets' hashes say nothing about the client and help an attacker.
_NEVER_EXPORTED = {"token_hash", "practice_id"}


def _plain(row: SQLModel) -> dict[str, Any]:
    return {
        key: value
        for key, value in row.model_dump(mode="json").items()
        if key not in _NEVER_EXPORTED
    }


def export_client(
    session: Session, principal: Principal, client_id: UUID, *, now: datetime
) -> dict[str, Any]:
    require_owner(principal)
    client = get_client(session, principal, client_id)

    def rows(model: Any, *where: Any) -> list[dict[str, Any]]:
        return [_plain(row) for row in session.exec(select(model).where(*where)).all()]

    invitation_ids = list(
        session.exec(select(Invitation.id).where(Invitation.client_id == client.id)).all()
    )
    appointment_ids = list(
        session.exec(select(Appointment.id).where(Appointment.client_id == client.id)).all()
    )
    nudge_ids = list(
        session.exec(select(Nudge.id).where(col(Nudge.appointment_id).in_(appointment_ids))).all()
    )
    history = session.get(ClientHistory, client.id)
    record = {
        "exported_at": now.isoformat(),
        "client": _plain(client),
        "appointments": rows(Appointment, Appointment.client_id == client.id),
        "survey_invitations": rows(Invitation, Invitation.client_id == client.id),
        "answers": rows(Response, Response.client_id == client.id),
        "answer_summary": _plain(history) if history else None,
        "alerts": rows(Alert, Alert.client_id == client.id),
        "nudges": rows(Nudge, col(Nudge.id).in_(nudge_ids)),
        "emails": rows(
            Notification, col(Notification.subject_id).in_([*invitation_ids, *nudge_ids])
        ),
        "links": rows(
            AccessToken,
            or_(
                col(AccessToken.subject_id).in_(invitation_ids),
                col(AccessToken.subject_id) == client.id,
            ),
        ),
        "opt_out_changes": rows(OptOutChange, OptOutChange.client_id == client.id),
        # Who has read or changed this client's data (before this export).
        "access_log": rows(AuditEvent, AuditEvent.client_id == client.id),
    }
    audit.record(session, principal, AuditAction.CLIENT_EXPORTED, at=now, client_id=client.id)
    return record
