"""Appointments, addressed by Attune's id or by the scheduling system's own external id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post, put
from litestar.openapi.spec import Example
from litestar.params import Body as BodyParameter
from litestar.params import Parameter
from pydantic import Field
from sqlmodel import Session

from services.api.context import ApiContext
from services.api.path_ids import AppointmentId, ExternalId
from services.api.schemas import Body, Moment, Out
from shared.access import Principal
from shared.appointments import service as appointments
from shared.errors import Conflict, Invalid, NotFound
from shared.models import Appointment, AppointmentStatus


class Times(Body):
    """When the appointment starts and ends. It must end after it starts."""

    # That an appointment ends after it starts is checked once, in shared.appointments.
    starts_at: Moment = Field(
        description="When the session starts: ISO 8601 with a time zone, e.g. "
        "2026-03-09T09:00:00Z or 2026-03-09T10:00:00+01:00.",
        examples=["2026-03-09T09:00:00Z"],
    )
    ends_at: Moment = Field(
        description="When the session ends, after starts_at; same format.",
        examples=["2026-03-09T09:50:00Z"],
    )


class NewAppointment(Times):
    """An appointment to book for a client."""

    client_id: UUID = Field(
        description="The client's id in Attune (from adding the client). The appointment "
        "belongs to the client's clinician."
    )
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=120,
        description="The scheduling system's own id for this appointment, 1 to 120 "
        "characters. With one, booking again is safe: the same id with the same times "
        "changes nothing, with other times it reschedules.",
        examples=["visit-20260309-0900"],
    )


class ExternalAppointment(Times):
    """An appointment addressed by the scheduling system's own id (in the path)."""

    client_id: UUID = Field(
        description="The client's id in Attune. An external id stays with the client it was "
        "first booked for: another client is a 409."
    )


class AppointmentOut(Out):
    """An appointment as Attune holds it."""

    id: UUID = Field(description="Attune's id for the appointment.")
    client_id: UUID = Field(description="The client the appointment is with.")
    clinician_id: UUID = Field(description="The client's clinician.")
    external_id: str | None = Field(description="The scheduling system's id, if it gave one.")
    starts_at: datetime = Field(description="When the session starts.")
    ends_at: datetime = Field(description="When the session ends.")
    status: AppointmentStatus = Field(
        description="scheduled until the scheduling system reports it completed, cancelled "
        "or a no-show; those three are final."
    )
    completed_at: datetime | None = Field(
        description="When it was reported completed: the survey invitation is timed from it."
    )


class AppointmentAction(StrEnum):
    """What the scheduling system reports happened to a scheduled appointment."""

    COMPLETE = "complete"
    CANCEL = "cancel"
    NO_SHOW = "no-show"


Transition = Callable[..., Appointment]
TRANSITIONS: dict[AppointmentAction, Transition] = {
    AppointmentAction.COMPLETE: appointments.complete,
    AppointmentAction.CANCEL: appointments.cancel,
    AppointmentAction.NO_SHOW: appointments.mark_no_show,
}
# The path says the action as text: an unknown one is a 404 naming the three (check_action),
# and the schema lists them as an enumeration.
ActionInPath = Annotated[
    str,
    Parameter(
        description="complete: the session took place (the client's survey invitation is "
        "scheduled from now); cancel: it will not take place; no-show: the client did not "
        "come. Each is final.",
        schema_extra={"enum": [action.value for action in AppointmentAction]},
    ),
]
EXAMPLE_TIMES = {"starts_at": "2026-03-09T09:00:00Z", "ends_at": "2026-03-09T09:50:00Z"}
CLIENT_ID = "6f1c2a9e-4b7d-4e0a-9a51-2d3c8b7e4f10"


