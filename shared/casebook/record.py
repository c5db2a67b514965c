"""One client's record as their clinician reads it: every answer, every alert with its nudge
and outcome, every invitation and opt-out, and the moves that helped before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlmodel import Session, col, select

from shared.access import Principal
from shared.alerts import service as alerts
from shared.alerts.what_helped import moves_that_helped
from shared.clients.service import answer_history, read_client
from shared.models import (
    Alert,
    Appointment,
    Client,
    Invitation,
    Nudge,
    OptOutChange,
    Response,
)
from shared.pagination import every
from shared.survey.moves import Move
from shared.survey.opt_out import opt_out_history


@dataclass
class ClientRecord:
    client: Client
    answers: list[Response]  # oldest first
    alerts: list[Alert]  # newest first
    nudges: dict[UUID, Nudge]  # by appointment id
    invitations: list[tuple[Invitation, Appointment]]  # newest session first
    opt_outs: list[OptOutChange]  # oldest first
    helped: list[Move]  # moves used before a recovery, most recent first


def client_record(
    session: Session, principal: Principal, client_id: UUID, *, now: datetime
) -> ClientRecord:
    """Everything the client's page shows; each read is audited as the JSON routes' are."""
    client = read_client(session, principal, client_id, now=now)
    answers = answer_history(session, principal, client.id, now=now)
    found = every(
        lambda page: alerts.list_alerts(session, principal, client_id=client.id, now=now, page=page)
    )
    invitations = session.exec(
        select(Invitation, Appointment)
        .join(Appointment, col(Appointment.id) == col(Invitation.appointment_id))
        .where(Invitation.client_id == client.id)
        .order_by(col(Appointment.starts_at).desc())
    ).all()
    return ClientRecord(
        client=client,
        answers=answers,
        alerts=found,
        nudges=nudges_for(session, found),
        invitations=[(invitation, appointment) for invitation, appointment in invitations],
        opt_outs=opt_out_history(session, principal, client.id, now=now),
        helped=moves_that_helped(session, client.id),
    )


@dataclass
class AlertRecord:
    alert: Alert
    client: Client
    answers: list[Response]  # the client's, oldest first
    client_alerts: list[Alert]  # every alert of this client, for the chart's marks
    nudges: dict[UUID, Nudge]
    target: Appointment | None  # the session the nudge is (or was) about
    helped: list[Move]


def alert_record(
    session: Session, principal: Principal, alert_id: UUID, *, now: datetime
) -> AlertRecord:
    alert = alerts.read_alert(session, principal, alert_id, now=now)
    client = session.get(Client, alert.client_id)
    assert client is not None  # the alert is visible, so its client is in the same caseload
    answers = answer_history(session, principal, client.id, now=now)
    client_alerts = list(session.exec(select(Alert).where(Alert.client_id == client.id)).all())
    target = (
        session.get(Appointment, alert.target_appointment_id)
        if alert.target_appointment_id
        else None
    )
    return AlertRecord(
        alert=alert,
        client=client,
        answers=answers,
        client_alerts=client_alerts,
        nudges=nudges_for(session, client_alerts),
        target=target,
        helped=moves_that_helped(session, client.id),
    )


def nudges_for(session: Session, found: list[Alert]) -> dict[UUID, Nudge]:
    targets = {a.target_appointment_id for a in found if a.target_appointment_id is not None}
    if not targets:
        return {}
    rows = session.exec(select(Nudge).where(col(Nudge.appointment_id).in_(targets))).all()
    return {nudge.appointment_id: nudge for nudge in rows}
