"""Who gets which emails: the practice's notification log, a client's opt-out (turned back on
only by the owner, with a reason), and a clinician's choice of nudge or morning digest."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from pydantic import Field

from services.api.auth import people_only
from services.api.context import ApiContext
from services.api.pagination import PAGE_HEADERS, paged
from services.api.path_ids import ClientId, ClinicianId
from services.api.routes.clients import ClientOut
from services.api.schemas import Body, Out
from shared.access import Principal
from shared.errors import Conflict, Forbidden
from shared.models import NotificationKind, NotificationStatus, NudgeDelivery
from shared.notifications import digests
from shared.notifications.listing import list_notifications
from shared.pagination import PageRequest
from shared.survey import opt_out


class NotificationOut(Out):
    """One email Attune sends or sent; no address, name or content."""

    id: UUID = Field(description="Attune's id for the email.")
    kind: NotificationKind = Field(description="Which email it is.")
    subject_id: UUID = Field(
        description="What it is about: the invitation, nudge, digest or link it carries."
    )
    status: NotificationStatus = Field(description="Where it is in its delivery.")
    attempts: int = Field(description="How many times sending was tried.")
    created_at: datetime = Field(description="When it was queued.")
    next_attempt_at: datetime = Field(description="When it is (or was) next tried.")
    sent_at: datetime | None = Field(description="When the mail server accepted it.")
    message_id: str | None = Field(description="Its Message-ID header, to trace it in mail logs.")
    last_error: str | None = Field(
        description="Why the last attempt failed (a permanent refusal, or a transient one "
        "that will be retried); addresses are masked."
    )


class NotificationController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    guards = [people_only]

    @get(
        "/",
        sync_to_thread=True,
        response_headers=PAGE_HEADERS,
        summary="List the practice's emails",
        operation_id="listNotifications",
    )
    def index(
        self,
        request: Request,
        principal: Principal,
        context: ApiContext,
        page: PageRequest,
        status: NotificationStatus | None = None,
        kind: NotificationKind | None = None,
    ) -> Response[list[NotificationOut]]:
        """The practice's emails, newest first, a page at a time (see the Link header):
        status, attempts, Message-ID, and the reason of a failure. Owner only."""
        with context.transaction(principal) as session:
            found = list_notifications(session, principal, status=status, kind=kind, page=page)
            return paged(request, found, [NotificationOut.model_validate(n) for n in found.items])


class ResumeInvitations(Body):
    """Why a client who opted out gets survey invitations again."""

    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why invitations are turned back on, e.g. what the client asked for.",
    )


class OptOutChangeOut(Out):
    """A client's opt-out, or the owner turning their invitations back on."""

    opted_out: bool = Field(description="true: the client opted out; false: resumed.")
    changed_by: UUID | None = Field(description="None: the client, through the email's link.")
    reason: str | None = Field(description="Why invitations were resumed.")
    changed_at: datetime = Field(description="When.")


class OptOutController(Controller):
    path = "/api/v1/clients/{client_id:uuid}/invitations"
    tags = ["clients"]
    guards = [people_only]

    @post(
        "/resume",
        sync_to_thread=True,
        status_code=200,
        summary="Resume a client's invitations",
        operation_id="resumeInvitations",
        opt={"raises": (Forbidden, Conflict)},
    )
    def resume(
        self,
        client_id: ClientId,
        data: ResumeInvitations,
        principal: Principal,
        context: ApiContext,
    ) -> ClientOut:
        """Send survey invitations again after a client opted out, recording the reason
        (e.g. the client asked for it). Owner only. Returns the client."""
        with context.transaction(principal) as session:
            client = opt_out.resume_invitations(
                session, principal, client_id, reason=data.reason, now=context.clock.now()
            )
            return ClientOut.model_validate(client)

    @get(
        "/history",
        sync_to_thread=True,
        summary="Read a client's opt-out history",
        operation_id="listOptOutChanges",
    )
    def history(
        self, client_id: ClientId, principal: Principal, context: ApiContext
    ) -> list[OptOutChangeOut]:
        """Every opt-out and every resumption, oldest first, with who and why. Who: the
        owner or the client's clinician."""
        with context.transaction(principal) as session:
            changes = opt_out.opt_out_history(
                session, principal, client_id, now=context.clock.now()
            )
            return [OptOutChangeOut.model_validate(c) for c in changes]


class NudgePreferenceBody(Body):
    """How a clinician hears about alerts before their sessions."""

    delivery: NudgeDelivery = Field(description="A nudge per alert, or one morning digest.")
    digest_hour: int = Field(
        default=7,
        ge=0,
        le=23,
        description="The hour of the morning digest, 0 to 23, on the clinician's own clock. "
        "Default 7.",
    )


class NudgePreferenceOut(Out):
    """How a clinician hears about alerts before their sessions."""

    delivery: NudgeDelivery = Field(description="A nudge per alert, or one morning digest.")
    digest_hour: int = Field(description="The digest's hour, 0 to 23, on their own clock.")
    updated_at: datetime | None = Field(description="When it was last set; null: never.")
    updated_by: UUID | None = Field(description="Who set it.")


class NudgePreferenceController(Controller):
    path = "/api/v1/clinicians/{account_id:uuid}/nudge-preference"
    tags = ["clinicians"]
    guards = [people_only]

    @get(
        "/",
        sync_to_thread=True,
        summary="Read a clinician's nudge preference",
        operation_id="readNudgePreference",
    )
    def read(
        self, account_id: ClinicianId, principal: Principal, context: ApiContext
    ) -> NudgePreferenceOut:
        """Whether the clinician gets a nudge per alert or a morning digest. A clinician
        reads their own; the owner anyone's."""
        with context.transaction(principal) as session:
            found = digests.nudge_preference(session, principal, account_id)
            return NudgePreferenceOut.model_validate(found)

    @put(
        "/",
        sync_to_thread=True,
        summary="Set a clinician's nudge preference",
        operation_id="setNudgePreference",
    )
    def update(
        self,
        account_id: ClinicianId,
        data: NudgePreferenceBody,
        principal: Principal,
        context: ApiContext,
    ) -> NudgePreferenceOut:
        """A nudge per alert, or one digest each morning at digest_hour in the clinician's own
        time zone. A clinician sets their own; the owner anyone's. Sending the same choice
        again changes nothing. Returns the saved preference."""
        with context.transaction(principal) as session:
            saved = digests.set_nudge_preference(
                session,
                principal,
                account_id,
                delivery=data.delivery,
                digest_hour=data.digest_hour,
                now=context.clock.now(),
            )
            return NudgePreferenceOut.model_validate(saved)
