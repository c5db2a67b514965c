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
    id: UUID
    kind: NotificationKind
    subject_id: UUID
    status: NotificationStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    message_id: str | None
    last_error: str | None = Field(
        description="Why the last attempt failed (a permanent refusal, or a transient one "
        "that will be retried); addresses are masked."
    )


class NotificationController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    guards = [people_only]

    @get("/", sync_to_thread=True, response_headers=PAGE_HEADERS)
    def index(
        self,
        request: Request,
        principal: Principal,
        context: ApiContext,
        page: PageRequest,
        status: NotificationStatus | None = None,
        kind: NotificationKind | None = None,
    ) -> Response[list[NotificationOut]]:
        """The practice's emails, newest first (owner only): status, attempts, Message-ID,
        and the reason of a failure."""
        with context.transaction(principal) as session:
            found = list_notifications(session, principal, status=status, kind=kind, page=page)
            return paged(request, found, [NotificationOut.model_validate(n) for n in found.items])


class ResumeInvitations(Body):
    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why invitations are turned back on, e.g. what the client asked for.",
    )


class OptOutChangeOut(Out):
    opted_out: bool
    changed_by: UUID | None = Field(description="None: the client, through the email's link.")
    reason: str | None
    changed_at: datetime


class OptOutController(Controller):
    path = "/api/v1/clients/{client_id:uuid}/invitations"
    tags = ["clients"]
    guards = [people_only]

    @post("/resume", sync_to_thread=True, status_code=200, opt={"raises": (Forbidden, Conflict)})
    def resume(
        self, client_id: UUID, data: ResumeInvitations, principal: Principal, context: ApiContext
    ) -> ClientOut:
        """Owner only: send invitations again after a client opted out, with the reason."""
        with context.transaction(principal) as session:
            client = opt_out.resume_invitations(
                session, principal, client_id, reason=data.reason, now=context.clock.now()
            )
            return ClientOut.model_validate(client)

    @get("/history", sync_to_thread=True)
    def history(
        self, client_id: UUID, principal: Principal, context: ApiContext
    ) -> list[OptOutChangeOut]:
        """Every opt-out and every resumption, oldest first, with who and why."""
        with context.transaction(principal) as session:
            changes = opt_out.opt_out_history(
                session, principal, client_id, now=context.clock.now()
            )
            return [OptOutChangeOut.model_validate(c) for c in changes]


class NudgePreferenceBody(Body):
    delivery: NudgeDelivery
    digest_hour: int = Field(
        default=7, ge=0, le=23, description="Local hour of the morning digest."
    )


class NudgePreferenceOut(Out):
    delivery: NudgeDelivery
    digest_hour: int
    updated_at: datetime | None
    updated_by: UUID | None


class NudgePreferenceController(Controller):
    path = "/api/v1/clinicians/{account_id:uuid}/nudge-preference"
    tags = ["clinicians"]
    guards = [people_only]

    @get("/", sync_to_thread=True)
    def read(
        self, account_id: UUID, principal: Principal, context: ApiContext
    ) -> NudgePreferenceOut:
        with context.transaction(principal) as session:
            found = digests.nudge_preference(session, principal, account_id)
            return NudgePreferenceOut.model_validate(found)

    @put("/", sync_to_thread=True)
    def update(
        self,
        account_id: UUID,
        data: NudgePreferenceBody,
        principal: Principal,
        context: ApiContext,
    ) -> NudgePreferenceOut:
        """A nudge per alert, or one digest each morning at digest_hour in the clinician's own
        time zone. A clinician sets their own; the owner anyone's."""
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
