"""The clients: find one by reference, and one client's whole record."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.response import Redirect, Template

from services.api.context import ApiContext
from services.api.pages.clinician.views import alert_shown, day, trend, when
from services.api.pages.rendering import PAGE, page, see_other
from shared.access import Principal
from shared.casebook.record import client_record
from shared.casebook.week import viewer_timezone
from shared.clients.service import list_clients
from shared.models import AlertStatus, InvitationStatus
from shared.pagination import every
from shared.practice.service import current_settings
from shared.survey.moves import MOVE_TITLES

INVITATION_STATES = {
    InvitationStatus.SCHEDULED: "Waiting to be sent",
    InvitationStatus.SENT: "Sent, no answer yet",
    InvitationStatus.ANSWERED: "Answered",
    InvitationStatus.EXPIRED: "Expired unanswered",
    InvitationStatus.WITHHELD: "Not sent: they had opted out",
}


class ClientPages(Controller):
    @get("/clients", opt=PAGE, sync_to_thread=True)
    def clients(
        self, principal: Principal, context: ApiContext, reference: str = ""
    ) -> Template | Redirect:
        """Every client in the caseload; a reference typed in narrows the list, and one that
        matches exactly opens that client."""
        wanted = reference.strip()[:40]
        with context.transaction(principal) as session:
            now = context.clock.now()
            found = every(lambda page: list_clients(session, principal, now=now, page=page))
        if wanted:
            exact = [c for c in found if c.reference.lower() == wanted.lower()]
            if len(exact) == 1:
                return see_other(f"/clients/{exact[0].id}")
            found = [c for c in found if wanted.lower() in c.reference.lower()]
        return page(
            "clinician/clients.html",
            principal=principal,
            current="/clients",
            clients=found,
            reference=wanted,
        )

    @get("/clients/{client_id:uuid}", opt=PAGE, sync_to_thread=True)
    def client(self, client_id: UUID, principal: Principal, context: ApiContext) -> Template:
        with context.transaction(principal) as session:
            record = client_record(session, principal, client_id, now=context.clock.now())
            tz = viewer_timezone(session, principal)
            items = {
                item.key: item
                for item in current_settings(session, principal.practice_id).settings.known_items
            }
        alerts = [
            {
                "shown": alert_shown(
                    alert,
                    items,
                    helped=record.helped,
                    nudge=record.nudges.get(alert.target_appointment_id)
                    if alert.target_appointment_id
                    else None,
                ),
                "raised": day(alert.created_at, tz),
            }
            for alert in record.alerts
        ]
        invitations = [
            {
                "session": when(appointment.starts_at, tz),
                "state": INVITATION_STATES[invitation.status],
                "sent": day(invitation.sent_at, tz) if invitation.sent_at else "",
                "answered": day(invitation.answered_at, tz) if invitation.answered_at else "",
            }
            for invitation, appointment in record.invitations
        ]
        opt_outs = [
            {
                "when": day(change.changed_at, tz),
                "what": "Opted out" if change.opted_out else "Invitations turned back on",
                "by": "the client, from an email" if change.changed_by is None else "the practice",
                "reason": change.reason or "",
            }
            for change in record.opt_outs
        ]
        return page(
            "clinician/client.html",
            principal=principal,
            current="/clients",
            client=record.client,
            trend=trend(
                record.answers,
                items,
                record.alerts,
                record.nudges,
                timezone=tz,
                title=f"{record.client.reference}: every answer",
                chart_id="client-trend",
            ),
            alerts=alerts,
            open_count=sum(a.status is AlertStatus.OPEN for a in record.alerts),
            invitations=invitations,
            opt_outs=opt_outs,
            helped=[MOVE_TITLES[m] for m in record.helped],
            opted_out=day(record.client.opted_out_at, tz) if record.client.opted_out_at else None,
        )
