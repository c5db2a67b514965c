"""Erase a client: their personal data and answers go; the practice's anonymous figures stay.

Deleting the client row takes, by foreign-key cascade, their appointments, invitations,
answers (with comments), alerts, nudges and answer summary. The emails and links about them are
deleted here. Before that, their contribution to the practice's figures is added to
ErasedClientTally by month, as bare counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import delete
from sqlmodel import Session, col, or_, select

from shared import audit
from shared.access import Principal, require_owner
from shared.audit import AuditAction
from shared.clients.service import get_client
from shared.db import insert_ignoring_conflict
from shared.errors import Invalid
from shared.models import (
    AccessToken,
    Alert,
    AlertStatus,
    Appointment,
    AppointmentStatus,
    ErasedClientTally,
    Invitation,
    Notification,
    Nudge,
    Response,
    WorkFailure,
)


@dataclass(frozen=True)
class Erased:
    appointments: int
    answers: int
    alerts: int


_TALLY_FIELDS = [
    "clients_erased",
    "sessions_completed",
    "surveys_sent",
    "surveys_answered",
    "answer_mean_total",
    "alerts_raised",
    "alerts_acknowledged",
]


def _month(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def _tally(
    appointments: list[Appointment],
    invitations: list[Invitation],
    answers: list[Response],
    alerts: list[Alert],
    now: datetime,
) -> dict[str, Counter[str]]:
    """Counts per month: a pure function of the client's rows."""
    months: dict[str, Counter[str]] = {}

    def add(moment: datetime | None, field: str, amount: float = 1) -> None:
        if moment is not None:
            months.setdefault(_month(moment), Counter())[field] += amount  # type: ignore[assignment]

    add(now, "clients_erased")
    for appointment in appointments:
        if appointment.status is AppointmentStatus.COMPLETED:
            add(appointment.completed_at or appointment.ends_at, "sessions_completed")
    for invitation in invitations:
        add(invitation.sent_at, "surveys_sent")
    for answer in answers:
        add(answer.submitted_at, "surveys_answered")
        add(answer.submitted_at, "answer_mean_total", answer.mean)
    for alert in alerts:
        add(alert.created_at, "alerts_raised")
        if alert.status is AlertStatus.ACKNOWLEDGED:
            add(alert.acknowledged_at or alert.created_at, "alerts_acknowledged")
    return months


def _add_to_tally(session: Session, practice_id: UUID, month: str, counts: Counter[str]) -> None:
    insert_ignoring_conflict(
        session,
        ErasedClientTally,
        {"id": uuid4(), "practice_id": practice_id, "month": month}
        | {field: 0 for field in _TALLY_FIELDS},
        ["practice_id", "month"],
    )
    row = session.exec(
        select(ErasedClientTally)
        .where(ErasedClientTally.practice_id == practice_id)
        .where(ErasedClientTally.month == month)
        .with_for_update()
    ).one()
    for field, amount in counts.items():
        setattr(row, field, getattr(row, field) + amount)


def confirm_erasure(reference: str, typed: str) -> None:
    """Erasure cannot be undone, so a person confirms it by typing the client's reference:
    a slip of the mouse on the wrong client erases nothing."""
    if typed.strip().casefold() != reference.casefold():
        raise Invalid(
            f"Type the client's reference, {reference}, to confirm the erasure.", field="confirm"
        )


def erase_client(
    session: Session, principal: Principal, client_id: UUID, *, now: datetime
) -> Erased:
    require_owner(principal)
    client = get_client(session, principal, client_id)

    def rows(model: Any) -> list[Any]:
        return list(session.exec(select(model).where(model.client_id == client.id)).all())

    appointments, invitations = rows(Appointment), rows(Invitation)
    answers, alerts = rows(Response), rows(Alert)
    for month, counts in _tally(appointments, invitations, answers, alerts, now).items():
        _add_to_tally(session, client.practice_id, month, counts)

    invitation_ids = [invitation.id for invitation in invitations]
    nudge_ids = list(
        session.exec(
            select(Nudge.id).where(col(Nudge.appointment_id).in_([a.id for a in appointments]))
        ).all()
    )
    session.execute(
        delete(Notification).where(col(Notification.subject_id).in_([*invitation_ids, *nudge_ids]))
    )
    # Failed work about the client's rows (ids only, but about them): gone with them.
    session.execute(
        delete(WorkFailure).where(
            col(WorkFailure.item_id).in_(
                [*invitation_ids, *nudge_ids, *(answer.id for answer in answers)]
            )
        )
    )
    session.execute(
        delete(AccessToken).where(
            or_(
                col(AccessToken.subject_id).in_(invitation_ids),
                col(AccessToken.subject_id) == client.id,
            )
        )
    )
    session.delete(client)
    session.flush()
    audit.record(
        session,
        principal,
        AuditAction.CLIENT_ERASED,
        at=now,
        client_id=client_id,
        appointments=len(appointments),
        answers=len(answers),
        alerts=len(alerts),
    )
    return Erased(appointments=len(appointments), answers=len(answers), alerts=len(alerts))
