"""A clinician's nudges, one email per alert or one digest each morning.

A clinician who chose the digest gets, at their digest hour (their own time zone), one email
listing that day's appointments with open alerts; the Nudge rows it covers stay one per
appointment and are marked sent with it. What the digest cannot cover is sent the ordinary way:
an appointment before the digest hour, and an alert raised for today after the digest went.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from shared.access import Principal
from shared.accounts.service import get_clinician
from shared.alerts.nudges import send_nudge
from shared.db import insert_ignoring_conflict
from shared.db.claim import claim
from shared.db.due import find_due
from shared.errors import Invalid
from shared.models import (
    Account,
    Appointment,
    AppointmentStatus,
    NotificationKind,
    Nudge,
    NudgeDelivery,
    NudgeDigest,
    NudgePreference,
    NudgeStatus,
)
from shared.notifications.queue import queue_notification

# Far enough ahead to reach the end of the clinician's local day from any zone.
_LOOK_AHEAD = timedelta(hours=50)


@dataclass(frozen=True)
class Preference:
    delivery: NudgeDelivery
    digest_hour: int
    updated_at: datetime | None
    updated_by: UUID | None


def nudge_preference(session: Session, principal: Principal, account_id: UUID) -> Preference:
    """A clinician reads their own; the owner reads anyone's in the practice."""
    account = get_clinician(session, principal, account_id)
    row = session.get(NudgePreference, account.id)
    if row is None:
        return Preference(NudgeDelivery.PER_ALERT, 7, None, None)
    return Preference(row.delivery, row.digest_hour, row.updated_at, row.updated_by)


def set_nudge_preference(
    session: Session,
    principal: Principal,
    account_id: UUID,
    *,
    delivery: NudgeDelivery,
    digest_hour: int,
    now: datetime,
) -> Preference:
    """A clinician sets their own; the owner sets anyone's in the practice."""
    account = get_clinician(session, principal, account_id)
    if not 0 <= digest_hour <= 23:
        raise Invalid("The digest hour must be a whole hour from 0 to 23.", field="digest_hour")
    row = session.get(NudgePreference, account.id) or NudgePreference(
        account_id=account.id, practice_id=account.practice_id, updated_at=now
    )
    row.delivery = delivery
    row.digest_hour = digest_hour
    row.updated_by = principal.account_id
    row.updated_at = now
    session.add(row)
    return Preference(row.delivery, row.digest_hour, row.updated_at, row.updated_by)


def digest_clinicians_with_nudges(
    session: Session, *, now: datetime, limit: int
) -> list[tuple[UUID, UUID]]:
    """(practice id, clinician id) of digest readers with a pending nudge for an appointment
    in the next two days: the only ones send_digest may have work for.

    One row per reader (their preference row), ordered by when they were last looked at
    (`checked_at`, never first), so readers past the first batch come first next tick
    instead of starving behind the same ones."""
    return find_due(
        session,
        "send_digest",
        NudgePreference,
        col(NudgePreference.delivery) == NudgeDelivery.DAILY_DIGEST,
        select(Nudge.id)
        .join(Appointment, col(Appointment.id) == col(Nudge.appointment_id))
        .where(
            col(Nudge.clinician_id) == col(NudgePreference.account_id),
            col(Nudge.status) == NudgeStatus.PENDING,
            col(Appointment.starts_at) > now,
            col(Appointment.starts_at) <= now + _LOOK_AHEAD,
        )
        .exists(),
        due=col(NudgePreference.checked_at).asc().nulls_first(),
        now=now,
        limit=limit,
    )


def digest_moment(day: date, hour: int, zone: ZoneInfo) -> datetime:
    """The digest hour of a local day, as a UTC moment (a wall time skipped by a clock change
    lands on the first real moment after it)."""
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def send_digest(session: Session, clinician_id: UUID, *, now: datetime) -> bool:
    """Make today's digest for one clinician once its hour has come, and send what it cannot
    cover as ordinary nudges; True if a digest was made by this call."""
    preference = session.get(NudgePreference, clinician_id)
    clinician = session.get(Account, clinician_id)
    if (
        preference is None
        or clinician is None
        or preference.delivery is not NudgeDelivery.DAILY_DIGEST
    ):
        return False
    # Whatever comes of it, this reader goes to the back of the finder's queue.
    preference.checked_at = now
    zone = ZoneInfo(clinician.timezone)
    today = now.astimezone(zone).date()
    digest_at = digest_moment(today, preference.digest_hour, zone)
    pending = session.exec(
        select(Nudge, Appointment.starts_at)
        .join(Appointment, col(Appointment.id) == col(Nudge.appointment_id))
        .where(Nudge.clinician_id == clinician_id)
        .where(Nudge.status == NudgeStatus.PENDING)
        .where(Appointment.status == AppointmentStatus.SCHEDULED)
        .where(col(Appointment.starts_at) > now)
        .where(col(Appointment.starts_at) <= now + _LOOK_AHEAD)
        .order_by(col(Appointment.starts_at))
    ).all()
    for_today: list[Nudge] = []
    for nudge, starts_at in pending:
        day = starts_at.astimezone(zone).date()
        if starts_at <= digest_moment(day, preference.digest_hour, zone):
            # Before that day's digest: it could only arrive too late, so it goes alone.
            send_nudge(session, nudge.id, now=now)
        elif day == today and now >= digest_at:
            for_today.append(nudge)
    if not for_today:
        return False
    local_date = today.isoformat()
    made = insert_ignoring_conflict(
        session,
        NudgeDigest,
        {
            "id": uuid4(),
            "practice_id": clinician.practice_id,
            "clinician_id": clinician.id,
            "local_date": local_date,
            "nudge_ids": [],
            "created_at": now,
        },
        ["clinician_id", "local_date"],
    )
    if not made:
        # Today's digest has gone: an alert raised since then still deserves its nudge.
        for nudge in for_today:
            send_nudge(session, nudge.id, now=now)
        return False
    digest = session.exec(
        select(NudgeDigest)
        .where(NudgeDigest.clinician_id == clinician.id)
        .where(NudgeDigest.local_date == local_date)
    ).one()
    claimed = [nudge.id for nudge in for_today if _claim(session, nudge.id, digest.id, now)]
    digest.nudge_ids = [str(nudge_id) for nudge_id in claimed]
    if claimed:
        queue_notification(
            session,
            practice_id=clinician.practice_id,
            kind=NotificationKind.DIGEST,
            key=f"digest:{clinician.id}:{local_date}",
            subject_id=digest.id,
            now=now,
        )
    return bool(claimed)


def _claim(session: Session, nudge_id: UUID, digest_id: UUID, now: datetime) -> bool:
    return claim(
        session,
        Nudge,
        nudge_id,
        col(Nudge.status) == NudgeStatus.PENDING,
        status=NudgeStatus.SENT,
        sent_at=now,
        digest_id=digest_id,
    )