class AppointmentController(Controller):
    """The scheduling system reports appointments here with an API key (X-API-Key); the
    owner and clinicians may call the same routes with their own sign-in."""

    path = "/api/v1/appointments"
    tags = ["appointments"]
    opt = {"api_key": True}

    def _apply(
        self,
        context: ApiContext,
        principal: Principal,
        find: Callable[[Session], Appointment],
        action: AppointmentAction,
    ) -> AppointmentOut:
        with context.transaction(principal) as session:
            appointment = TRANSITIONS[action](
                session, principal, find(session), now=context.clock.now()
            )
            return AppointmentOut.model_validate(appointment)

    @post(
        "/",
        sync_to_thread=True,
        status_code=201,
        summary="Book an appointment",
        operation_id="bookAppointment",
        opt={"raises": (Conflict,)},
    )
    def book(
        self,
        data: Annotated[
            NewAppointment,
            BodyParameter(
                examples=[
                    Example(
                        summary="A 50-minute session, with the scheduling system's id",
                        value={
                            "client_id": CLIENT_ID,
                            "external_id": "visit-20260309-0900",
                            **EXAMPLE_TIMES,
                        },
                    )
                ]
            ),
        ],
        principal: Principal,
        context: ApiContext,
    ) -> AppointmentOut:
        """Book a session for a client; it starts as `scheduled`. Who: an API key, the owner,
        or the client's clinician. With an `external_id` the call is safe to repeat: the same
        id and times return the existing appointment unchanged, other times reschedule it
        (PUT /api/v1/appointments/external/{external_id} does the same with the id in the
        path). Returns the appointment (201, also when it already existed)."""
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

    @get(
        "/{appointment_id:uuid}",
        sync_to_thread=True,
        summary="Read an appointment",
        operation_id="readAppointment",
    )
    def read(
        self, appointment_id: AppointmentId, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        """The appointment with this Attune id, with its status. Who: an API key, the owner,
        or the client's clinician (another clinician's appointment is a 404). The read is
        recorded in the audit log."""
        with context.transaction(principal) as session:
            found = appointments.get_appointment(session, principal, appointment_id)
            return AppointmentOut.model_validate(
                appointments.read_appointment(session, principal, found, now=context.clock.now())
            )

    @post(
        "/{appointment_id:uuid}/reschedule",
        sync_to_thread=True,
        status_code=200,
        summary="Reschedule an appointment",
        operation_id="rescheduleAppointment",
        opt={"raises": (Conflict,)},
    )
    def reschedule(
        self,
        appointment_id: AppointmentId,
        data: Annotated[
            Times, BodyParameter(examples=[Example(summary="Moved", value=EXAMPLE_TIMES)])
        ],
        principal: Principal,
        context: ApiContext,
    ) -> AppointmentOut:
        """Move a scheduled appointment to new times; a nudge about an open alert follows it.
        Who: an API key, the owner, or the client's clinician. Sending the times it already
        has changes nothing; a completed, cancelled or no-show appointment cannot be moved
        (409). Returns the appointment."""
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
        summary="Report an appointment completed, cancelled or a no-show",
        operation_id="reportAppointment",
        opt={"raises": (Conflict,)},
    )
    def transition(
        self,
        appointment_id: AppointmentId,
        action: ActionInPath,
        principal: Principal,
        context: ApiContext,
    ) -> AppointmentOut:
        """Report what happened to a scheduled appointment: `complete` (Attune then invites
        the client to the survey after the practice's survey delay), `cancel` or `no-show`.
        Who: an API key, the owner, or the client's clinician. No body. Reporting the state
        the appointment is already in changes nothing, so the call is safe to repeat; a
        different final state than the one reported before is a 409. An action other than
        the three is a 404. Returns the appointment."""
        known = check_action(action)
        return self._apply(
            context,
            principal,
            lambda s: appointments.get_appointment(s, principal, appointment_id),
            known,
        )

    @put(
        "/external/{external_id:str}",
        sync_to_thread=True,
        status_code=200,
        summary="Book or reschedule by the scheduling system's id",
        operation_id="putExternalAppointment",
        opt={"raises": (Invalid, Conflict)},
    )
    def upsert_external(
        self,
        external_id: ExternalId,
        data: Annotated[
            ExternalAppointment,
            BodyParameter(
                examples=[
                    Example(
                        summary="Book (or move) visit-20260309-0900",
                        value={"client_id": CLIENT_ID, **EXAMPLE_TIMES},
                    )
                ]
            ),
        ],
        principal: Principal,
        context: ApiContext,
    ) -> AppointmentOut:
        """The scheduling system's way to report a booking: create the appointment with this
        external id (1 to 120 characters), or, if it exists, move it to these times. Safe to
        send again: the same times change nothing. Who: an API key, the owner, or the
        client's clinician. An id already used for another client is a 409. Returns the
        appointment."""
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

    @get(
        "/external/{external_id:str}",
        sync_to_thread=True,
        summary="Read an appointment by the scheduling system's id",
        operation_id="readExternalAppointment",
    )
    def get_external(
        self, external_id: ExternalId, principal: Principal, context: ApiContext
    ) -> AppointmentOut:
        """The appointment the scheduling system booked with this external id. Who: an API
        key, the owner, or the client's clinician. The read is recorded in the audit log."""
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
        summary="Report an appointment by the scheduling system's id",
        operation_id="reportExternalAppointment",
        opt={"raises": (Invalid, Conflict)},
    )
    def transition_external(
        self,
        external_id: ExternalId,
        action: ActionInPath,
        principal: Principal,
        context: ApiContext,
    ) -> AppointmentOut:
        """As reporting by Attune's id: `complete`, `cancel` or `no-show`, addressed by the
        scheduling system's external id. No body; safe to repeat; returns the appointment."""
        _check_external_id(external_id)
        known = check_action(action)
        return self._apply(
            context,
            principal,
            lambda s: appointments.find_by_external_id(s, principal, external_id),
            known,
        )


def check_action(action: str) -> AppointmentAction:
    try:
        return AppointmentAction(action)
    except ValueError:
        raise NotFound(f"Unknown action {action!r}: use complete, cancel or no-show.") from None


def _check_external_id(external_id: str) -> None:
    if not 1 <= len(external_id) <= 120:
        raise Invalid("An external id has 1 to 120 characters.", field="external_id")
