"""Preview candidate settings against the practice's own recent history, changing nothing.

Reads the practice's answers and expired invitations, replays them through the detection
rules twice (current settings, candidate settings) and counts the alerts each would have
raised over the last N days. On request it also replays both over the typical simulated
cohort (shared.cohort), so a practice with no answers yet sees what its settings would raise,
and how many planted ruptures they would find. It writes no row and queues no email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlmodel import Session, col, func, or_, select

from shared.access import Principal, require_owner
from shared.cohort.comparison import CohortReplay, replay_typical_cohort
from shared.cohort.model import CohortModel
from shared.detection.replay import AlertCounts, PastEvent, replay
from shared.detection.rules import Answer
from shared.models import (
    Account,
    Alert,
    Client,
    Invitation,
    InvitationStatus,
    Response,
    Role,
)
from shared.practice.service import current_settings, require_whole
from shared.practice.settings import PracticeSettings

MAX_PREVIEW_DAYS = 365


@dataclass(frozen=True)
class ClinicianCounts:
    clinician_id: UUID
    name: str
    current: int
    candidate: int


@dataclass(frozen=True)
class SettingsPreview:
    days: int
    window_start: datetime
    window_end: datetime
    answers: int  # answers inside the window
    silences: int  # invitations that expired unanswered inside the window
    raised: int  # alerts actually raised inside the window, under whichever settings then
    current_version: int
    current: AlertCounts
    candidate: AlertCounts
    by_clinician: list[ClinicianCounts]
    typical_cohort: TypicalCohortPreview | None = None


@dataclass(frozen=True)
class TypicalCohortPreview:
    """Both settings over the same simulated cohort (a simulation, not the practice's data)."""

    clinicians: int
    clients: int
    weeks: int
    current: CohortReplay
    candidate: CohortReplay


def _past_events(
    session: Session, practice_id: UUID, *, since: datetime, until: datetime
) -> list[PastEvent]:
    """Every answer and silence up to `until` of the clients active since `since`: the ones
    before `since` rebuild those clients' baselines as they stood when the window opened."""
    expired = (col(Invitation.practice_id) == practice_id) & (
        col(Invitation.status) == InvitationStatus.EXPIRED
    )
    active = or_(
        col(Client.id).in_(
            select(Response.client_id)
            .where(Response.practice_id == practice_id)
            .where(col(Response.submitted_at) >= since)
        ),
        col(Client.id).in_(
            select(Invitation.client_id).where(expired).where(col(Invitation.expires_at) >= since)
        ),
    )
    answers = session.exec(
        # sqlmodel types select() for at most four columns; it takes any number.
        select(  # type: ignore[call-overload]
            Response.client_id,
            Client.clinician_id,
            Response.submitted_at,
            Response.scores,
            Response.asked_to_talk,
        )
        .join(Client, col(Client.id) == col(Response.client_id))
        .where(Response.practice_id == practice_id)
        .where(col(Response.submitted_at) <= until)
        .where(active)
    ).all()
    silences = session.exec(
        select(Invitation.client_id, Client.clinician_id, Invitation.expires_at)
        .join(Client, col(Client.id) == col(Invitation.client_id))
        .where(expired)
        .where(col(Invitation.expires_at) <= until)
        .where(active)
    ).all()
    return [
        PastEvent(client_id, clinician_id, at, Answer(scores=scores, asked_to_talk=asked))
        for client_id, clinician_id, at, scores, asked in answers
    ] + [
        PastEvent(client_id, clinician_id, at)
        for client_id, clinician_id, at in silences
        if at is not None
    ]


def preview_settings(
    session: Session,
    principal: Principal,
    candidate: PracticeSettings,
    *,
    days: int,
    now: datetime,
    typical_cohort: bool = False,
) -> SettingsPreview:
    require_owner(principal)
    require_whole(
        candidate, "The candidate settings are a whole document", field_prefix="settings."
    )
    current = current_settings(session, principal.practice_id)
    window_start = now - timedelta(days=days)
    events = _past_events(session, principal.practice_id, since=window_start, until=now)

    def count(settings: PracticeSettings) -> AlertCounts:
        return replay(events, settings.rules, settings.known_items, counted_from=window_start)

    before, after = count(current.settings), count(candidate)
    clinicians = session.exec(
        select(Account.id, Account.name)
        .where(Account.practice_id == principal.practice_id)
        .where(
            or_(
                col(Account.id).in_(set(before.by_clinician) | set(after.by_clinician)),
                col(Account.role) == Role.CLINICIAN,
            )
        )
        .order_by(col(Account.name))
    ).all()
    raised = session.exec(
        select(func.count())
        .select_from(Alert)
        .where(Alert.practice_id == principal.practice_id)
        .where(col(Alert.created_at) >= window_start)
        .where(col(Alert.created_at) <= now)
    ).one()
    in_window = [event for event in events if event.at >= window_start]
    simulated = None
    if typical_cohort:
        model = CohortModel()
        simulated = TypicalCohortPreview(
            clinicians=model.clinicians,
            clients=model.clinicians * model.caseload,
            weeks=model.sessions,
            current=replay_typical_cohort(current.settings.rules, current.settings.known_items),
            candidate=replay_typical_cohort(candidate.rules, candidate.known_items),
        )
    return SettingsPreview(
        days=days,
        window_start=window_start,
        window_end=now,
        answers=sum(1 for event in in_window if event.answer is not None),
        silences=sum(1 for event in in_window if event.answer is None),
        raised=raised,
        current_version=current.version,
        current=before,
        candidate=after,
        by_clinician=[
            ClinicianCounts(
                clinician_id=clinician_id,
                name=name,
                current=before.by_clinician[clinician_id],
                candidate=after.by_clinician[clinician_id],
            )
            for clinician_id, name in clinicians
        ],
        typical_cohort=simulated,
    )
