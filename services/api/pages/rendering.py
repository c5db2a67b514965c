"""What every page handler uses: the page marker, the layout's navigation and the response."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from litestar.response import Redirect, Template
from pydantic import BaseModel, ValidationError

from services.api.pages.plain_words import plain_words
from shared.access import Principal

# A handler's opt: errors render as HTML pages, a signed-out visitor goes to sign-in.
PAGE: dict[str, Any] = {"page": True}
PUBLIC_PAGE: dict[str, Any] = {"page": True, "public": True}

# Nothing a page shows may linger in a shared browser's or proxy's cache.
PAGE_HEADERS = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str


CLINICIAN_NAV = (
    NavLink("/sessions", "Before your sessions"),
    NavLink("/clients", "Clients"),
    NavLink("/appointments/new", "Add an appointment"),
    NavLink("/preferences", "Email preference"),
)
OWNER_NAV = (
    NavLink("/practice", "Figures"),
    NavLink("/practice/settings", "Settings"),
    NavLink("/practice/clinicians", "Clinicians"),
    NavLink("/clients", "Clients"),
    NavLink("/practice/api-keys", "API keys"),
    NavLink("/practice/emails", "Emails"),
    NavLink("/practice/audit", "Audit log"),
    NavLink("/welcome", "Getting started"),
)


def home_of(principal: Principal) -> str:
    return "/practice" if principal.is_owner else "/sessions"


def nav_of(principal: Principal | None) -> tuple[NavLink, ...]:
    if principal is None or principal.is_scheduling_system:
        return ()
    return OWNER_NAV if principal.is_owner else CLINICIAN_NAV


def page(
    template: str,
    *,
    principal: Principal | None,
    current: str = "",
    status: int = 200,
    **context: Any,
) -> Template:
    """A page in the signed-in layout. `current` is the nav link to mark as this page."""
    return Template(
        template_name=template,
        context={"nav": nav_of(principal), "current": current, "principal": principal, **context},
        status_code=status,
        headers=PAGE_HEADERS,
    )


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: only a path on this site (an absolute URL or `//host`
    in `next` would make the sign-in page an open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target:
        return default
    return target


def to_sign_in(path_and_query: str) -> Redirect:
    return Redirect(f"/login?next={quote(path_and_query, safe='')}", status_code=303)


def see_other(path: str) -> Redirect:
    """After a successful form post: the browser loads the result with a GET, so a reload
    does not post the form again."""
    return Redirect(path, status_code=303)


def field_errors(
    error: ValidationError,
    form: type[BaseModel] | None = None,
    asks: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A refused form's problems by field name (dotted for nested fields), in plain words to
    show next to each field, never pydantic's own (see plain_words). `form` is the model that
    refused, whose numbers' bounds the words name; `asks` has a page's own sentence for a
    field ("Choose a client."), shown whatever its problem."""
    problems: dict[str, str] = {}
    for entry in error.errors():
        field = ".".join(str(part) for part in entry["loc"])
        asked = (asks or {}).get(field)
        problems.setdefault(field, asked or plain_words(entry, form))
    return problems
