"""The owner's API keys for the scheduling system: create (the key is shown once), revoke,
and when each was last used; with the calls a scheduling system makes."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.response import Redirect, Template
from pydantic import ValidationError

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pages.onboarding.forms import FORM, moments, notice_of, text
from services.api.pages.rendering import PAGE, field_errors, page, see_other
from services.api.routes.api_keys import NewApiKey
from shared.access import Principal
from shared.accounts import service as accounts
from shared.pagination import every
from shared.practice.service import current_settings

ASKS = {"name": "Enter a name for the key, up to 80 characters."}
NOTICES = {"revoked": "Revoked. Calls with that key are refused from now on."}


def _page(
    context: ApiContext,
    principal: Principal,
    *,
    name: str = "",
    errors: dict[str, str] | None = None,
    new_key: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    with context.transaction(principal) as session:
        zone = current_settings(session, principal.practice_id).settings.timezone
        now = context.clock.now()
        keys = every(lambda page: accounts.list_api_keys(session, principal, now=now, page=page))
    return page(
        "onboarding/api_keys.html",
        principal=principal,
        current="/practice/api-keys",
        status=status,
        keys=list(reversed(keys)),  # newest first
        name=name,
        errors=errors or {},
        new_key=new_key,
        notice=notice,
        when=moments(zone),
        base_url=context.settings.base_url.rstrip("/"),
    )


class ApiKeyPages(Controller):
    path = "/practice/api-keys"
    tags = ["pages"]
    include_in_schema = False
    guards = [owner_only]

    @get("/", opt=PAGE, sync_to_thread=True)
    def index(
        self, principal: Principal, context: ApiContext, notice: str | None = None
    ) -> Template:
        return _page(context, principal, notice=notice_of(notice, NOTICES))

    @post("/", opt=PAGE, sync_to_thread=True, status_code=201)
    def create(
        self, data: Annotated[dict[str, Any], FORM], principal: Principal, context: ApiContext
    ) -> Template:
        """The answer shows the key itself, once: only its hash is kept, so there is no page
        to redirect to that could show it again."""
        name = text(data, "name", 200)
        try:
            form = NewApiKey(name=name.strip())
        except ValidationError as error:
            return _page(
                context,
                principal,
                name=name,
                errors=field_errors(error, NewApiKey, ASKS),
                status=422,
            )
        with context.transaction(principal) as session:
            raw, _ = accounts.create_api_key(
                session, principal, name=form.name, now=context.clock.now()
            )
        return _page(context, principal, new_key=raw, status=201)

    @post("/{key_id:uuid}/revoke", opt=PAGE, sync_to_thread=True)
    def revoke(self, key_id: UUID, principal: Principal, context: ApiContext) -> Redirect:
        with context.transaction(principal) as session:
            accounts.revoke_api_key(session, principal, key_id, now=context.clock.now())
        return see_other("/practice/api-keys?notice=revoked")
