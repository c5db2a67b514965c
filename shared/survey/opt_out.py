"""A client's opt-out: one click stops every further invitation in the practice at once; only
the owner turns invitations back on, and says why."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, require_owner
from shared.audit import AuditAction
from shared.clients.service import get_client
from shared.errors import Conflict, Invalid, NotFound
from shared.models import (
    Client,
    Invitation,
    InvitationStatus,
    Notification,
    NotificationKind,
    NotificationStatus,
    OptOutChange,
)

REASON_MAX = 500
CLIENT_EMAILS = (NotificationKind.SURVEY, NotificationKind.SURVEY_REMINDER)


def has_opted_out(session: Session, client_id: UUID) -> bool:
    """Whether the client of an unsubscribe link has already opted out, so the page can say
    so instead of offering the button again."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound("This link is not valid.")
    return client.opted_out_at is not None


def opt_out(session: Session, client_id: UUID, *, now: datetime) -> Client:
    """Stop all further invitations to this client in this practice, at once. A second click
    changes nothing."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound("This link is not valid.")
    if client.opted_out_at is not None:
        return client
    client.opted_out_at = now
    session.add(
        OptOutChange(
            practice_id=client.practice_id, client_id=client.id, opted_out=True, changed_at=now
        )
    )
    invitation_ids = select(Invitation.id).where(Invitation.client_id == client.id)
    # Scheduled invitations are withheld now, not at send time; emails already queued but not
    # yet handed to the mail server are called off too (compose checks again at send time).
    session.execute(
        update(Invitation)
        .where(col(Invitation.client_id) == client.id)
        .where(col(Invitation.status) == InvitationStatus.SCHEDULED)
        .values(status=InvitationStatus.WITHHELD)
    )
    session.execute(
        update(Notification)
        .where(col(Notification.kind).in_(CLIENT_EMAILS))
        .where(col(Notification.subject_id).in_(invitation_ids))
        .where(col(Notification.status) == NotificationStatus.PENDING)
        .values(status=NotificationStatus.CANCELLED, last_error="the client opted out")
    )
    return client


def resume_invitations(
    session: Session, principal: Principal, client_id: UUID, *, reason: str, now: datetime
) -> Client:
    """Turn invitations back on for future sessions. Withheld ones stay withheld: they are
    about sessions the client chose not to be asked about."""
    require_owner(principal)
    reason = " ".join(reason.split())
    if not reason:
        raise Invalid("Say why invitations are turned back on.", field="reason")
    if len(reason) > REASON_MAX:
        raise Invalid(f"The reason can be at most {REASON_MAX} characters.", field="reason")
    client = get_client(session, principal, client_id)
    if client.opted_out_at is None:
        raise Conflict("This client has not opted out.", field="client_id")
    client.opted_out_at = None
    session.add(
        OptOutChange(
            practice_id=client.practice_id,
            client_id=client.id,
            opted_out=False,
            changed_by=principal.account_id,
            reason=reason,
            changed_at=now,
        )
    )
    audit.record(session, principal, AuditAction.INVITATIONS_RESUMED, at=now, client_id=client.id)
    return client


def opt_out_history(
    session: Session, principal: Principal, client_id: UUID, *, now: datetime
) -> list[OptOutChange]:
    client = get_client(session, principal, client_id)
    changes = list(
        session.exec(
            select(OptOutChange)
            .where(OptOutChange.client_id == client.id)
            .order_by(col(OptOutChange.changed_at))
        ).all()
    )
    audit.record(session, principal, AuditAction.OPT_OUT_HISTORY_READ, at=now, client_id=client.id)
    return changes
