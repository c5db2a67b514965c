"""A clinician's pages (owners may open them too, scoped to the whole practice): before your
sessions, an alert, the clients, the email preference. A module per page."""

from __future__ import annotations

from litestar import Router

from services.api.auth import people_only
from services.api.pages.clinician.alert import AlertPage
from services.api.pages.clinician.clients import ClientPages
from services.api.pages.clinician.preferences import PreferencePage
from services.api.pages.clinician.sessions import SessionsPage

ClinicianPages = Router(
    path="/",
    route_handlers=[SessionsPage, AlertPage, ClientPages, PreferencePage],
    guards=[people_only],
    include_in_schema=False,
    tags=["pages"],
)
