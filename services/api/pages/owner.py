"""An owner's pages. (Scaffold from the web foundation: the owner pages' work fills this in.)"""

from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from services.api.auth import owner_only
from services.api.pages.rendering import PAGE, page
from shared.access import Principal


class OwnerPages(Controller):
    path = "/practice"
    tags = ["pages"]
    include_in_schema = False
    guards = [owner_only]

    @get("/", opt=PAGE)
    async def figures(self, principal: Principal) -> Template:
        return page("owner/figures.html", principal=principal, current="/practice")
