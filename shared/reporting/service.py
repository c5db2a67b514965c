"""Practice figures for a date range, overall and per clinician, month by month and per
suggested move, for the owner.

The database counts (grouped by clinician, one calendar month of the practice's time zone at
a time); shared.reporting.figures does the arithmetic. The range's figures are the sum of its
months', so the monthly charts and the totals beside them always agree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from shared.access import Principal, require_owner
from shared.alerts.nudges import carried_by, delivered
from shared.clock import EARLIEST_MOMENT, LATEST_MOMENT
from shared.errors import Invalid
from shared.models import (
    Account,
    Alert,
    AlertStatus,
    Appointment,
    AppointmentStatus,
    Invitation,
    InvitationStatus,
    Notification,
    NotificationStatus,
    Nudge,
    RepairOutcome,
    Role,
)
from shared.practice.service import current_settings
from shared.reporting.figures import (
    Figures,
    Month,
    MoveFigures,
    Tally,
    figures_of,
    figures_per_move,
    months_between,
    total,
)
from shared.survey.moves import MOVE_ORDER

MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class ClinicianFigures:
    clinician_id: UUID
    name: str
    figures: Figures


@dataclass(frozen=True)
class MonthFigures:
    month: Month
    overall: Figures
    by_clinician: list[ClinicianFigures]


@dataclass(frozen=True)
class PracticeFigures:
    first_day: date
    last_day: date
    timezone: str
    overall: Figures
    by_clinician: list[ClinicianFigures]
    by_month: list[MonthFigures]
    by_move: list[MoveFigures]


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _in_range(column: Any, start: datetime, end: datetime) -> Any:
    return (col(column) >= start) & (col(column) < end)


def _tallies(
    session: Session, practice_id: UUID, start: datetime, end: datetime
) -> dict[UUID, Tally]:
    counts: dict[UUID, dict[str, int]] = defaultdict(dict)

    def gather(query: Any, *names: str) -> None:
        for clinician_id, *values in session.exec(query).all():
            counts[clinician_id].update(zip(names, (int(v) for v in values), strict=True))

    gather(
        select(Appointment.clinician_id, func.count())
        .where(Appointment.practice_id == practice_id)
        .where(Appointment.status == AppointmentStatus.COMPLETED)
        .where(_in_range(Appointment.completed_at, start, end))
        .group_by(col(Appointment.clinician_id)),
        "appointments_completed",
    )
    gather(
        select(
            Appointment.clinician_id,
            func.count(),
            _count_if(col(Invitation.status) == InvitationStatus.ANSWERED),
        )
        .join(Appointment, col(Appointment.id) == col(Invitation.appointment_id))
        .where(Invitation.practice_id == practice_id)
        .where(_in_range(Invitation.sent_at, start, end))
        .group_by(col(Appointment.clinician_id)),
        "invitations_sent",
        "invitations_answered",
    )
    gather(
        # sqlmodel types select() for at most four columns; it takes any number.
        select(  # type: ignore[call-overload]
            Alert.clinician_id,
            func.count(),
            _count_if(col(Alert.status) == AlertStatus.ACKNOWLEDGED),
            _count_if(col(Alert.repair) == RepairOutcome.REPAIRED),
            _count_if(col(Alert.repair) == RepairOutcome.NOT_REPAIRED),
        )
        .where(Alert.practice_id == practice_id)
        .where(_in_range(Alert.created_at, start, end))
        .group_by(col(Alert.clinician_id)),
        "alerts",
        "acknowledged",
        "repaired",
        "not_repaired",
    )
    gather(
        select(Alert.clinician_id, func.count())
        .join(Nudge, col(Nudge.appointment_id) == col(Alert.target_appointment_id))
        .where(Alert.practice_id == practice_id)
        .where(_in_range(Alert.created_at, start, end))
        .where(delivered())
        .where(col(Alert.repair).is_(None))
        .group_by(col(Alert.clinician_id)),
        "awaiting_answer",
    )
    # Delivered nudges only: the relay accepted the email that carries it (its own or its
    # digest), counted on the day it was accepted. Queued, cancelled and failed ones are not.
    gather(
        select(Nudge.clinician_id, func.count())
        .join(Notification, carried_by())
        .where(Nudge.practice_id == practice_id)
        .where(Notification.status == NotificationStatus.SENT)
        .where(_in_range(Notification.sent_at, start, end))
        .group_by(col(Nudge.clinician_id)),
        "nudges_sent",
    )
    return {clinician_id: Tally(**values) for clinician_id, values in counts.items()}


def _moves_and_outcomes(
    session: Session, practice_id: UUID, start: datetime, end: datetime
) -> list[tuple[list[str], str | None]]:
    """(moves, repair outcome) of each alert found in the range. An alert marked addressed
    with the move the clinician used counts for that move alone (its outcome attaches to
    what was done); one without a recorded move counts under each move it suggested."""
    rows = session.exec(
        select(Alert.moves, Alert.addressed_move, col(Alert.repair))
        .where(Alert.practice_id == practice_id)
        .where(_in_range(Alert.created_at, start, end))
    ).all()
    return [
        ([used] if used else list(moves), repair.value if repair else None)
        for moves, used, repair in rows
    ]


def practice_figures(
    session: Session, principal: Principal, *, first_day: date, last_day: date
) -> PracticeFigures:
    """Figures for the days first_day to last_day inclusive, in the practice's time zone:
    for the whole range, for each calendar month in it, and per suggested move."""
    require_owner(principal)
    for name, day in (("first_day", first_day), ("last_day", last_day)):
        if not EARLIEST_MOMENT.date() <= day < LATEST_MOMENT.date():
            raise Invalid(
                f"{day.isoformat()} is out of range: a day must fall between "
                f"{EARLIEST_MOMENT.year} and {LATEST_MOMENT.year - 1}.",
                field=name,
            )
    if last_day < first_day:
        raise Invalid("The range must end on or after the day it starts.", field="last_day")
    if (last_day - first_day).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(f"The range can span at most {MAX_RANGE_DAYS} days.", field="last_day")
    settings = current_settings(session, principal.practice_id).settings
    zone = settings.zone

    def moment(day: date) -> datetime:
        return datetime.combine(day, time(0), zone).astimezone(UTC)

    people = session.exec(
        select(Account.id, Account.name, Account.role)
        .where(Account.practice_id == principal.practice_id)
        .order_by(col(Account.name))
    ).all()

    def per_clinician(tallies: dict[UUID, Tally], listed: set[UUID]) -> list[ClinicianFigures]:
        return [
            ClinicianFigures(account_id, name, figures_of(tallies.get(account_id, Tally())))
            for account_id, name, role in people
            if role is Role.CLINICIAN or account_id in listed
        ]

    monthly = [
        (
            month,
            _tallies(
                session,
                principal.practice_id,
                moment(month.first_day),
                moment(month.last_day + timedelta(days=1)),
            ),
        )
        for month in months_between(first_day, last_day)
    ]
    tallies: dict[UUID, Tally] = defaultdict(Tally)
    for _, month_tallies in monthly:
        for clinician_id, tally in month_tallies.items():
            tallies[clinician_id] += tally
    listed = set(tallies)  # anyone with figures in the range has a row in every month
    return PracticeFigures(
        first_day=first_day,
        last_day=last_day,
        timezone=settings.timezone,
        overall=figures_of(total(tallies.values())),
        by_clinician=per_clinician(tallies, listed),
        by_month=[
            MonthFigures(
                month=month,
                overall=figures_of(total(month_tallies.values())),
                by_clinician=per_clinician(month_tallies, listed),
            )
            for month, month_tallies in monthly
        ],
        by_move=figures_per_move(
            _moves_and_outcomes(
                session,
                principal.practice_id,
                moment(first_day),
                moment(last_day + timedelta(days=1)),
            ),
            order=[move.value for move in MOVE_ORDER],
        ),
    )
