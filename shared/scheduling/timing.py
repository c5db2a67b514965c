"""Scheduling arithmetic: when to invite, when an invitation expires, when a nudge is due.

All moments are aware UTC datetimes in and out; wall-clock rules (quiet hours) are applied in
the zone of the person who would read the email, so a daylight-saving change shifts them the
way that person's clock shifts.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.practice.settings import QuietHours, Timing


def _in_quiet_hours(wall: time, quiet: QuietHours) -> bool:
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= wall < quiet.end
    return wall >= quiet.start or wall < quiet.end  # the window spans midnight


def _wall_clock_to_utc(day: datetime, wall: time, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day.date(), wall, tzinfo=zone)
    # A wall time inside a spring-forward gap does not exist; the round trip through UTC
    # lands on the first real moment after it, which is when the reader's clock shows it.
    return local.astimezone(UTC)


def out_of_quiet_hours(moment: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """The moment itself, or the end of the quiet hours it falls in, in the reader's zone."""
    if quiet is None:
        return moment
    local = moment.astimezone(zone)
    if not _in_quiet_hours(local.time().replace(tzinfo=None), quiet):
        return moment
    # In the hour a fall-back repeats, the end that still lies ahead is the one on the same
    # side of the change as the moment (its fold).
    end_today = _wall_clock_to_utc(local, quiet.end.replace(fold=local.fold), zone)
    if end_today > moment:
        return end_today
    return _wall_clock_to_utc(local + timedelta(days=1), quiet.end, zone)


def invitation_send_at(session_end: datetime, timing: Timing, client_zone: ZoneInfo) -> datetime:
    return out_of_quiet_hours(session_end + timing.survey_delay, timing.quiet_hours, client_zone)


def invitation_expires_at(
    sent_at: datetime, timing: Timing, next_appointment_start: datetime | None
) -> datetime:
    """The earlier of the practice's expiry and the next session: an answer about a session
    that has since been followed by another one would describe the wrong session."""
    expiry = sent_at + timing.survey_expiry
    if next_appointment_start is not None and next_appointment_start > sent_at:
        return min(expiry, next_appointment_start)
    return expiry


def reminder_at(
    sent_at: datetime,
    timing: Timing,
    client_zone: ZoneInfo,
    *,
    expires_at: datetime | None = None,
) -> datetime | None:
    """When the one optional reminder goes, or None: none set, or it would arrive after the
    survey has closed (a reminder to answer what can no longer be answered helps no one)."""
    if timing.reminder_after_hours is None:
        return None
    moment = sent_at + timedelta(hours=timing.reminder_after_hours)
    moment = out_of_quiet_hours(moment, timing.quiet_hours, client_zone)
    if expires_at is not None and moment >= expires_at:
        return None
    return moment


def nudge_due_at(appointment_start: datetime, timing: Timing) -> datetime:
    return appointment_start - timing.alert_lead
