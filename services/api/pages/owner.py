"""An owner's figures page, /practice: the practice's figures for a chosen period, overall and
per clinician, with charts by month and the repair rate per suggested move. The numbers come
from shared.reporting.service.practice_figures, the same call the JSON /api/v1/figures makes.
The owner's other pages live in services/api/pages/practice/."""

from __future__ import annotations

from datetime import date, timedelta

from litestar import Controller, get
from litestar.response import Template

from services.api.auth import owner_only
from services.api.context import ApiContext
from services.api.pages.practice.figure_charts import figure_charts, percent
from services.api.pages.rendering import PAGE, page
from shared.access import Principal
from shared.errors import Invalid
from shared.practice.service import current_settings
from shared.reporting.service import practice_figures
from shared.survey.moves import MOVE_TITLES, Move

DEFAULT_MONTHS = 6


def _default_range(today: date) -> tuple[date, date]:
    """The last six calendar months up to today: long enough to see a trend."""
    first = today.replace(day=1)
    for _ in range(DEFAULT_MONTHS - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, today


def _day(name: str, typed: str | None, default: date, errors: dict[str, str]) -> date:
    if not typed:
        return default
    try:
        return date.fromisoformat(typed)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD, e.g. 2026-03-01."
        return default


def move_title(move: str) -> str:
    return MOVE_TITLES[Move(move)] if move in Move.__members__.values() else move


class OwnerPages(Controller):
    path = "/practice"
    tags = ["pages"]
    include_in_schema = False
    guards = [owner_only]

    @get("/", opt=PAGE, sync_to_thread=True)
    def figures(
        self,
        principal: Principal,
        context: ApiContext,
        first_day: str | None = None,
        last_day: str | None = None,
    ) -> Template:
        errors: dict[str, str] = {}
        with context.transaction(principal) as session:
            zone = current_settings(session, principal.practice_id).settings.zone
            today = context.clock.now().astimezone(zone).date()
            default_first, default_last = _default_range(today)
            first = _day("first_day", first_day, default_first, errors)
            last = _day("last_day", last_day, default_last, errors)
            found = None
            if not errors:
                try:
                    found = practice_figures(session, principal, first_day=first, last_day=last)
                except Invalid as refused:
                    errors[refused.field or "first_day"] = refused.message
        return page(
            "owner/figures.html",
            principal=principal,
            current="/practice",
            status=422 if errors else 200,
            errors=errors,
            typed={
                "first_day": first_day or default_first.isoformat(),
                "last_day": last_day or default_last.isoformat(),
            },
            found=found,
            charts=figure_charts(found) if found else [],
            percent=percent,
            move_title=move_title,
        )
