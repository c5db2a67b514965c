"""Appointments, addressed by Attune's id or by the scheduling system's own external id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from litestar import Controller, get, post, put
from pydantic import Field
from sqlmodel import Session

from services.api.context import ApiContext
from services.api.schemas import Body, Moment, Out
from shared.access import Principal
from shared.appointments import service as appointments
from shared.errors import Conflict, Invalid, NotFound
from shared.models import Appointment, AppointmentStatus


class Times(Body):
    """That an appointment ends after it starts is checked once, in shared.appointments."""

    starts_at: Moment
    ends_at: Moment


class NewAppointment(Times):
    client_id: UUID
    external_id: str | None = Field(default=None, min_length=1, max_length=120)


class ExternalAppointment(Times):
    client_id: UUID


class AppointmentOut(Out):
    id: UUID
    client_id: UUID
    clinician_id: UUID
    external_id: str | None
    starts_at: datetime
    ends_at: datetime
    status: AppointmentStatus
    completed_at: datetime | None


Transition = Callable[..., Appointment]
TRANSITIONS: dict[str, Transition] = {
    "complete": appointments.complete,
    "cancel": appointments.cancel,
    "no-show": appointments.mark_no_show,
}


class AppointmentController(Controller):
    path = "/api/v1/appointments"
    tags = ["appointments"]
    opt = {"api_key": True}

    def _apply(
        self,
        context: ApiContext,
        principal: Principal,
        find: Callable[[Session], Appointment],
        action: str,
    ) -> AppointmentOut:
        with context.transaction(principal) as session:
            appointment = TRANSITIONS[action](
                session, principal, find(session), now=context.clock.now()
            )
            return AppointmentOut.model_validate(appointment)

    @post("/", sync_to_thread=True, status_code=201, opt={"raises": (Conflict,)})
    def book(
        self, data: NewAppointment, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        """Book an appointment. Re-sending one with the same external id changes nothing."""
        with context.transaction(principal) as session:
            appointment, _ = appointments.book(
                session,
                principal,
                client_id=data.client_id,
                starts_at=data.starts_at,
                ends_at=data.ends_at,
                external_id=data.external_id,
                now=context.clock.now(),
            )
            return AppointmentOut.model_validate(appointment)

    @get("/{appointment_id:uuid}", sync_to_thread=True)
    def read(
        self, appointment_id: UUID, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        with context.transaction(principal) as session:
            found = appointments.get_appointment(session, principal, appointment_id)
            return AppointmentOut.model_validate(
                appointments.read_appointment(session, principal, found, now=context.clock.now())
            )

    @post(
        "/{appointment_id:uuid}/reschedule",
        sync_to_thread=True,
        status_code=200,
        opt={"raises": (Conflict,)},
    )
    def reschedule(
        self, appointment_id: UUID, data: Times, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        with context.transaction(principal) as session:
            appointment = appointments.reschedule(
                session,
                principal,
                appointments.get_appointment(session, principal, appointment_id),
                starts_at=data.starts_at,
                ends_at=data.ends_at,
                now=context.clock.now(),
            )
            return AppointmentOut.model_validate(appointment)

    @post(
        "/{appointment_id:uuid}/{action:str}",
        sync_to_thread=True,
        status_code=200,
        opt={"raises": (Conflict,)},
    )
    def transition(
        self, appointment_id: UUID, action: str, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        """complete, cancel or no-show. Reporting the same state again changes nothing."""
        check_action(action)
        return self._apply(
            context,
            principal,
            lambda s: appointments.get_appointment(s, principal, appointment_id),
            action,
        )

    @put(
        "/external/{external_id:str}",
        sync_to_thread=True,
        status_code=200,
        opt={"raises": (Invalid, Conflict)},
    )
    def upsert_external(
        self,
        external_id: str,
        data: ExternalAppointment,
        principal: Principal,
        context: ApiContext,
    ) -> AppointmentOut:
        """Create or reschedule by the scheduling system's id: safe to send again."""
        _check_external_id(external_id)
        with context.transaction(principal) as session:
            appointment, _ = appointments.book(
                session,
                principal,
                client_id=data.client_id,
                starts_at=data.starts_at,
                ends_at=data.ends_at,
                external_id=external_id,
                now=context.clock.now(),
            )
            return AppointmentOut.model_validate(appointment)

    @get("/external/{external_id:str}", sync_to_thread=True)
    def get_external(
        self, external_id: str, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        _check_external_id(external_id)
        with context.transaction(principal) as session:
            found = appointments.find_by_external_id(session, principal, external_id)
            return AppointmentOut.model_validate(
                appointments.read_appointment(session, principal, found, now=context.clock.now())
            )

    @post(
        "/external/{external_id:str}/{action:str}",
        sync_to_thread=True,
        status_code=200,
        opt={"raises": (Invalid, Conflict)},
    )
    def transition_external(
        self, external_id: str, action: str, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        _check_external_id(external_id)
        check_action(action)
        return self._apply(
            context,
            principal,
            lambda s: appointments.find_by_external_id(s, principal, external_id),
            action,
        )


def check_action(action: str) -> None:
    if action not in TRANSITIONS:
        raise NotFound(f"Unknown action {action!r}: use complete, cancel or no-show.")


def _check_external_id(external_id: str) -> None:
    if not 1 <= len(external_id) <= 120:
        raise Invalid("An external id has 1 to 120 characters.", field="external_id")
