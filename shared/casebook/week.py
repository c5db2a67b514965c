"""Before your sessions: the next seven days of appointments, those with open alerts first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Protocol, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, scoped
from shared.audit import AuditAction
from shared.models import (
    Account,
    Alert,
    AlertStatus,
    Appointment,
    AppointmentStatus,
    Client,
)

DAYS_AHEAD = 7


class _Identified(Protocol):
    id: UUID


Identified = TypeVar("Identified", bound=_Identified)


@dataclass
class UpcomingSession:
    appointment: Appointment
    client: Client
    clinician: Account
    alerts: list[Alert] = field(default_factory=list)

    @property
    def open_alerts(self) -> list[Alert]:
        return [alert for alert in self.alerts if alert.status is AlertStatus.OPEN]


@dataclass
class Week:
    timezone: str
    first_day: datetime  # local midnight today
    last_moment: datetime  # local midnight after the seventh day
    sessions: list[UpcomingSession]
    held: list[tuple[Alert, Client]]  # open alerts with no booking to nudge before


def viewer_timezone(session: Session, principal: Principal) -> str:
    """Pages show times in the signed-in person's own zone."""
    viewer = session.get(Account, principal.account_id) if principal.account_id else None
    return viewer.timezone if viewer is not None else "UTC"


def window(now: datetime, timezone: str, days: int = DAYS_AHEAD) -> tuple[datetime, datetime]:
    """Today and the `days` days after it, in the viewer's zone: from local midnight today
    to the end of the last day, so a weekly client's next session is always in it."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    start = datetime.combine(today, time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=days + 1), time(0), tzinfo=zone)
    return start, end


def week_ahead(session: Session, principal: Principal, *, now: datetime) -> Week:
    """Scheduled appointments still to come this week (a clinician's own; the owner's whole
    practice), each with the alerts aimed at it; open alerts first, then by start."""
    timezone = viewer_timezone(session, principal)
    start, end = window(now, timezone)
    appointments = session.exec(
        scoped(select(Appointment), Appointment, principal)
        .where(Appointment.status == AppointmentStatus.SCHEDULED)
        .where(col(Appointment.ends_at) > now)
        .where(col(Appointment.starts_at) < end.astimezone(UTC))
        .order_by(col(Appointment.starts_at))
    ).all()
    alerts = session.exec(
        scoped(select(Alert), Alert, principal)
        .where(col(Alert.target_appointment_id).in_([a.id for a in appointments]))
        .order_by(col(Alert.created_at))
    ).all()
    held_alerts = session.exec(
        scoped(select(Alert), Alert, principal)
        .where(Alert.status == AlertStatus.OPEN)
        .where(col(Alert.target_appointment_id).is_(None))
        .order_by(col(Alert.created_at))
    ).all()
    clients = _by_id(
        session, Client, {a.client_id for a in appointments} | {a.client_id for a in held_alerts}
    )
    clinicians = _by_id(session, Account, {a.clinician_id for a in appointments})
    sessions = [
        UpcomingSession(
            appointment=appointment,
            client=clients[appointment.client_id],
            clinician=clinicians[appointment.clinician_id],
            alerts=[a for a in alerts if a.target_appointment_id == appointment.id],
        )
        for appointment in appointments
    ]
    sessions.sort(key=lambda s: (not s.open_alerts, s.appointment.starts_at))
    audit.record(
        session,
        principal,
        AuditAction.ALERTS_LISTED,
        at=now,
        count=len(alerts) + len(held_alerts),
    )
    return Week(
        timezone=timezone,
        first_day=start,
        last_moment=end,
        sessions=sessions,
        held=[(alert, clients[alert.client_id]) for alert in held_alerts],
    )


def _by_id(session: Session, model: type[Identified], ids: set[UUID]) -> dict[UUID, Identified]:
    if not ids:
        return {}
    rows = session.exec(select(model).where(col(model.id).in_(ids))).all()
    return {row.id: row for row in rows}
