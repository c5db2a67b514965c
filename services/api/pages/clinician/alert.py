"""An alert's page, where the nudge email's link lands: evidence, moves, the client's trend,
"Mark as addressed", and once the client answers again, whether the alliance recovered."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from pydantic import ValidationError
from sqlmodel import Session

from services.api.context import ApiContext
from services.api.pages.clinician.views import alert_shown, trend, when
from services.api.pages.rendering import PAGE, field_errors, page, see_other
from services.api.routes.alerts import NOTE_LIMIT, AlertAddressed
from shared.access import Principal
from shared.alerts import service as alerts
from shared.casebook.record import alert_record
from shared.casebook.week import viewer_timezone
from shared.practice.service import current_settings
from shared.survey.moves import MOVE_TITLES, Move

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
# The alert's chart shows the client's recent sessions; their page shows every one.
RECENT = 12
ASKS = {
    "move": "Choose the move you used.",
    "note": f"Keep the note to {NOTE_LIMIT} characters or fewer.",
}


def _alert_page(
    session: Session,
    principal: Principal,
    context: ApiContext,
    alert_id: UUID,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    record = alert_record(session, principal, alert_id, now=context.clock.now())
    tz = viewer_timezone(session, principal)
    items = {
        item.key: item
        for item in current_settings(session, principal.practice_id).settings.known_items
    }
    alert = record.alert
    nudge = record.nudges.get(alert.target_appointment_id) if alert.target_appointment_id else None
    shown = alert_shown(alert, items, helped=record.helped, nudge=nudge)
    chart = trend(
        record.answers,
        items,
        record.client_alerts,
        record.nudges,
        timezone=tz,
        title=f"{record.client.reference}: answers over their last sessions",
        chart_id="alert-trend",
        last=RECENT,
    )
    return page(
        "clinician/alert.html",
        principal=principal,
        status=status,
        shown=shown,
        alert=alert,
        client=record.client,
        raised=when(alert.created_at, tz),
        target=when(record.target.starts_at, tz) if record.target else None,
        nudge_sent=when(nudge.sent_at, tz) if nudge and nudge.sent_at else None,
        acknowledged=when(alert.acknowledged_at, tz) if alert.acknowledged_at else None,
        addressed_title=MOVE_TITLES[Move(alert.addressed_move)] if alert.addressed_move else None,
        trend=chart,
        errors=errors or {},
        typed=typed or {},
        move_titles=MOVE_TITLES,
    )


class AlertPage(Controller):
    @get("/alerts/{alert_id:uuid}", opt=PAGE, sync_to_thread=True)
    def alert(self, alert_id: UUID, principal: Principal, context: ApiContext) -> Template:
        with context.transaction(principal) as session:
            return _alert_page(session, principal, context, alert_id)

    @post("/alerts/{alert_id:uuid}/addressed", opt=PAGE, sync_to_thread=True)
    def mark_addressed(
        self,
        alert_id: UUID,
        principal: Principal,
        context: ApiContext,
        data: Annotated[dict[str, Any], FORM],
    ) -> Template | Redirect:
        """The same domain function as POST /api/v1/alerts/{id}/acknowledge; a second post
        (a reload, a double click) changes nothing."""
        typed = {"move": str(data.get("move", "")), "note": str(data.get("note", ""))}
        try:
            form = AlertAddressed(move=typed["move"] or None, note=typed["note"] or None)
        except ValidationError as error:
            problems = field_errors(error, AlertAddressed, ASKS)
            with context.transaction(principal) as session:
                return _alert_page(
                    session, principal, context, alert_id, errors=problems, typed=typed, status=422
                )
        with context.transaction(principal) as session:
            alerts.acknowledge(
                session,
                principal,
                alert_id,
                now=context.clock.now(),
                move=form.move,
                note=form.note,
            )
        return see_other(f"/alerts/{alert_id}")
