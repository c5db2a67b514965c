"""Home, "Before your sessions": the week ahead, sessions with open alerts first."""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, get
from litestar.response import Template

from services.api.context import ApiContext
from services.api.pages.clinician.views import alert_shown, day, when
from services.api.pages.rendering import PAGE, page
from shared.access import Principal
from shared.alerts.what_helped import moves_that_helped
from shared.casebook.record import nudges_for
from shared.casebook.week import week_ahead
from shared.practice.service import current_settings


class SessionsPage(Controller):
    @get("/sessions", opt=PAGE, sync_to_thread=True)
    def before_your_sessions(self, principal: Principal, context: ApiContext) -> Template:
        now = context.clock.now()
        with context.transaction(principal) as session:
            week = week_ahead(session, principal, now=now)
            settings = current_settings(session, principal.practice_id).settings
            items = {item.key: item for item in settings.known_items}
            nudges = nudges_for(
                session, [a for s in week.sessions for a in s.alerts] + [a for a, _ in week.held]
            )
            tz = week.timezone
            helped = {
                client.id: moves_that_helped(session, client.id)
                for client in {s.client.id: s.client for s in week.sessions if s.alerts}.values()
            }
            sessions = [
                {
                    "appointment": s.appointment,
                    "client": s.client,
                    "clinician": s.clinician,
                    "when": when(s.appointment.starts_at, tz),
                    "alerts": [
                        alert_shown(
                            a,
                            items,
                            helped=helped.get(s.client.id, ()),
                            nudge=nudges.get(s.appointment.id),
                        )
                        for a in s.alerts
                    ],
                    "flagged": bool(s.open_alerts),
                }
                for s in week.sessions
            ]
            held = [
                {
                    "client": client,
                    "shown": alert_shown(alert, items),
                    "raised": day(alert.created_at, tz),
                }
                for alert, client in week.held
            ]
            return page(
                "clinician/sessions.html",
                principal=principal,
                current="/sessions",
                sessions=sessions,
                held=held,
                first_day=day(week.first_day, tz),
                last_day=day(week.last_moment - timedelta(seconds=1), tz),
                timezone=tz,
            )
