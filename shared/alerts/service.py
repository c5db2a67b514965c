"""Alerts: what detection found, aimed at the client's next appointment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog
from sqlalchemy import ColumnElement, Select, bindparam, literal, true, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from shared import audit
from shared.access import Principal, scoped, visible
from shared.alerts.aiming import reaim_client
from shared.alerts.nudges import delivered
from shared.audit import AuditAction
from shared.db import insert_ignoring_conflict
from shared.db.claim import claiming
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
    Practice,
    RepairOutcome,
    Response,
)
from shared.pagination import Order, Page, PageRequest, paginate
from shared.practice.service import (
    CurrentSettings,
    current_document,
    current_settings,
    settings_of,
)
from shared.practice.settings import DipRules
from shared.survey.moves import Move

log = structlog.get_logger("attune.alerts")


# A client's history row, locked for the evaluation (one at a time per client, always taken
# before any answer is claimed), inserted first if the client has none: one INSERT ... ON
# CONFLICT DO UPDATE that takes the row lock either way (the no-op update locks an existing row
# as SELECT ... FOR UPDATE did, and waits for an evaluation holding it) and hands the row back.
# Two forms: from an answer's id (the worker's hot path, which knows nothing else before its
# first statement) or from a client's ids (a silence).
_HISTORY = ClientHistory.__table__  # type: ignore[attr-defined]
_RESPONSE = Response.__table__  # type: ignore[attr-defined]
_HISTORY_STATE = [
    _HISTORY.c.answered,
    _HISTORY.c.total,
    _HISTORY.c.total_sq,
    _HISTORY.c.last_mean,
    _HISTORY.c.decline_streak,
    _HISTORY.c.unanswered_streak,
    _HISTORY.c.streak_from,
    _HISTORY.c.item_sums,
]
_NEW_HISTORY = {
    "answered": 0,
    "total": 0,
    "total_sq": 0,
    "decline_streak": 0,
    "unanswered_streak": 0,
}


def _locking_history(dialect: str, source: Select[Any]) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(_HISTORY)
        .from_select(["client_id", "practice_id", *_NEW_HISTORY], source)
        .on_conflict_do_update(
            index_elements=[_HISTORY.c.client_id], set_={"answered": _HISTORY.c.answered}
        )
        # Columns only: SQLite's RETURNING is written unqualified, subqueries included.
        .returning(_HISTORY.c.client_id, _HISTORY.c.practice_id, *_HISTORY_STATE)
    )


def _new_history(*ids: ColumnElement[Any]) -> Select[Any]:
    return sa_select(*ids, *(literal(value) for value in _NEW_HISTORY.values()))


# SQLite needs the WHERE to read INSERT ... SELECT ... ON CONFLICT; both forms have one.
_LOCK_ANSWER_HISTORY = {
    dialect: _locking_history(
        dialect,
        _new_history(_RESPONSE.c.client_id, _RESPONSE.c.practice_id).where(
            _RESPONSE.c.id == bindparam("answer_id")
        ),
    )
    for dialect in ("postgresql", "sqlite")
}
_LOCK_CLIENT_HISTORY = {
    dialect: _locking_history(
        dialect,
        _new_history(
            bindparam("client_id", type_=_HISTORY.c.client_id.type),
            bindparam("practice_id", type_=_HISTORY.c.practice_id.type),
        ).where(true()),
    )
    for dialect in ("postgresql", "sqlite")
}
_STORE_HISTORY = (
    update(_HISTORY)
    .where(_HISTORY.c.client_id == bindparam("history_client_id"))
    .values({column.name: bindparam(f"new_{column.name}") for column in _HISTORY_STATE})
)


@dataclass
class _Locked:
    """A client's locked history, as evaluation left it so far."""

    client_id: UUID
    practice_id: UUID
    history: History


def _lock(session: Session, statements: dict[str, Any], params: dict[str, Any]) -> _Locked | None:
    row = session.connection().execute(statements[session.get_bind().dialect.name], params).first()
    if row is None:
        return None
    client_id, practice_id, *state = row
    return _Locked(client_id, practice_id, _as_history(*state))


def _as_history(
    answered: int,
    total: int,
    total_sq: int,
    last_mean: float | None,
    decline_streak: int,
    unanswered_streak: int,
    streak_from: float | None,
    item_sums: dict[str, list[int]] | None,
) -> History:
    return History(
        answered=answered,
        total=total,
        total_sq=total_sq,
        last_mean=last_mean,
        decline_streak=decline_streak,
        unanswered_streak=unanswered_streak,
        streak_from=streak_from,
        items=tuple(sorted((key, ItemSums(*sums)) for key, sums in (item_sums or {}).items())),
    )


def _store_history(session: Session, locked: _Locked) -> None:
    history = locked.history
    session.connection().execute(
        _STORE_HISTORY,
        {
            "history_client_id": locked.client_id,
            "new_answered": history.answered,
            "new_total": history.total,
            "new_total_sq": history.total_sq,
            "new_last_mean": history.last_mean,
            "new_decline_streak": history.decline_streak,
            "new_unanswered_streak": history.unanswered_streak,
            "new_streak_from": history.streak_from,
            "new_item_sums": {
                key: [sums.answered, sums.total, sums.total_sq] for key, sums in history.items
            },
        },
    )


