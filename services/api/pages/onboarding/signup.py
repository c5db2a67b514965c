"""Signing up a new practice, and the first-run checklist it ends on."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.response import Redirect, Template
from pydantic import ValidationError

from services.api.auth import owner_only, session_cookies
from services.api.context import ApiContext
from services.api.pages.onboarding.forms import FORM, notice_of, text, time_zones
from services.api.pages.rendering import PAGE, PUBLIC_PAGE, field_errors, page
from services.api.routes.practices import SignUp, open_practice
from shared.access import Principal
from shared.errors import DomainError
from shared.practice.onboarding import checklist, setup_facts
from shared.practice.settings import DEFAULT_CRISIS_LINE

FIELDS = ("practice_name", "owner_name", "owner_email", "timezone", "crisis_line")
ASKS = {
    "practice_name": "Enter the practice's name, up to 120 characters.",
    "owner_name": "Enter your name, up to 120 characters.",
    "password": "Choose a password of 10 to 200 characters.",
    "timezone": "Choose a time zone from the list.",
    "crisis_line": "Enter the crisis line in 5 to 300 characters, or leave it empty for ours.",
}
NOTICES = {"new": "Your practice is set up and you are signed in. Here is what comes next."}


def _form(values: dict[str, str], errors: dict[str, str], status: int = 200) -> Template:
    return page(
        "onboarding/signup.html",
        principal=None,
        status=status,
        values=values,
        errors=errors,
        zones=time_zones(),
        default_crisis_line=DEFAULT_CRISIS_LINE,
    )


class SignUpPages(Controller):
    tags = ["pages"]
    include_in_schema = False

    @get("/signup", opt=PUBLIC_PAGE)
    async def sign_up_page(self) -> Template:
        return _form({"timezone": "UTC"}, {})

    @post("/signup", opt={**PUBLIC_PAGE, "rate_limit": "sign_up"}, sync_to_thread=True)
    def sign_up(
        self, data: Annotated[dict[str, Any], FORM], context: ApiContext
    ) -> Template | Redirect:
        """The same body model and the same function as POST /api/v1/practices; the owner is
        signed in and lands on the checklist."""
        values = {name: text(data, name) for name in FIELDS}
        try:
            form = SignUp(
                **{name: value for name, value in values.items() if name != "crisis_line"},
                password=text(data, "password", 300),
                crisis_line=" ".join(values["crisis_line"].split()) or None,
            )
        except ValidationError as error:
            return _form(values, field_errors(error, SignUp, ASKS), status=422)
        try:
            signed_up = open_practice(context, form)
        except DomainError as refused:
            return _form(values, {refused.field or "form": refused.message}, refused.status_code)
        cookies, _ = session_cookies(signed_up.token, context.settings)
        return Redirect("/welcome?notice=new", status_code=303, cookies=cookies)

    @get("/welcome", opt=PAGE, guards=[owner_only], sync_to_thread=True)
    def welcome(
        self, principal: Principal, context: ApiContext, notice: str | None = None
    ) -> Template:
        with context.transaction(principal) as session:
            steps = checklist(setup_facts(session, principal))
        return page(
            "onboarding/welcome.html",
            principal=principal,
            current="/welcome",
            steps=steps,
            remaining=sum(not step.done for step in steps),
            notice=notice_of(notice, NOTICES),
        )
