from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.openapi.spec import Example
from litestar.params import Body as BodyParameter
from litestar.params import Parameter
from pydantic import Field, computed_field

from services.api.auth import people_only
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.path_ids import AlertId
from services.api.schemas import Body, Out
from shared.access import Principal
from shared.alerts import service as alerts
from shared.alerts.wording import evidence_lines
from shared.models import AlertStatus, RepairOutcome
from shared.pagination import PageRequest
from shared.practice.service import current_settings
from shared.survey.moves import Move

NOTE_LIMIT = 2000


class AlertAddressed(Body):
    """How the clinician addressed the alert: the page's form and the JSON body alike."""

    move: Move = Field(description="The move used; the next answer's outcome counts for it.")
    note: str | None = Field(
        default=None,
        max_length=NOTE_LIMIT,
        description="A private note for the clinician's own record (encrypted at rest).",
    )


class AlertOut(Out):
    """A safety dip in one client's answers (or their silence), for their clinician."""

    id: UUID = Field(description="Attune's id for the alert.")
    client_id: UUID = Field(description="The client whose answer or silence raised it.")
    clinician_id: UUID = Field(description="The client's clinician, who is nudged about it.")
    target_appointment_id: UUID | None = Field(
        description="The client's next appointment, before which the clinician is nudged; "
        "null while none is booked (the alert is held)."
    )
    settings_version: int = Field(description="The settings version it was raised under.")
    evidence: list[dict[str, Any]] = Field(
        description="One entry per rule that fired: rule (a key of the settings' rules), "
        "items (the questions involved), numbers (the scores and thresholds it compared) "
        "and moves. GET .../evidence says the same in words."
    )
    moves: list[Move] = Field(description="The suggested moves, the most relational first.")
    status: AlertStatus = Field(description="open, or acknowledged once addressed.")
    created_at: datetime = Field(description="When it was raised.")
    acknowledged_at: datetime | None = Field(description="When it was marked addressed.")
    addressed_move: Move | None = Field(description="The move the clinician said they used.")
    addressed_note: str | None = Field(description="The clinician's private note.")
    repair_target: float | None = Field(
        description="The average the client's next answer must reach to count as repaired: "
        "their usual before this dip (or the low-overall floor when they had none yet)."
    )
    repair: RepairOutcome | None = Field(
        description="What the first answer after the nudged appointment showed; null until "
        "it comes."
    )
    repair_mean: float | None = Field(description="That answer's average score.")
    repair_at: datetime | None = Field(description="When that answer came.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def held(self) -> bool:
        """Open with no upcoming appointment to nudge before: waiting for a booking."""
        return self.status is AlertStatus.OPEN and self.target_appointment_id is None


class AlertController(Controller):
    path = "/api/v1/alerts"
    tags = ["alerts"]
    guards = [people_only]

    @get(
        "/",
        sync_to_thread=True,
        response_headers=PAGE_HEADERS,
        summary="List alerts",
        operation_id="listAlerts",
    )
    def index(
        self,
        request: Request,
        principal: Principal,
        context: ApiContext,
        page: PageRequest,
        status: Annotated[
            AlertStatus | None, Parameter(description="Only alerts with this status.")
        ] = None,
        clinician_id: Annotated[
            UUID | None, Parameter(description="Only this clinician's alerts.")
        ] = None,
        client_id: Annotated[
            UUID | None, Parameter(description="Only this client's alerts.")
        ] = None,
        held: Annotated[
            bool | None,
            Parameter(
                description="true: only open alerts waiting for a booking; false: only the others."
            ),
        ] = None,
    ) -> Response[list[AlertOut]]:
        """Alerts in the practice, newest first, a page at a time (see the Link header); the
        owner sees all, a clinician only their own; not for API keys. Filter by status,
        clinician or client.

        held=true lists the open alerts waiting for their client's next booking: no nudge
        goes out for them until one is made."""
        with context.transaction(principal) as session:
            found = alerts.list_alerts(
                session,
                principal,
                status=status,
                clinician_id=clinician_id,
                client_id=client_id,
                now=context.clock.now(),
                held=held,
                page=page,
            )
            return paged(request, found, [AlertOut.model_validate(a) for a in found.items])

    @get("/{alert_id:uuid}", sync_to_thread=True, summary="Read an alert", operation_id="readAlert")
    def read(self, alert_id: AlertId, principal: Principal, context: ApiContext) -> AlertOut:
        """One alert with its evidence (which rules fired, with their numbers), suggested
        moves and repair outcome. Who: the owner or the alert's clinician. The read is
        recorded in the audit log."""
        with context.transaction(principal) as session:
            alert = alerts.read_alert(session, principal, alert_id, now=context.clock.now())
            return AlertOut.model_validate(alert)

    @get(
        "/{alert_id:uuid}/evidence",
        sync_to_thread=True,
        summary="Read an alert's evidence in words",
        operation_id="readAlertEvidence",
    )
    def evidence(self, alert_id: AlertId, principal: Principal, context: ApiContext) -> list[str]:
        """The alert's evidence in plain words, as its page shows it, e.g. "Pace: 2 of 5,
        below your practice's floor of 3". Who: the owner or the alert's clinician."""
        with context.transaction(principal) as session:
            alert = alerts.read_alert(session, principal, alert_id, now=context.clock.now())
            items = current_settings(session, principal.practice_id).settings.known_items
            return evidence_lines(alert.evidence, {item.key: item for item in items})

    @post(
        "/{alert_id:uuid}/acknowledge",
        sync_to_thread=True,
        status_code=200,
        summary="Mark an alert addressed",
        operation_id="acknowledgeAlert",
    )
    def acknowledge(
        self,
        alert_id: AlertId,
        principal: Principal,
        context: ApiContext,
        data: Annotated[
            AlertAddressed | None,
            BodyParameter(
                examples=[
                    Example(
                        summary="Addressed by slowing the pace, with a note",
                        value={
                            "move": "slow_pace",
                            "note": "Checked in about pace; agreed to go slower next time.",
                        },
                    )
                ]
            ),
        ] = None,
    ) -> AlertOut:
        """Mark the alert as addressed, optionally with the move used (the client's next
        answer then counts for or against that move) and a private note. Who: the owner or
        the alert's clinician. No body is fine. Acknowledging twice changes nothing.
        Returns the alert."""
        with context.transaction(principal) as session:
            alert = alerts.acknowledge(
                session,
                principal,
                alert_id,
                now=context.clock.now(),
                move=data.move if data else None,
                note=data.note if data else None,
            )
            return AlertOut.model_validate(alert)
