"""Alerts: what detection found, aimed at the client's next appointment."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import structlog
from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, scoped, visible
from shared.alerts.aiming import reaim_client
from shared.alerts.nudges import delivered
from shared.audit import AuditAction
from shared.db import insert_ignoring_conflict
from shared.db.claim import claim
from shared.db.due import find_due
from shared.detection import (
    Answer,
    Finding,
    History,
    evaluate_answer,
    evaluate_silence,
    is_repaired,
    moves_of,
    repair_target,
)
from shared.detection.history import ItemSums
from shared.detection.order import Place, evaluate_first, silence_place
from shared.models import (
    Alert,
    AlertStatus,
    Appointment,
    Client,
    ClientHistory,
    Invitation,
    Nudge,
    RepairOutcome,
    Response,
)
from shared.pagination import Order, Page, PageRequest, paginate
from shared.practice.service import CurrentSettings, current_settings
from shared.practice.settings import DipRules
from shared.survey.moves import Move

log = structlog.get_logger("attune.alerts")


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
        total=row.total,
        total_sq=row.total_sq,
        last_mean=row.last_mean,
        decline_streak=row.decline_streak,
        unanswered_streak=row.unanswered_streak,
        streak_from=row.streak_from,
        items=tuple(sorted((key, ItemSums(*sums)) for key, sums in (row.item_sums or {}).items())),
    )


def _store_history(row: ClientHistory, history: History) -> None:
    row.answered = history.answered
    row.total = history.total
    row.total_sq = history.total_sq
    row.last_mean = history.last_mean
    row.decline_streak = history.decline_streak
    row.unanswered_streak = history.unanswered_streak
    row.streak_from = history.streak_from
    row.item_sums = {key: [sums.answered, sums.total, sums.total_sq] for key, sums in history.items}


def _raise_alert(
    session: Session,
    client: Client,
    *,
    source_key: str,
    findings: list[Finding],
    settings_version: int,
    response_id: UUID | None,
    repair_target: float,
    now: datetime,
) -> bool:
    alert_id = uuid4()
    created = insert_ignoring_conflict(
        session,
        Alert,
        {
            "id": alert_id,
            "practice_id": client.practice_id,
            "source_key": source_key,
            "client_id": client.id,
            "clinician_id": client.clinician_id,
            "response_id": response_id,
            "settings_version": settings_version,
            "evidence": [finding.as_evidence() for finding in findings],
            "moves": [move.value for move in moves_of(findings)],
            "status": AlertStatus.OPEN,
            "repair_target": repair_target,
            "created_at": now,
        },
        ["source_key"],
    )
    if created:
        log.info("alert.raised", alert_id=str(alert_id), source_key=source_key)
        reaim_client(session, client.practice_id, client.id, now=now)
    return created


def evaluate_response(session: Session, response_id: UUID, *, now: datetime) -> bool:
    """Run detection on one answer, exactly once, after every earlier answer of the same client
    still unevaluated (shared.detection.order); True if it raised an alert, or an earlier
    answer evaluated with it did."""
    response = session.get(Response, response_id)
    if response is None:
        return False
    client = session.get(Client, response.client_id)
    assert client is not None
    # The history row is locked before any answer is claimed: one evaluation of a client at a
    # time, each taking its locks in the same order (history, then answers), so two of them
    # catching up on the same earlier answer wait for each other instead of deadlocking.
    row = _load_history(session, client)
    if not _claim_answer(session, response_id, now=now):
        return False  # already evaluated by an earlier delivery, the sweep, or a later answer
    current = current_settings(session, response.practice_id)
    place = Place(response.submitted_at, response.id)
    alerted = _evaluate_earlier(session, client, row, current, place, now=now)
    return _evaluate_answer(session, response, client, row, current, now=now) or alerted


def _claim_answer(session: Session, response_id: UUID, *, now: datetime) -> bool:
    return claim(
        session, Response, response_id, col(Response.evaluated_at).is_(None), evaluated_at=now
    )


def _evaluate_earlier(
    session: Session,
    client: Client,
    row: ClientHistory,
    current: CurrentSettings,
    place: Place,
    *,
    now: datetime,
) -> bool:
    """Evaluate the client's answers that come before `place` and are still unevaluated (their
    message is late or lost), oldest first, each claimed as its own message would; True if
    one raised an alert. Reads only unevaluated answers (ix_response_unevaluated_client), so
    the work stays the same however long the client's history."""
    unevaluated = session.exec(
        select(Response.submitted_at, Response.id)
        .where(Response.client_id == client.id)
        .where(col(Response.evaluated_at).is_(None))
        .where(col(Response.submitted_at) <= place.submitted_at)
    ).all()
    alerted = False
    for earlier in evaluate_first((Place(at, id_) for at, id_ in unevaluated), place):
        if not _claim_answer(session, earlier.id, now=now):
            continue
        response = session.get(Response, earlier.id)
        assert response is not None
        alerted = _evaluate_answer(session, response, client, row, current, now=now) or alerted
    return alerted


def _evaluate_answer(
    session: Session,
    response: Response,
    client: Client,
    row: ClientHistory,
    current: CurrentSettings,
    *,
    now: datetime,
) -> bool:
    """Apply one claimed answer to the client's (locked) history; True if it raised an alert."""
    _record_repair(session, response, current.settings.rules, now=now)
    before = _as_history(row)
    findings, history = evaluate_answer(
        before,
        Answer(scores=response.scores, asked_to_talk=response.asked_to_talk),
        current.settings.rules,
        current.settings.known_items,
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
        repair_target=repair_target(before, current.settings.rules),
        now=now,
    )


