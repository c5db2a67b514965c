"""A clinician's pages. (Scaffold from the web foundation: the clinician pages' work fills
this in.)"""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from services.api.auth import people_only
from services.api.pages.rendering import PAGE, page
from shared.access import Principal


class ClinicianPages(Controller):
    tags = ["pages"]
    include_in_schema = False
    guards = [people_only]

    @get("/sessions", opt=PAGE)
    async def before_your_sessions(self, principal: Principal) -> Template:
        return page("clinician/sessions.html", principal=principal, current="/sessions")
