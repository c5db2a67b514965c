"""The audit log: who read or changed a client's data, the settings or the API keys, and when.

Domain functions call `record` in the transaction of the action they perform, after its
access check has passed, so an entry exists exactly when the action happened: a refused
request writes nothing, a rolled-back change leaves no entry.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlmodel import Session, col, select

from shared.access import Principal, require_owner
from shared.models import AuditEvent
from shared.pagination import Order, Page, PageRequest, paginate


class AuditAction(StrEnum):
    CLIENT_ADDED = "client.added"
    CLIENT_READ = "client.read"
    CLIENTS_LISTED = "client.listed"
    ANSWERS_READ = "client.answers_read"
    CLIENT_EXPORTED = "client.exported"
    CLIENT_ERASED = "client.erased"
    INVITATIONS_RESUMED = "client.invitations_resumed"
    OPT_OUT_HISTORY_READ = "client.opt_out_history_read"
    APPOINTMENT_BOOKED = "appointment.booked"
    APPOINTMENT_RESCHEDULED = "appointment.rescheduled"
    APPOINTMENT_COMPLETED = "appointment.completed"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_NO_SHOW = "appointment.no_show"
    APPOINTMENT_READ = "appointment.read"
    ALERT_READ = "alert.read"
    ALERTS_LISTED = "alert.listed"
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    SETTINGS_READ = "settings.read"
    SETTINGS_HISTORY_READ = "settings.history_read"
    SETTINGS_CHANGED = "settings.changed"
    API_KEYS_LISTED = "api_key.listed"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    CLINICIAN_ADDED = "clinician.added"
    CLINICIAN_INVITED = "clinician.invited"
    CLINICIAN_DEACTIVATED = "clinician.deactivated"
    CLINICIAN_REACTIVATED = "clinician.reactivated"
    WORK_RETRIED = "work.retried"


# The actor of what an operator did from the shell (`attune work-failures --retry`): no
# account or key of the practice, so one fixed id every audit reader names as the operator.
OPERATOR_KIND = "operator"
OPERATOR_ID = UUID(int=0)


def record(
    session: Session,
    principal: Principal,
    action: AuditAction,
    *,
    at: datetime,
    client_id: UUID | None = None,
    subject_id: UUID | None = None,
    **detail: int | str,
) -> None:
    """Add one entry. `detail` holds counts and field names, never personal data."""
    actor_id = principal.account_id or principal.api_key_id
    assert actor_id is not None, "every principal is an account or an API key"
    session.add(
        AuditEvent(
            practice_id=principal.practice_id,
            at=at,
            actor_kind=principal.kind.value,
            actor_id=actor_id,
            action=action.value,
            client_id=client_id,
            subject_id=subject_id,
            detail=detail,
        )
    )


def record_operator(
    session: Session,
    practice_id: UUID,
    action: AuditAction,
    *,
    at: datetime,
    subject_id: UUID | None = None,
    **detail: int | str,
) -> None:
    """`record`, for an operator's action in one practice (no principal: the shell)."""
    session.add(
        AuditEvent(
            practice_id=practice_id,
            at=at,
            actor_kind=OPERATOR_KIND,
            actor_id=OPERATOR_ID,
            action=action.value,
            subject_id=subject_id,
            detail=detail,
        )
    )


def list_events(
    session: Session,
    principal: Principal,
    *,
    client_id: UUID | None = None,
    actor_id: UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: PageRequest = PageRequest(),
) -> Page[AuditEvent]:
    """The owner's view, newest first; `since` is inclusive, `until` exclusive."""
    require_owner(principal)
    query = select(AuditEvent).where(AuditEvent.practice_id == principal.practice_id)
    if client_id is not None:
        query = query.where(AuditEvent.client_id == client_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.at) < until)
    return paginate(
        session,
        query,
        page,
        [Order(col(AuditEvent.at), descending=True), Order(col(AuditEvent.id))],
    )
