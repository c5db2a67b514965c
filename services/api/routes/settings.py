from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, patch, post, put
from litestar.openapi.spec import Example
from litestar.params import Body as BodyParameter
from pydantic import Field

from services.api.auth import owner_only, people_only
from services.api.context import ApiContext
from services.api.schemas import Body, Out
from shared.access import Principal
from shared.detection.replay import AlertCounts
from shared.practice import service as practices
from shared.practice.preview import MAX_PREVIEW_DAYS, preview_settings
from shared.practice.settings import DipRules, PracticeSettings


class SettingsOut(Out):
    """The practice's settings and their version."""

    version: int = Field(description="Counts up by one with each saved change.")
    settings: PracticeSettings = Field(description="The settings document.")


class SettingsVersionOut(Out):
    """One saved version of the settings."""

    version: int = Field(description="The version number.")
    body: dict[str, Any] = Field(description="The settings document as saved.")
    created_by: UUID | None = Field(description="Who saved it; null for the first version.")
    created_by_name: str | None = Field(description="Their name.")
    created_at: datetime = Field(description="When it was saved.")
    changes: list[str] = Field(
        description="What differs from the version before, in words, e.g. "
        "'Low overall floor: 4.0 → 4.2'; empty for the first version."
    )


class PreviewIn(Body):
    """Settings to try against the practice's recent answers, without saving them."""

    settings: PracticeSettings = Field(description="The candidate settings, a whole document.")
    days: int = Field(
        default=30,
        ge=1,
        le=MAX_PREVIEW_DAYS,
        description=f"How many past days of answers to replay, 1 to {MAX_PREVIEW_DAYS}. "
        "Default 30.",
    )
    typical_cohort: bool = Field(
        default=False,
        description=(
            "Also replay both settings over a typical simulated cohort (8 clinicians, 200 "
            "clients, 16 weeks), so a practice with no answers yet sees what they would raise."
        ),
    )


class AlertCountsOut(Out):
    """How many alerts one set of settings would have raised."""

    alerts: int = Field(description="Alerts in all.")
    by_rule: dict[str, int] = Field(
        description="Alerts per rule (a key of the settings' rules); an alert several rules "
        "flagged counts under each."
    )

    @classmethod
    def of(cls, counts: AlertCounts) -> AlertCountsOut:
        return cls(
            alerts=counts.alerts,
            by_rule={rule: counts.by_rule[rule] for rule in DipRules.model_fields},
        )


class ClinicianPreviewOut(Out):
    """One clinician's share of the preview."""

    clinician_id: UUID = Field(description="The clinician.")
    name: str = Field(description="Their name.")
    current: int = Field(description="Alerts under the current settings.")
    candidate: int = Field(description="Alerts under the candidate settings.")


class CohortReplayOut(Out):
    """What one set of settings raises on the simulated cohort, scored against the ruptures
    the simulation planted."""

    alerts: int = Field(description="Alerts in all.")
    by_rule: dict[str, int] = Field(description="Alerts per rule.")
    alerts_per_clinician_week: float = Field(description="The alert load on a clinician.")
    ruptures_found: float = Field(description="The share of planted ruptures found, 0 to 1.")
    sessions_to_detection: float | None = Field(
        description="How many sessions after a rupture began it was found, on average; null "
        "if none was found."
    )
    false_alarms_per_100: float = Field(
        description="Alerts on rupture-free sessions, per 100 such sessions."
    )


class TypicalCohortOut(Out):
    """Both settings replayed over the same typical simulated cohort."""

    simulation: str = Field(
        default=(
            "A simulated cohort, not the practice's clients and not a clinical trial: see the "
            "README's tuning section for its assumptions."
        ),
        description="What the cohort is, in words.",
    )
    clinicians: int = Field(description="Simulated clinicians.")
    clients: int = Field(description="Simulated clients.")
    weeks: int = Field(description="Simulated weeks.")
    current: CohortReplayOut = Field(description="Under the current settings.")
    candidate: CohortReplayOut = Field(description="Under the candidate settings.")


class PreviewOut(Out):
    """What the current and the candidate settings would have raised over the window."""

    days: int = Field(description="The window's length in days.")
    window_start: datetime = Field(description="Its start.")
    window_end: datetime = Field(description="Its end: now.")
    answers: int = Field(description="Answers inside the window.")
    silences: int = Field(description="Surveys that closed unanswered inside the window.")
    raised: int = Field(
        description="Alerts actually raised inside the window, under the settings of the time."
    )
    current_version: int = Field(description="The current settings' version.")
    current: AlertCountsOut = Field(description="Under the current settings.")
    candidate: AlertCountsOut = Field(description="Under the candidate settings.")
    by_clinician: list[ClinicianPreviewOut] = Field(description="The same, per clinician.")
    typical_cohort: TypicalCohortOut | None = Field(
        default=None, description="Only when asked for with typical_cohort."
    )


