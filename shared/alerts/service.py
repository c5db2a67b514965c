"""Alerts: what detection found, aimed at the client's next appointment."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, scoped
from shared.alerts.aiming import reaim_client
from shared.audit import AuditAction
from shared.db import insert_ignoring_conflict
from shared.detection import Answer, Finding, History, evaluate_answer, evaluate_silence, moves_of
from shared.errors import NotFound
from shared.models import Alert, AlertStatus, Client, ClientHistory, Invitation, Response
from shared.practice.service import current_settings
from shared.survey.items import BUILT_IN_ITEMS


def _load_history(session: Session, client: Client) -> ClientHistory:
    row = session.exec(
        select(ClientHistory).where(ClientHistory.client_id == client.id).with_for_update()
    ).first()
    if row is None:
        insert_ignoring_conflict(
            session,
            ClientHistory,
            {"client_id": client.id, "practice_id": client.practice_id},
            ["client_id"],
        )
        row = session.exec(
            select(ClientHistory).where(ClientHistory.client_id == client.id).with_for_update()
        ).one()
    return row


def _as_history(row: ClientHistory) -> History:
    return History(
        answered=row.answered,
        mean=row.mean,
        m2=row.m2,
        last_mean=row.last_mean,
        decline_streak=row.decline_streak,
        unanswered_streak=row.unanswered_streak,
    )


def _store_history(row: ClientHistory, history: History) -> None:
    row.answered = history.answered
    row.mean = history.mean
    row.m2 = history.m2
    row.last_mean = history.last_mean
    row.decline_streak = history.decline_streak
    row.unanswered_streak = history.unanswered_streak


def _raise_alert(
    session: Session,
    client: Client,
    *,
    source_key: str,
    findings: list[Finding],
    settings_version: int,
    response_id: UUID | None,
    now: datetime,
) -> bool:
    created = insert_ignoring_conflict(
        session,
        Alert,
        {
            "id": uuid4(),
            "practice_id": client.practice_id,
            "source_key": source_key,
            "client_id": client.id,
            "clinician_id": client.clinician_id,
            "response_id": response_id,
            "settings_version": settings_version,
            "evidence": [finding.as_evidence() for finding in findings],
            "moves": [move.value for move in moves_of(findings)],
            "status": AlertStatus.OPEN,
            "created_at": now,
        },
        ["source_key"],
    )
    if created:
        reaim_client(session, client.practice_id, client.id, now=now)
    return created


def evaluate_response(session: Session, response_id: UUID, *, now: datetime) -> bool:
    """Run detection on one answer, exactly once; True if it raised an alert."""
    claimed = session.execute(
        update(Response)
        .where(col(Response.id) == response_id)
        .where(col(Response.evaluated_at).is_(None))
        .values(evaluated_at=now)
    ).rowcount
    if claimed != 1:
        return False  # already evaluated by an earlier delivery of the same message
    response = session.get(Response, response_id)
    assert response is not None
    client = session.get(Client, response.client_id)
    assert client is not None
    current = current_settings(session, response.practice_id)
    items = {**BUILT_IN_ITEMS, **{item.key: item for item in current.settings.custom_items}}
    row = _load_history(session, client)
    findings, history = evaluate_answer(
        _as_history(row),
        Answer(scores=response.scores, asked_to_talk=response.asked_to_talk),
        current.settings.rules,
        list(items.values()),
    )
    _store_history(row, history)
    if not findings:
        return False
    return _raise_alert(
        session,
        client,
        source_key=f"response:{response.id}",
        findings=findings,
        settings_version=current.version,
        response_id=response.id,
        now=now,
    )


def record_silence(session: Session, invitation: Invitation, *, now: datetime) -> bool:
    """Count an expired invitation toward the silence rule; True if it raised an alert.

    The caller has just moved the invitation to expired with a conditional update, which is
    what makes this run once per invitation.
    """
    client = session.get(Client, invitation.client_id)
    assert client is not None
    current = current_settings(session, invitation.practice_id)
    row = _load_history(session, client)
    findings, history = evaluate_silence(_as_history(row), current.settings.rules)
    _store_history(row, history)
    if not findings:
        return False
    return _raise_alert(
        session,
        client,
        source_key=f"silence:{invitation.id}",
        findings=findings,
        settings_version=current.version,
        response_id=None,
        now=now,
    )


def list_alerts(
    session: Session,
    principal: Principal,
    *,
    status: AlertStatus | None = None,
    clinician_id: UUID | None = None,
    client_id: UUID | None = None,
    now: datetime,
) -> list[Alert]:
    query = scoped(select(Alert), Alert, principal)
    if status is not None:
        query = query.where(Alert.status == status)
    if clinician_id is not None:
        query = query.where(Alert.clinician_id == clinician_id)
    if client_id is not None:
        query = query.where(Alert.client_id == client_id)
    found = list(session.exec(query.order_by(col(Alert.created_at).desc())).all())
    audit.record(
        session,
        principal,
        AuditAction.ALERTS_LISTED,
        at=now,
        client_id=client_id,
        count=len(found),
    )
    return found


def get_alert(session: Session, principal: Principal, alert_id: UUID) -> Alert:
    alert = session.get(Alert, alert_id)
    if (
        alert is None
        or alert.practice_id != principal.practice_id
        or (principal.is_clinician and alert.clinician_id != principal.account_id)
    ):
        raise NotFound("Alert not found.")
    return alert


def read_alert(session: Session, principal: Principal, alert_id: UUID, *, now: datetime) -> Alert:
    """get_alert for a person's eyes: the read is audited."""
    alert = get_alert(session, principal, alert_id)
    audit.record(
        session,
        principal,
        AuditAction.ALERT_READ,
        at=now,
        client_id=alert.client_id,
        subject_id=alert.id,
    )
    return alert


def acknowledge(session: Session, principal: Principal, alert_id: UUID, *, now: datetime) -> Alert:
    alert = get_alert(session, principal, alert_id)
    if alert.status is AlertStatus.OPEN:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by = principal.account_id
        audit.record(
            session,
            principal,
            AuditAction.ALERT_ACKNOWLEDGED,
            at=now,
            client_id=alert.client_id,
            subject_id=alert.id,
        )
    return alert
