"""/practice/emails (emails that failed or are being retried) and /practice/audit (the audit
log with filters): read-only pages over shared.notifications.listing and shared.audit."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from litestar import Controller, get
from litestar.response import Template

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pages.rendering import PAGE, page
from shared.access import Principal
from shared.audit import AuditAction
from shared.audit.trail import AuditEntry, audit_people, audit_trail
from shared.errors import NotFound
from shared.models import NotificationKind
from shared.notifications.listing import troubled_notifications
from shared.pagination import PageRequest
from shared.practice.service import current_settings

EMAIL_KINDS = {
    NotificationKind.SURVEY: "Survey to a client",
    NotificationKind.SURVEY_REMINDER: "Survey reminder to a client",
    NotificationKind.NUDGE: "Nudge to a clinician",
    NotificationKind.DIGEST: "Morning digest to a clinician",
    NotificationKind.PASSWORD_RESET: "Password reset link",
    NotificationKind.CLINICIAN_INVITATION: "Invitation to a clinician",
}

ACTIONS = {
    AuditAction.CLIENT_ADDED: "Added a client",
    AuditAction.CLIENT_READ: "Opened a client's record",
    AuditAction.CLIENTS_LISTED: "Listed clients",
    AuditAction.ANSWERS_READ: "Read a client's answers",
    AuditAction.CLIENT_EXPORTED: "Exported a client's data",
    AuditAction.CLIENT_ERASED: "Erased a client",
    AuditAction.INVITATIONS_RESUMED: "Turned a client's surveys back on",
    AuditAction.OPT_OUT_HISTORY_READ: "Read a client's opt-out history",
    AuditAction.APPOINTMENT_BOOKED: "Booked an appointment",
    AuditAction.APPOINTMENT_RESCHEDULED: "Moved an appointment",
    AuditAction.APPOINTMENT_COMPLETED: "Completed an appointment",
    AuditAction.APPOINTMENT_CANCELLED: "Cancelled an appointment",
    AuditAction.APPOINTMENT_NO_SHOW: "Marked a no-show",
    AuditAction.APPOINTMENT_READ: "Opened an appointment",
    AuditAction.ALERT_READ: "Opened an alert",
    AuditAction.ALERTS_LISTED: "Listed alerts",
    AuditAction.ALERT_ACKNOWLEDGED: "Marked an alert as addressed",
    AuditAction.SETTINGS_READ: "Read the settings",
    AuditAction.SETTINGS_HISTORY_READ: "Read the settings history",
    AuditAction.SETTINGS_CHANGED: "Changed the settings",
    AuditAction.API_KEYS_LISTED: "Listed API keys",
    AuditAction.API_KEY_CREATED: "Created an API key",
    AuditAction.API_KEY_REVOKED: "Revoked an API key",
    AuditAction.WORK_RETRIED: "Retried failed background work",
}


def action_words(action: str) -> str:
    """An entry's action in words; one added later without words here shows as stored."""
    try:
        return ACTIONS.get(AuditAction(action), action)
    except ValueError:
        return action


SHOWN = 200


class RecordPages(Controller):
    path = "/practice"
    tags = ["pages"]
    include_in_schema = False
    guards = [owner_only]

    @get("/emails", opt=PAGE, sync_to_thread=True)
    def emails(
        self, principal: Principal, context: ApiContext, cursor: str | None = None
    ) -> Template:
        with context.transaction(principal) as session:
            zone = current_settings(session, principal.practice_id).settings.zone
            found = troubled_notifications(session, principal, page=PageRequest(cursor=cursor))
        return page(
            "owner/emails.html",
            principal=principal,
            current="/practice/emails",
            emails=found.items,
            next_cursor=found.next_cursor,
            kinds=EMAIL_KINDS,
            zone=zone,
        )

    @get("/audit", opt=PAGE, sync_to_thread=True)
    def audit(
        self,
        principal: Principal,
        context: ApiContext,
        who: str | None = None,
        client: str | None = None,
        from_day: str | None = None,
        to_day: str | None = None,
    ) -> Template:
        typed = {
            "who": (who or "")[:40],
            "client": (client or "").strip()[:64],
            "from_day": (from_day or "")[:20],
            "to_day": (to_day or "")[:20],
        }
        errors: dict[str, str] = {}
        actor_id = None
        if typed["who"]:
            try:
                actor_id = UUID(typed["who"])
            except ValueError:
                errors["who"] = "Choose someone from the list."
        days: dict[str, date] = {}
        for name in ("from_day", "to_day"):
            if typed[name]:
                try:
                    days[name] = date.fromisoformat(typed[name])
                except ValueError:
                    errors[name] = "Enter a date as YYYY-MM-DD, e.g. 2026-03-01."
        if "from_day" in days and "to_day" in days and days["to_day"] < days["from_day"]:
            errors["to_day"] = "The last day must be on or after the first."
        with context.transaction(principal) as session:
            zone = current_settings(session, principal.practice_id).settings.zone

            def start_of(day: date) -> datetime:
                return datetime.combine(day, time(0), zone).astimezone(UTC)

            entries: list[AuditEntry] = []
            if not errors:
                try:
                    entries = audit_trail(
                        session,
                        principal,
                        client_reference=typed["client"] or None,
                        actor_id=actor_id,
                        since=start_of(days["from_day"]) if "from_day" in days else None,
                        until=(
                            start_of(days["to_day"] + timedelta(days=1))
                            if "to_day" in days
                            else None
                        ),
                        limit=SHOWN,
                    ).entries
                except NotFound as missing:
                    errors[missing.field or "client"] = missing.message
            people = audit_people(session, principal)
        return page(
            "owner/audit.html",
            principal=principal,
            current="/practice/audit",
            status=422 if errors else 200,
            typed=typed,
            errors=errors,
            entries=entries,
            shown=SHOWN,
            people=people,
            action_words=action_words,
            zone=zone,
            filtered=any(typed.values()),
        )