# An answer's evaluate_response message normally runs within a second. One still unevaluated
# after this long lost its message (dead-lettered after a long database outage, or dropped):
# the scheduler evaluates it itself.
EVALUATION_SWEEP_AFTER = timedelta(minutes=3)


def unevaluated_responses(
    session: Session, *, now: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    return find_due(
        session,
        "evaluate_late_response",
        Response,
        col(Response.evaluated_at).is_(None),
        col(Response.submitted_at) <= now - EVALUATION_SWEEP_AFTER,
        due=col(Response.submitted_at),
        now=now,
        limit=limit,
    )


def evaluate_late_response(session: Session, response_id: UUID, *, now: datetime) -> bool:
    """The sweep's act: evaluate an answer its message never did; True if it was found
    unevaluated.
    The claim inside evaluate_response keeps it to once, whoever gets there first."""
    response = session.get(Response, response_id)
    if response is None or response.evaluated_at is not None:
        return False
    evaluate_response(session, response_id, now=now)
    return True


def _record_repair(session: Session, response: Response, rules: DipRules, *, now: datetime) -> None:
    """The first answer after a nudged session settles whether that alert was repaired.

    Reads only this client's unsettled alerts whose nudge went out, never their past answers,
    so evaluation stays a fixed amount of work per answer.
    """
    answered = session.get(Appointment, response.appointment_id)
    assert answered is not None
    nudged = session.exec(
        select(Alert)
        .join(Nudge, col(Nudge.appointment_id) == col(Alert.target_appointment_id))
        .join(Appointment, col(Appointment.id) == col(Alert.target_appointment_id))
        .where(Alert.client_id == response.client_id)
        .where(col(Alert.repair).is_(None))
        # Only a nudge the clinician could have read: its email was accepted by the relay.
        .where(delivered())
        .where(col(Appointment.starts_at) <= answered.starts_at)
    ).all()
    for alert in nudged:
        # An alert from before targets were kept has no baseline on record.
        target = alert.repair_target
        if target is None:
            target = repair_target(History(), rules)
        alert.repair = (
            RepairOutcome.REPAIRED
            if is_repaired(response.mean, target)
            else RepairOutcome.NOT_REPAIRED
        )
        alert.repair_response_id = response.id
        alert.repair_mean = response.mean
        alert.repair_at = now


def record_silence(session: Session, invitation: Invitation, *, now: datetime) -> bool:
    """Count an expired invitation toward the silence rule; True if it raised an alert.

    The caller has just moved the invitation to expired with a conditional update, which is
    what makes this run once per invitation.
    """
    client = session.get(Client, invitation.client_id)
    assert client is not None
    current = current_settings(session, invitation.practice_id)
    row = _load_history(session, client)
    # An answer given before this silence but not evaluated yet belongs before it.
    _evaluate_earlier(session, client, row, current, silence_place(now), now=now)
    before = _as_history(row)
    findings, history = evaluate_silence(before, current.settings.rules)
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
        repair_target=repair_target(before, current.settings.rules),
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
    held: bool | None = None,
    page: PageRequest = PageRequest(),
) -> Page[Alert]:
    query = scoped(select(Alert), Alert, principal)
    if held is not None:
        # Held: open, and no upcoming appointment to aim its nudge at.
        is_held = (col(Alert.status) == AlertStatus.OPEN) & col(Alert.target_appointment_id).is_(
            None
        )
        query = query.where(is_held if held else ~is_held)
    if status is not None:
        query = query.where(Alert.status == status)
    if clinician_id is not None:
        query = query.where(Alert.clinician_id == clinician_id)
    if client_id is not None:
        query = query.where(Alert.client_id == client_id)
    found = paginate(
        session,
        query,
        page,
        [Order(col(Alert.created_at), descending=True), Order(col(Alert.id), descending=True)],
    )
    audit.record(
        session,
        principal,
        AuditAction.ALERTS_LISTED,
        at=now,
        # Only a client the caller can see: an id guessed from another practice (or another
        # clinician's caseload) finds nothing and must not be written into this log.
        client_id=client_id if found.items else None,
        count=len(found.items),
    )
    return found


def get_alert(session: Session, principal: Principal, alert_id: UUID) -> Alert:
    return visible(session, Alert, alert_id, principal, what="Alert")


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


def acknowledge(
    session: Session,
    principal: Principal,
    alert_id: UUID,
    *,
    now: datetime,
    move: Move | None = None,
    note: str | None = None,
) -> Alert:
    """Mark the alert as addressed, with the move the clinician used and their private note.

    Doing it again changes nothing: the first acknowledgement stands. The one exception is an
    alert acknowledged without a move (through the API, before moves were asked for): its move
    and note can still be said once.
    """
    alert = get_alert(session, principal, alert_id)
    note = (note or "").strip() or None
    if alert.status is AlertStatus.OPEN:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledged_by = principal.account_id
    elif alert.addressed_move is not None or move is None:
        return alert
    if move is not None:
        alert.addressed_move = move.value
        alert.addressed_note = note
    audit.record(
        session,
        principal,
        AuditAction.ALERT_ACKNOWLEDGED,
        at=now,
        client_id=alert.client_id,
        subject_id=alert.id,
        **({"move": move.value} if move is not None else {}),
    )
    return alert