class SettingsController(Controller):
    path = "/api/v1/settings"
    tags = ["settings"]
    guards = [people_only]

    @get("/", sync_to_thread=True, summary="Read the settings", operation_id="readSettings")
    def current(self, principal: Principal, context: ApiContext) -> SettingsOut:
        """The practice's current settings document and its version number. Any signed-in
        owner or clinician; not for API keys."""
        with context.transaction(principal) as session:
            current = practices.read_settings(session, principal, now=context.clock.now())
            return SettingsOut(version=current.version, settings=current.settings)

    @put(
        "/",
        sync_to_thread=True,
        guards=[owner_only],
        summary="Replace the settings",
        operation_id="replaceSettings",
    )
    def replace(
        self, data: PracticeSettings, principal: Principal, context: ApiContext
    ) -> SettingsOut:
        """Replace the practice's settings with a whole document: every field, as GET returns
        them (a field left out is a 422 naming it; PATCH changes only some). The previous
        version is kept in the history. Saving the same settings again changes nothing.
        Owner only. Returns the saved settings and their version."""
        with context.transaction(principal) as session:
            current = practices.replace_settings(session, principal, data, now=context.clock.now())
            return SettingsOut(version=current.version, settings=current.settings)

    @patch(
        "/",
        sync_to_thread=True,
        guards=[owner_only],
        summary="Change some settings",
        operation_id="changeSettings",
    )
    def change(
        self,
        data: Annotated[
            dict[str, Any],
            BodyParameter(
                description="Only the fields to change, shaped like the settings document "
                "(PracticeSettings).",
                examples=[
                    Example(
                        summary="Raise the low-overall floor and send one reminder",
                        value={
                            "rules": {"low_overall": {"floor": 4.2}},
                            "timing": {"reminder_after_hours": 48},
                        },
                    ),
                    Example(
                        summary="Measure drops in the client's own spread",
                        value={"rules": {"drop": {"in_sd": 2, "prior_answers": 5}}},
                    ),
                    Example(
                        summary="Quiet hours from 20:00 to 07:30 on the client's clock",
                        value={"timing": {"quiet_hours": {"start": "20:00", "end": "07:30"}}},
                    ),
                ],
            ),
        ],
        principal: Principal,
        context: ApiContext,
    ) -> SettingsOut:
        """Change only the fields sent, e.g. `{"rules": {"low_overall": {"floor": 4.2}}}`: an
        object merges into the current one at any depth; any other value (a number, text, a
        list, null) replaces what was there. The result is validated as a whole document and
        saved as a new version; a PATCH that changes nothing makes no new version. Owner
        only. Returns the saved settings and their version."""
        with context.transaction(principal) as session:
            current = practices.change_settings(session, principal, data, now=context.clock.now())
            return SettingsOut(version=current.version, settings=current.settings)

    @get(
        "/history",
        sync_to_thread=True,
        guards=[owner_only],
        summary="Read the settings' history",
        operation_id="listSettingsVersions",
    )
    def history(self, principal: Principal, context: ApiContext) -> list[SettingsVersionOut]:
        """Every saved version of the settings, with who saved it, when, and what changed
        from the version before in words. Owner only."""
        with context.transaction(principal) as session:
            changes = practices.settings_history(session, principal, now=context.clock.now())
            return [
                SettingsVersionOut(
                    version=change.version.version,
                    body=change.version.body,
                    created_by=change.version.created_by,
                    created_by_name=change.author_name,
                    created_at=change.version.created_at,
                    changes=change.changes,
                )
                for change in changes
            ]

    @post(
        "/preview",
        sync_to_thread=True,
        guards=[owner_only],
        status_code=200,
        summary="Preview settings against recent answers",
        operation_id="previewSettings",
    )
    def preview(self, data: PreviewIn, principal: Principal, context: ApiContext) -> PreviewOut:
        """How many alerts the current and the candidate settings would have raised over the
        practice's last N days of answers, per rule and per clinician; with typical_cohort,
        also over a typical simulated cohort. Saves nothing and sends nothing, so it is
        safe to repeat. Owner only."""
        with context.transaction(principal) as session:
            preview = preview_settings(
                session,
                principal,
                data.settings,
                days=data.days,
                now=context.clock.now(),
                typical_cohort=data.typical_cohort,
            )
            return PreviewOut.model_validate(
                {
                    **vars(preview),
                    "current": AlertCountsOut.of(preview.current),
                    "candidate": AlertCountsOut.of(preview.candidate),
                    "by_clinician": [vars(row) for row in preview.by_clinician],
                    "typical_cohort": None
                    if preview.typical_cohort is None
                    else {
                        **vars(preview.typical_cohort),
                        "current": vars(preview.typical_cohort.current),
                        "candidate": vars(preview.typical_cohort.candidate),
                    },
                }
            )
