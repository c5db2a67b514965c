"""A clinician's email preference: a nudge per alert, or one morning digest at their hour."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from pydantic import ValidationError

from services.api.context import ApiContext
from services.api.pages.rendering import PAGE, field_errors, page, see_other
from services.api.routes.email_choices import NudgePreferenceBody
from shared.access import Principal
from shared.accounts.service import get_clinician, list_accounts
from shared.errors import Invalid
from shared.models import Role
from shared.notifications import digests
from shared.pagination import every

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
ASKS = {
    "delivery": "Choose how you would like to hear about alerts.",
    "digest_hour": "Choose an hour from 00:00 to 23:00.",
}


def _whose(principal: Principal, clinician: UUID | None) -> UUID | None:
    """A clinician's own; the owner chooses a clinician (None: the owner has not yet)."""
    if principal.is_clinician:
        return principal.account_id
    return clinician


class PreferencePage(Controller):
    @get("/preferences", opt=PAGE, sync_to_thread=True)
    def preference(
        self,
        principal: Principal,
        context: ApiContext,
        clinician: UUID | None = None,
        saved: bool = False,
    ) -> Template:
        account_id = _whose(principal, clinician)
        with context.transaction(principal) as session:
            if account_id is None:
                clinicians = [
                    a
                    for a in every(lambda page: list_accounts(session, principal, page=page))
                    if a.role is Role.CLINICIAN
                ]
                return page(
                    "clinician/preferences.html",
                    principal=principal,
                    current="/preferences",
                    clinicians=clinicians,
                    account=None,
                )
            account = get_clinician(session, principal, account_id)
            found = digests.nudge_preference(session, principal, account.id)
        return page(
            "clinician/preferences.html",
            principal=principal,
            current="/preferences",
            account=account,
            delivery=found.delivery.value,
            digest_hour=str(found.digest_hour),
            errors={},
            saved=saved,
        )

    @post("/preferences", opt=PAGE, sync_to_thread=True)
    def save(
        self,
        principal: Principal,
        context: ApiContext,
        data: Annotated[dict[str, Any], FORM],
    ) -> Template | Redirect:
        """Validated by the JSON route's own body model; saved by the same domain function."""
        raw_clinician = str(data.get("clinician", ""))
        delivery, hour = str(data.get("delivery", "")), str(data.get("digest_hour", "7"))
        with context.transaction(principal) as session:
            try:
                chosen = UUID(raw_clinician) if raw_clinician else None
            except ValueError:
                chosen = None
            account_id = _whose(principal, chosen)
            if account_id is None:
                raise Invalid("Choose whose email preference to change.", field="clinician")
            account = get_clinician(session, principal, account_id)
            try:
                form = NudgePreferenceBody(delivery=delivery, digest_hour=hour)
            except ValidationError as error:
                problems = field_errors(error, NudgePreferenceBody, ASKS)
                return page(
                    "clinician/preferences.html",
                    principal=principal,
                    current="/preferences",
                    status=422,
                    account=account,
                    delivery=delivery,
                    digest_hour=hour,
                    errors=problems,
                    saved=False,
                )
            digests.set_nudge_preference(
                session,
                principal,
                account.id,
                delivery=form.delivery,
                digest_hour=form.digest_hour,
                now=context.clock.now(),
            )
        suffix = f"&clinician={account.id}" if principal.is_owner else ""
        return see_other(f"/preferences?saved=true{suffix}")
