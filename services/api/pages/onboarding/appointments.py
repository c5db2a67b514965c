"""Adding appointments by hand (for a practice without a scheduling system), and marking them
completed, cancelled or missed. For owners and clinicians; a clinician sees only their own
caseload, through the same scoping and domain functions as the JSON routes."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, get, post
from litestar.response import Redirect, Template
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session

from services.api.auth import people_only
from services.api.context import ApiContext
from services.api.pages.onboarding.forms import FORM, moments, notice_of, text
from services.api.pages.rendering import PAGE, field_errors, page, safe_next, see_other
from services.api.routes.appointments import TRANSITIONS, NewAppointment, check_action
from shared.access import Principal
from shared.accounts.service import get_clinician
from shared.appointments import service as appointments
from shared.clients import service as clients
from shared.clock import EARLIEST_MOMENT, LATEST_MOMENT
from shared.errors import DomainError
from shared.pagination import every

FIELDS = ("client_id", "day", "start", "minutes")
# What the page lists under the form: the recent past (to mark as done) and the weeks ahead.
LOOK_BACK = timedelta(days=7)
LOOK_AHEAD = timedelta(days=28)
# The page's own words for a field, whatever pydantic found wrong with it.
ASKS = {"client_id": "Choose a client."}
NOTICES = {
    "booked": "Added. The client's survey goes out after you mark the session completed.",
    "complete": "Marked as completed: the client's survey is on its way.",
    "cancel": "Marked as cancelled.",
    "no-show": "Marked as missed.",
}


def _bookable(day: date) -> date:
    # A moment outside these years is refused by NewAppointment; a day at the very end of
    # the calendar would not even reach it (its end overflows).
    if not EARLIEST_MOMENT.year < day.year < LATEST_MOMENT.year - 1:
        raise ValueError(
            f"Enter a date between {EARLIEST_MOMENT.year + 1} and {LATEST_MOMENT.year - 2}"
        )
    return day


class AppointmentForm(BaseModel):
    """The form's wall-clock fields; they become a NewAppointment (the JSON body) in the
    reader's own time zone."""

    model_config = ConfigDict(extra="forbid")

    client_id: UUID
    day: Annotated[date, AfterValidator(_bookable)]
    start: time
    minutes: int = Field(ge=5, le=8 * 60)

    def as_booking(self, zone: ZoneInfo) -> NewAppointment:
        starts_at = datetime.combine(self.day, self.start, tzinfo=zone)
        return NewAppointment(
            client_id=self.client_id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=self.minutes),
        )


def _page(
    context: ApiContext,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    now = context.clock.now()
    with context.transaction(principal) as session:
        zone = _zone(session, principal)
        caseload = every(lambda page: clients.list_clients(session, principal, now=now, page=page))
        listed = appointments.appointments_between(
            session, principal, since=now - LOOK_BACK, until=now + LOOK_AHEAD
        )
    local_now = now.astimezone(ZoneInfo(zone))
    return page(
        "onboarding/appointments.html",
        principal=principal,
        current="/appointments/new",
        status=status,
        clients=caseload,
        listed=listed,
        values=values or {"day": local_now.date().isoformat(), "start": "09:00", "minutes": "50"},
        errors=errors or {},
        notice=notice,
        zone=zone,
        now=now,
        when=moments(zone),
    )


def _refused(error: ValidationError) -> dict[str, str]:
    """The form's problems by field; a moment the day makes impossible (before 1970, after
    9999) is the day's problem."""
    problems: dict[str, str] = {}
    for field, words in field_errors(error, AppointmentForm, ASKS).items():
        problems.setdefault("day" if field in ("starts_at", "ends_at") else field, words)
    return problems


def _zone(session: Session, principal: Principal) -> str:
    """Times on this page are the reader's own: their account's time zone."""
    assert principal.account_id is not None
    return get_clinician(session, principal, principal.account_id).timezone


class AppointmentPages(Controller):
    path = "/appointments"
    tags = ["pages"]
    include_in_schema = False
    guards = [people_only]

    @get("/new", opt=PAGE, sync_to_thread=True)
    def new(self, principal: Principal, context: ApiContext, notice: str | None = None) -> Template:
        return _page(context, principal, notice=notice_of(notice, NOTICES))

    @post("/new", opt=PAGE, sync_to_thread=True)
    def book(
        self, data: Annotated[dict[str, Any], FORM], principal: Principal, context: ApiContext
    ) -> Template | Redirect:
        values = {name: text(data, name, 100) for name in FIELDS}
        try:
            with context.transaction(principal) as session:
                zone = ZoneInfo(_zone(session, principal))
                booking = AppointmentForm(**values).as_booking(zone)
                appointments.book(
                    session,
                    principal,
                    client_id=booking.client_id,
                    starts_at=booking.starts_at,
                    ends_at=booking.ends_at,
                    external_id=None,
                    now=context.clock.now(),
                )
        except ValidationError as error:
            return _page(context, principal, values=values, errors=_refused(error), status=422)
        except DomainError as refused:
            field = "client_id" if refused.field == "client_id" else "form"
            errors = {field: refused.message}
            return _page(
                context, principal, values=values, errors=errors, status=refused.status_code
            )
        return see_other("/appointments/new?notice=booked")

    @post("/{appointment_id:uuid}/{action:str}", opt=PAGE, sync_to_thread=True)
    def transition(
        self,
        appointment_id: UUID,
        action: str,
        data: Annotated[dict[str, Any], FORM],
        principal: Principal,
        context: ApiContext,
    ) -> Redirect:
        """Completed, cancelled or no-show, as the scheduling system would report it; back to
        the page the button was on."""
        known = check_action(action)
        with context.transaction(principal) as session:
            TRANSITIONS[known](
                session,
                principal,
                appointments.get_appointment(session, principal, appointment_id),
                now=context.clock.now(),
            )
        # Another page that lists appointments (with the same buttons) names itself in `back`.
        return see_other(safe_next(text(data, "back", 300), f"/appointments/new?notice={action}"))