def _raise_alert(
    session: Session,
    locked: _Locked,
    clinician_id: UUID,
    *,
    source_key: str,
    findings: list[Finding],
    current: CurrentSettings,
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
            "practice_id": locked.practice_id,
            "source_key": source_key,
            "client_id": locked.client_id,
            "clinician_id": clinician_id,
            "response_id": response_id,
            "settings_version": current.version,
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
        reaim_client(
            session,
            locked.practice_id,
            locked.client_id,
            now=now,
            timing=current.settings.timing,
        )
    return created


def evaluate_response(session: Session, response_id: UUID, *, now: datetime) -> bool:
    """Run detection on one answer, exactly once, after every earlier answer of the same client
    still unevaluated (shared.detection.order); True if it raised an alert, or an earlier
    answer evaluated with it did.

    An answer that raises no alert, the usual one, costs four statements: the history's lock,
    the answer's claim, one read (the settings, and whether rarer work is there to do), and
    the history's update."""
    # The history row is locked before any answer is claimed: one evaluation of a client at a
    # time, each taking its locks in the same order (history, then answers), so two of them
    # catching up on the same earlier answer wait for each other instead of deadlocking.
    locked = _lock(session, _LOCK_ANSWER_HISTORY, {"answer_id": response_id})
    if locked is None:
        return False  # no such answer
    answer = _claim_answer(session, response_id, now=now)
    if answer is None:
        return False  # already evaluated by an earlier delivery, the sweep, or a later answer
    ahead = _ahead(session, locked, answer)
    alerted = False
    if ahead.earlier_unevaluated:
        alerted = _evaluate_earlier(
            session, locked, ahead.current, ahead.clinician_id, answer.place, now=now
        )
    alerted = (
        _evaluate_answer(
            session,
            answer,
            locked,
            ahead.current,
            ahead.clinician_id,
            nudged=ahead.nudged,
            now=now,
        )
        or alerted
    )
    _store_history(session, locked)
    return alerted


@dataclass(frozen=True)
class _Claimed:
    """An answer as its claim returned it."""

    id: UUID
    client_id: UUID
    appointment_id: UUID
    submitted_at: datetime
    scores: dict[str, Any]
    asked_to_talk: bool
    mean: float

    @property
    def place(self) -> Place:
        return Place(self.submitted_at, self.id)


def _nudged(client_id: Any, starts_by: Any) -> SelectOfScalar[Alert]:
    """The client's alerts whose repair is unsettled and whose nudge went out, for a session
    that started by `starts_by`."""
    return (
        select(Alert)
        .join(Nudge, col(Nudge.appointment_id) == col(Alert.target_appointment_id))
        .join(Appointment, col(Appointment.id) == col(Alert.target_appointment_id))
        .where(col(Alert.client_id) == client_id)
        .where(col(Alert.repair).is_(None))
        # Only a nudge the clinician could have read: its email was accepted by the relay.
        .where(delivered())
        .where(col(Appointment.starts_at) <= starts_by)
    )


_CLAIM = claiming(
    Response,
    bindparam("answer_id"),
    col(Response.evaluated_at).is_(None),
    evaluated_at=bindparam("claimed_at", type_=_RESPONSE.c.evaluated_at.type),
).returning(
    _RESPONSE.c.id,
    _RESPONSE.c.client_id,
    _RESPONSE.c.appointment_id,
    _RESPONSE.c.submitted_at,
    _RESPONSE.c.scores,
    _RESPONSE.c.asked_to_talk,
    _RESPONSE.c.mean,
)


def _claim_answer(session: Session, response_id: UUID, *, now: datetime) -> _Claimed | None:
    row = (
        session.connection().execute(_CLAIM, {"answer_id": response_id, "claimed_at": now}).first()
    )
    return None if row is None else _Claimed(*row)


@dataclass(frozen=True)
class _Ahead:
    """What an answer's evaluation reads once it holds its claim."""

    current: CurrentSettings
    # The client's clinician, whom an alert goes to.
    clinician_id: UUID
    # An earlier answer of the client is still unevaluated (it must go first).
    earlier_unevaluated: bool
    # An unsettled alert of the client was nudged (this answer may settle its repair).
    nudged: bool


def _param(name: str, column: Any) -> Any:
    return bindparam(name, type_=column.type)


_ANSWERED = aliased(Appointment, name="answered")
# One read once the claim holds the answer: the practice's current settings, and whether the
# rare work is there to do, so that no statement is spent on finding that it is not.
_AHEAD = sa_select(
    select(Practice.settings_version)
    .where(col(Practice.id) == _param("practice_id", _RESPONSE.c.practice_id))
    .scalar_subquery(),
    current_document(_param("practice_id", _RESPONSE.c.practice_id)),
    select(Client.clinician_id)
    .where(col(Client.id) == _param("client_id", _RESPONSE.c.client_id))
    .scalar_subquery(),
    select(Response.id)
    .where(col(Response.client_id) == _param("client_id", _RESPONSE.c.client_id))
    .where(col(Response.evaluated_at).is_(None))
    .where(col(Response.submitted_at) <= _param("submitted_at", _RESPONSE.c.submitted_at))
    .where(col(Response.id) != _param("answer_id", _RESPONSE.c.id))
    .exists(),
    _nudged(
        _param("client_id", _RESPONSE.c.client_id),
        select(_ANSWERED.starts_at)
        .where(col(_ANSWERED.id) == _param("appointment_id", _RESPONSE.c.appointment_id))
        .scalar_subquery(),
    ).exists(),
)


def _ahead(session: Session, locked: _Locked, answer: _Claimed) -> _Ahead:
    version, document, clinician_id, earlier_unevaluated, nudged = (
        session.connection()
        .execute(
            _AHEAD,
            {
                "practice_id": locked.practice_id,
                "client_id": answer.client_id,
                "submitted_at": answer.submitted_at,
                "answer_id": answer.id,
                "appointment_id": answer.appointment_id,
            },
        )
        .one()
    )
    return _Ahead(
        CurrentSettings(version, settings_of(document)),
        clinician_id,
        bool(earlier_unevaluated),
        bool(nudged),
    )


def _evaluate_earlier(
    session: Session,
    locked: _Locked,
    current: CurrentSettings,
    clinician_id: UUID,
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
        .where(Response.client_id == locked.client_id)
        .where(col(Response.evaluated_at).is_(None))
        .where(col(Response.submitted_at) <= place.submitted_at)
    ).all()
    alerted = False
    for earlier in evaluate_first((Place(at, id_) for at, id_ in unevaluated), place):
        answer = _claim_answer(session, earlier.id, now=now)
        if answer is None:
            continue
        # Whether an alert of the client was nudged is read here for each: rare work.
        alerted = (
            _evaluate_answer(session, answer, locked, current, clinician_id, now=now) or alerted
        )
    return alerted


def _evaluate_answer(
    session: Session,
    answer: _Claimed,
    locked: _Locked,
    current: CurrentSettings,
    clinician_id: UUID,
    *,
    nudged: bool = True,
    now: datetime,
) -> bool:
    """Apply one claimed answer to the client's (locked) history; True if it raised an alert.
    `nudged` False: the caller read that no alert of the client waits for its repair."""
    rules = current.settings.rules
    if nudged:
        _record_repair(session, answer, rules, now=now)
    before = locked.history
    findings, locked.history = evaluate_answer(
        before,
        Answer(scores=answer.scores, asked_to_talk=answer.asked_to_talk),
        rules,
        current.settings.known_items,
    )
    if not findings:
        return False
    return _raise_alert(
        session,
        locked,
        clinician_id,
        source_key=f"response:{answer.id}",
        findings=findings,
        current=current,
        response_id=answer.id,
        repair_target=repair_target(before, rules),
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


def _record_repair(session: Session, answer: _Claimed, rules: DipRules, *, now: datetime) -> None:
    """The first answer after a nudged session settles whether that alert was repaired.

    Reads only this client's unsettled alerts whose nudge went out, never their past answers,
    so evaluation stays a fixed amount of work per answer.
    """
    answered = session.get(Appointment, answer.appointment_id)
    assert answered is not None
    for alert in session.exec(_nudged(answer.client_id, answered.starts_at)).all():
        # An alert from before targets were kept has no baseline on record.
        target = alert.repair_target
        if target is None:
            target = repair_target(History(), rules)
        alert.repair = (
            RepairOutcome.REPAIRED
            if is_repaired(answer.mean, target)
            else RepairOutcome.NOT_REPAIRED
        )
        alert.repair_response_id = answer.id
        alert.repair_mean = answer.mean
        alert.repair_at = now


def record_silence(session: Session, invitation: Invitation, *, now: datetime) -> bool:
    """Count an expired invitation toward the silence rule; True if it raised an alert.

    The caller has just moved the invitation to expired with a conditional update, which is
    what makes this run once per invitation.
    """
    locked = _lock(
        session,
        _LOCK_CLIENT_HISTORY,
        {"client_id": invitation.client_id, "practice_id": invitation.practice_id},
    )
    assert locked is not None
    current = current_settings(session, invitation.practice_id)
    client = session.get(Client, locked.client_id)
    assert client is not None
    # An answer given before this silence but not evaluated yet belongs before it.
    _evaluate_earlier(session, locked, current, client.clinician_id, silence_place(now), now=now)
    before = locked.history
    findings, locked.history = evaluate_silence(before, current.settings.rules)
    _store_history(session, locked)
    if not findings:
        return False
    return _raise_alert(
        session,
        locked,
        client.clinician_id,
        source_key=f"silence:{invitation.id}",
        findings=findings,
        current=current,
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
