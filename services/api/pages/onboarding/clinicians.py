"""The owner's clinicians: add (with an emailed invitation), invite again, deactivate and
reactivate. Each goes through the same domain function as its JSON route, and is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.response import Redirect, Template
from pydantic import ValidationError
from sqlmodel import Session

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pages.onboarding.forms import FORM, moments, notice_of, text, time_zones
from services.api.pages.rendering import PAGE, field_errors, page, see_other
from services.api.routes.accounts import NewClinician
from shared.access import Principal
from shared.accounts import links
from shared.accounts import service as accounts
from shared.errors import DomainError
from shared.models import Account, AccountLink, Role
from shared.pagination import every
from shared.practice.service import current_settings

FIELDS = ("name", "email", "timezone")
ASKS = {
    "name": "Enter their name, up to 120 characters.",
    "timezone": "Choose a time zone from the list.",
}
NOTICES = {
    "invited": "Added. An invitation to choose a password is on its way to them.",
    "invitation-sent": "A new invitation is on its way. Earlier links no longer work.",
    "deactivated": "Deactivated: they are signed out and cannot sign in. Their clients and "
    "history stay.",
    "reactivated": "Reactivated: they can sign in again with their password.",
}


@dataclass(frozen=True)
class RosterEntry:
    account: Account
    standing: str  # in words, for the table
    can_invite: bool
    active: bool


def standing(account: Account, invitation: AccountLink | None, now: datetime) -> RosterEntry:
    """Where a clinician's account stands, from its own columns and newest invitation."""
    if account.deactivated_at is not None:
        return RosterEntry(account, "Deactivated", can_invite=False, active=False)
    if account.password_hash is not None:
        return RosterEntry(account, "Active", can_invite=False, active=True)
    if invitation is not None and invitation.used_at is None and invitation.expires_at > now:
        return RosterEntry(account, "Invited, not accepted yet", can_invite=True, active=True)
    return RosterEntry(account, "Invitation expired", can_invite=True, active=True)


def _roster(session: Session, principal: Principal, now: datetime) -> list[RosterEntry]:
    everyone = every(lambda page: accounts.list_accounts(session, principal, page=page))
    clinicians = [a for a in everyone if a.role is Role.CLINICIAN]
    newest = links.latest_invitations(session, [a.id for a in clinicians])
    return [standing(a, newest.get(a.id), now) for a in clinicians]


def _page(
    context: ApiContext,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    with context.transaction(principal) as session:
        zone = current_settings(session, principal.practice_id).settings.timezone
        roster = _roster(session, principal, context.clock.now())
    return page(
        "onboarding/clinicians.html",
        principal=principal,
        current="/practice/clinicians",
        status=status,
        roster=roster,
        values=values or {"timezone": zone},
        errors=errors or {},
        zones=time_zones(),
        notice=notice,
        when=moments(zone),
    )


class ClinicianRosterPages(Controller):
    path = "/practice/clinicians"
    tags = ["pages"]
    include_in_schema = False
    guards = [owner_only]

    @get("/", opt=PAGE, sync_to_thread=True)
    def roster(
        self, principal: Principal, context: ApiContext, notice: str | None = None
    ) -> Template:
        return _page(context, principal, notice=notice_of(notice, NOTICES))

    @post("/", opt=PAGE, sync_to_thread=True)
    def add(
        self, data: Annotated[dict[str, Any], FORM], principal: Principal, context: ApiContext
    ) -> Template | Redirect:
        """Add a clinician and email them an invitation to choose their own password."""
        values = {name: text(data, name) for name in FIELDS}
        try:
            form = NewClinician(**values)
        except ValidationError as error:
            return _page(
                context,
                principal,
                values=values,
                errors=field_errors(error, NewClinician, ASKS),
                status=422,
            )
        try:
            with context.transaction(principal) as session:
                now = context.clock.now()
                account = accounts.add_clinician(
                    session,
                    principal,
                    email=form.email,
                    name=form.name,
                    timezone=form.timezone,
                    password=None,
                    now=now,
                )
                session.flush()
                links.invite_clinician(
                    session,
                    principal,
                    account.id,
                    now=now,
                    lifetime=context.settings.invitation_lifetime,
                )
        except DomainError as refused:
            errors = {refused.field or "form": refused.message}
            return _page(
                context, principal, values=values, errors=errors, status=refused.status_code
            )
        return see_other("/practice/clinicians?notice=invited")

    @post("/{clinician_id:uuid}/invitation", opt=PAGE, sync_to_thread=True)
    def invite_again(
        self, clinician_id: UUID, principal: Principal, context: ApiContext
    ) -> Redirect:
        with context.transaction(principal) as session:
            links.invite_clinician(
                session,
                principal,
                clinician_id,
                now=context.clock.now(),
                lifetime=context.settings.invitation_lifetime,
            )
        return see_other("/practice/clinicians?notice=invitation-sent")

    @post("/{clinician_id:uuid}/deactivate", opt=PAGE, sync_to_thread=True)
    def deactivate(self, clinician_id: UUID, principal: Principal, context: ApiContext) -> Redirect:
        with context.transaction(principal) as session:
            accounts.deactivate_clinician(session, principal, clinician_id, now=context.clock.now())
        return see_other("/practice/clinicians?notice=deactivated")

    @post("/{clinician_id:uuid}/reactivate", opt=PAGE, sync_to_thread=True)
    def reactivate(self, clinician_id: UUID, principal: Principal, context: ApiContext) -> Redirect:
        with context.transaction(principal) as session:
            accounts.reactivate_clinician(session, principal, clinician_id, now=context.clock.now())
        return see_other("/practice/clinicians?notice=reactivated")
