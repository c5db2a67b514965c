"""The owner adds a client, and manages one: export everything held about them, erase them
(typed confirmation of the reference), and turn invitations back on after an opt-out (with a
reason). The actions are a partial, templates/owner/_client_actions.html, that the client's
page includes for an owner; /clients/{id}/manage shows it on its own, and a refused action
comes back there with the problem next to its field."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.response import Redirect, Template
from pydantic import ValidationError

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pages.onboarding.forms import FORM, moments, notice_of, text, time_zones
from services.api.pages.rendering import (
    PAGE,
    PAGE_HEADERS,
    field_errors,
    page,
    safe_next,
    see_other,
)
from services.api.routes.clients import NewClient
from shared.access import Principal
from shared.accounts import service as accounts
from shared.clients.service import add_client, get_client, read_client
from shared.errors import DomainError, NotFound
from shared.models import Role
from shared.pagination import every
from shared.practice.service import current_settings
from shared.privacy.erasure import confirm_erasure, erase_client
from shared.privacy.export import export_client
from shared.survey.opt_out import resume_invitations

FIELDS = ("reference", "email", "timezone", "clinician_id")
ASKS = {
    "reference": "Enter a reference of up to 40 letters, digits, dots, dashes or underscores, "
    "starting with a letter or digit.",
    "timezone": "Choose a time zone from the list.",
    "clinician_id": "Choose a clinician.",
}
NOTICES = {"resumed": "Invitations are on again for this client's future sessions."}


def _new_client_page(
    context: ApiContext,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    with context.transaction(principal) as session:
        zone = current_settings(session, principal.practice_id).settings.timezone
        clinicians = [
            a
            for a in every(lambda page: accounts.list_accounts(session, principal, page=page))
            if a.role is Role.CLINICIAN and a.deactivated_at is None
        ]
    return page(
        "owner/client_new.html",
        principal=principal,
        current="/clients",
        status=status,
        clinicians=clinicians,
        values=values or {"timezone": zone},
        errors=errors or {},
        zones=time_zones(),
    )


def _manage_page(
    context: ApiContext,
    principal: Principal,
    client_id: UUID,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    with context.transaction(principal) as session:
        zone = current_settings(session, principal.practice_id).settings.timezone
        client = read_client(session, principal, client_id, now=context.clock.now())
    return page(
        "owner/client_manage.html",
        principal=principal,
        current="/clients",
        status=status,
        client=client,
        errors=errors or {},
        typed=typed or {},
        notice=notice,
        back=f"/clients/{client_id}/manage",
        when=moments(zone),
    )


class ClientOwnerPages(Controller):
    path = "/clients"
    tags = ["pages"]
    include_in_schema = False
    guards = [owner_only]

    @get("/new", opt=PAGE, sync_to_thread=True)
    def new(self, principal: Principal, context: ApiContext) -> Template:
        return _new_client_page(context, principal)

    @post("/new", opt=PAGE, sync_to_thread=True)
    def add(
        self, data: Annotated[dict[str, Any], FORM], principal: Principal, context: ApiContext
    ) -> Template | Redirect:
        values = {name: text(data, name, 300) for name in FIELDS}
        try:
            form = NewClient(**{k: v.strip() for k, v in values.items() if v.strip()})
        except ValidationError as error:
            return _new_client_page(
                context,
                principal,
                values=values,
                errors=field_errors(error, NewClient, ASKS),
                status=422,
            )
        try:
            with context.transaction(principal) as session:
                client_id = add_client(
                    session,
                    principal,
                    email=form.email,
                    reference=form.reference,
                    timezone=form.timezone,
                    clinician_id=form.clinician_id,
                    now=context.clock.now(),
                ).id
        except DomainError as refused:
            # No clinician chosen (or one not in the practice) is a form to correct, not a
            # missing page; a taken reference stays a 409.
            return _new_client_page(
                context,
                principal,
                values=values,
                errors={refused.field or "form": refused.message},
                status=422 if isinstance(refused, NotFound) else refused.status_code,
            )
        return see_other(f"/clients/{client_id}")

    @get("/{client_id:uuid}/manage", opt=PAGE, sync_to_thread=True)
    def manage(
        self,
        client_id: UUID,
        principal: Principal,
        context: ApiContext,
        notice: str | None = None,
    ) -> Template:
        return _manage_page(context, principal, client_id, notice=notice_of(notice, NOTICES))

    @get("/{client_id:uuid}/export", opt=PAGE, sync_to_thread=True)
    def export(self, client_id: UUID, principal: Principal, context: ApiContext) -> Response[bytes]:
        """Everything held about the client, as a JSON file to hand to them (a subject
        access request): the same export as GET /api/v1/clients/{id}/export."""
        with context.transaction(principal) as session:
            exported = export_client(session, principal, client_id, now=context.clock.now())
            reference = get_client(session, principal, client_id).reference
        return Response(
            json.dumps(exported, indent=2, default=str).encode(),
            media_type="application/json",
            headers={
                **PAGE_HEADERS,
                "Content-Disposition": f'attachment; filename="attune-{reference}.json"',
            },
        )

    @post("/{client_id:uuid}/resume-invitations", opt=PAGE, sync_to_thread=True)
    def resume(
        self,
        client_id: UUID,
        data: Annotated[dict[str, Any], FORM],
        principal: Principal,
        context: ApiContext,
    ) -> Template | Redirect:
        reason = text(data, "reason", 2000)
        try:
            with context.transaction(principal) as session:
                resume_invitations(
                    session, principal, client_id, reason=reason, now=context.clock.now()
                )
        except DomainError as refused:
            if refused.field != "reason":
                raise
            return _manage_page(
                context,
                principal,
                client_id,
                errors={"reason": refused.message},
                typed={"reason": reason},
                status=refused.status_code,
            )
        back = safe_next(text(data, "back", 300), f"/clients/{client_id}/manage")
        return see_other(f"{back}{'&' if '?' in back else '?'}notice=resumed")

    @post("/{client_id:uuid}/erase", opt=PAGE, sync_to_thread=True)
    def erase(
        self,
        client_id: UUID,
        data: Annotated[dict[str, Any], FORM],
        principal: Principal,
        context: ApiContext,
    ) -> Template:
        """Erase after the owner typed the client's reference. The answer is the result
        itself: the client is gone, so there is no page of theirs to go back to."""
        typed = text(data, "confirm", 100)
        try:
            with context.transaction(principal) as session:
                client = get_client(session, principal, client_id)
                reference = client.reference
                confirm_erasure(reference, typed)
                erased = erase_client(session, principal, client_id, now=context.clock.now())
        except DomainError as refused:
            if refused.field != "confirm":
                raise
            return _manage_page(
                context,
                principal,
                client_id,
                errors={"confirm": refused.message},
                typed={"confirm": typed},
                status=refused.status_code,
            )
        return page(
            "owner/client_erased.html",
            principal=principal,
            current="/clients",
            reference=reference,
            erased=erased,
        )
