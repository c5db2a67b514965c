"""/practice/settings: the owner's settings form with "Preview" and "Save", and
/practice/settings/history. The same domain calls as PUT /api/v1/settings,
POST /api/v1/settings/preview and GET /api/v1/settings/history; the preview is validated by
the JSON route's own body model, and saving by PracticeSettings."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from pydantic import ValidationError

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pages.practice import settings_form as form
from services.api.pages.rendering import PAGE, field_errors, page, see_other
from services.api.routes.settings import PreviewIn
from shared.access import Principal
from shared.practice import service as practices
from shared.practice.preview import SettingsPreview, preview_settings
from shared.practice.settings import PracticeSettings

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
DEFAULT_PREVIEW_DAYS = 30
# The page's own words for what pydantic's pattern alone would leave unexplained.
ASKS = {
    f"custom_items.{row}.key": "Use 2 to 32 lowercase letters, digits or underscores, "
    "starting with a letter."
    for row in range(form.MAX_CUSTOM_ITEMS)
}


def _settings_page(
    principal: Principal,
    *,
    version: int,
    saved: PracticeSettings,
    values: form.FormValues,
    explained_by: PracticeSettings,
    days: str,
    errors: dict[str, str] | None = None,
    preview: SettingsPreview | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    return page(
        "owner/settings.html",
        principal=principal,
        current="/practice/settings",
        status=status,
        version=version,
        values=values,
        rules=form.RULES,
        timing=form.TIMING,
        sender=form.SENDER,
        bank=form.BANK,
        moves=form.MOVE_CHOICES,
        explained_by=explained_by,
        saved=saved,
        days=days,
        errors=errors or {},
        preview=preview,
        rule_titles={rule.name: rule.title for rule in form.RULES},
        notice=notice,
        field_name=form.label_of,
    )


class SettingsPages(Controller):
    path = "/practice/settings"
    tags = ["pages"]
    include_in_schema = False
    guards = [owner_only]

    @get("/", opt=PAGE, sync_to_thread=True)
    def settings(self, principal: Principal, context: ApiContext) -> Template:
        with context.transaction(principal) as session:
            current = practices.read_settings(session, principal, now=context.clock.now())
        return _settings_page(
            principal,
            version=current.version,
            saved=current.settings,
            values=form.values_of(current.settings),
            explained_by=current.settings,
            days=str(DEFAULT_PREVIEW_DAYS),
        )

    @post("/", opt=PAGE, sync_to_thread=True)
    def preview_or_save(
        self,
        principal: Principal,
        context: ApiContext,
        data: Annotated[dict[str, Any], FORM],
    ) -> Template | Redirect:
        """ "Preview" re-renders the form with the counts and saves nothing; "Save" makes a
        new version. Either way, a refused value is shown next to its field and everything
        else stays as typed."""
        values = form.typed_values(data)
        days = str(data.get("days", DEFAULT_PREVIEW_DAYS))[:10]
        now = context.clock.now()
        with context.transaction(principal) as session:
            current = practices.current_settings(session, principal.practice_id)
            document = form.settings_document(values, current.settings)

            def refused(errors: dict[str, str]) -> Template:
                return _settings_page(
                    principal,
                    version=current.version,
                    saved=current.settings,
                    values=values,
                    explained_by=current.settings,
                    days=days,
                    errors=errors,
                    status=422,
                )

            if data.get("action") == "preview":
                try:
                    asked = PreviewIn.model_validate({"settings": document, "days": days})
                except ValidationError as error:
                    return refused(
                        {
                            k.removeprefix("settings."): v
                            for k, v in field_errors(
                                error, PreviewIn, {f"settings.{k}": v for k, v in ASKS.items()}
                            ).items()
                        }
                    )
                found = preview_settings(
                    session, principal, asked.settings, days=asked.days, now=now
                )
                return _settings_page(
                    principal,
                    version=current.version,
                    saved=current.settings,
                    values=values,
                    explained_by=asked.settings,
                    days=days,
                    preview=found,
                )
            try:
                candidate = PracticeSettings.model_validate(document)
            except ValidationError as error:
                return refused(field_errors(error, PracticeSettings, ASKS))
            saved = practices.update_settings(session, principal, candidate, now=now)
        if saved.version == current.version:
            return see_other("/practice/settings/history?unchanged=1")
        return see_other(f"/practice/settings/history?saved={saved.version}")

    @get("/history", opt=PAGE, sync_to_thread=True)
    def history(
        self,
        principal: Principal,
        context: ApiContext,
        saved: int | None = None,
        unchanged: int | None = None,
    ) -> Template:
        with context.transaction(principal) as session:
            zone = practices.current_settings(session, principal.practice_id).settings.zone
            versions = practices.settings_history(session, principal, now=context.clock.now())
        notice = None
        if saved is not None:
            notice = f"Saved. Your settings are now version {saved}."
        elif unchanged:
            notice = "Nothing was different from the current settings, so nothing was saved."
        return page(
            "owner/settings_history.html",
            principal=principal,
            current="/practice/settings",
            versions=versions,
            zone=zone,
            notice=notice,
        )
