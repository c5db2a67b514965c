from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, get, put

from services.api.auth import owner_only, people_only
from services.api.context import ApiContext
from services.api.schemas import Out
from shared.access import Principal
from shared.practice import service as practices
from shared.practice.settings import PracticeSettings


class SettingsOut(Out):
    version: int
    settings: PracticeSettings


class SettingsVersionOut(Out):
    version: int
    body: dict[str, Any]
    created_by: UUID | None
    created_at: datetime


class SettingsController(Controller):
    path = "/api/v1/settings"
    tags = ["settings"]
    guards = [people_only]

    @get("/", sync_to_thread=True)
    def current(self, principal: Principal, context: ApiContext) -> SettingsOut:
        with context.transaction(principal) as session:
            current = practices.read_settings(session, principal, now=context.clock.now())
            return SettingsOut(version=current.version, settings=current.settings)

    @put("/", sync_to_thread=True, guards=[owner_only])
    def replace(
        self, data: PracticeSettings, principal: Principal, context: ApiContext
    ) -> SettingsOut:
        """Replace the practice's settings; the previous version is kept in the history."""
        with context.transaction(principal) as session:
            current = practices.update_settings(session, principal, data, now=context.clock.now())
            return SettingsOut(version=current.version, settings=current.settings)

    @get("/history", sync_to_thread=True, guards=[owner_only])
    def history(self, principal: Principal, context: ApiContext) -> list[SettingsVersionOut]:
        with context.transaction(principal) as session:
            return [
                SettingsVersionOut.model_validate(v)
                for v in practices.settings_history(session, principal, now=context.clock.now())
            ]
