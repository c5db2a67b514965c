"""PUT is a whole settings document, PATCH changes part of it, and times of day are local.

A partial PUT used to answer 200 and reset everything it did not name (the practice's time
zone included); a quiet-hours time with a zone was stored and then broke every invitation.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from services.bootstrap import Stack
from tests.integration.test_bad_input import error_fields, problem, unchanged
from tests.integration.test_settings_api import changed, current, put
from tests.support.practice import PracticeFixture


def patch(practice: PracticeFixture, changes: Any) -> httpx.Response:
    return practice.http.patch("/api/v1/settings", json=changes, headers=practice.as_owner())


def test_a_partial_put_is_refused_naming_what_is_missing(
    stack: Stack, practice: PracticeFixture
) -> None:
    before = current(practice)
    assert before["settings"]["timezone"] == "Europe/London"
    with unchanged(stack):
        body = problem(put(practice, {"rules": {"low_overall": {"floor": 4.2}}}), 422)
    for missing in ("timezone", "timing", "sender", "rules.floor", "rules.low_overall.enabled"):
        assert missing in body["detail"], body
    assert "PATCH" in body["detail"]
    # One nested field left out of an otherwise whole document is named too.
    whole = copy.deepcopy(before["settings"])
    del whole["timing"]["quiet_hours"]["end"]
    with unchanged(stack):
        body = problem(put(practice, whole), 422)
    assert "timing.quiet_hours.end" in body["detail"]
    assert current(practice) == before


def test_a_whole_put_still_replaces(practice: PracticeFixture) -> None:
    before = current(practice)
    saved = put(practice, changed(before["settings"], "rules.low_overall.floor", 4.2))
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == before["version"] + 1
    assert saved.json()["settings"]["rules"]["low_overall"]["floor"] == 4.2


def test_patch_merges_a_partial_document_and_keeps_the_rest(practice: PracticeFixture) -> None:
    before = current(practice)
    response = patch(practice, {"rules": {"low_overall": {"floor": 4.2}}})
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["version"] == before["version"] + 1
    expected = changed(before["settings"], "rules.low_overall.floor", 4.2)
    assert after["settings"] == expected
    assert current(practice)["settings"] == expected
    # Quiet hours: one end changed, the other kept; null switches them off.
    moved = patch(practice, {"timing": {"quiet_hours": {"start": "22:30"}}}).json()
    assert moved["settings"]["timing"]["quiet_hours"] == {"start": "22:30:00", "end": "08:00:00"}
    off = patch(practice, {"timing": {"quiet_hours": None}}).json()
    assert off["settings"]["timing"]["quiet_hours"] is None
    assert off["settings"]["timezone"] == "Europe/London"
    # The same PATCH again is no change: no new version.
    again = patch(practice, {"timing": {"quiet_hours": None}})
    assert again.json()["version"] == off["version"]


def test_patch_is_validated_as_a_whole(stack: Stack, practice: PracticeFixture) -> None:
    with unchanged(stack):
        body = problem(patch(practice, {"rules": {"floor": {"floor": 5}}}), 422)
        assert "rules.floor.floor" in error_fields(body)
        body = problem(patch(practice, {"rules": {"flor": {"floor": 2}}}), 422)
        assert "rules.flor" in error_fields(body)
        body = problem(patch(practice, {"timing": 3}), 422)
        assert "timing" in error_fields(body)
        assert "object" in problem(patch(practice, [1, 2]), 422)["detail"]
    clinician = practice.http.patch(
        "/api/v1/settings", json={"timezone": "UTC"}, headers=practice.as_clinician()
    )
    assert clinician.status_code == 403


@pytest.mark.parametrize(
    "value",
    ["22:00:00Z", "13:00:00+01:00", "22:00-05:00", 12345, 79200.0, True, ["22:00"], {"h": 22}],
)
def test_a_time_of_day_with_a_zone_or_of_another_type_is_refused(
    stack: Stack, practice: PracticeFixture, value: Any
) -> None:
    settings = current(practice)["settings"]
    with unchanged(stack):
        body = problem(put(practice, changed(settings, "timing.quiet_hours.start", value)), 422)
        assert "timing.quiet_hours.start" in error_fields(body), body
        body = problem(patch(practice, {"timing": {"quiet_hours": {"end": value}}}), 422)
        assert "timing.quiet_hours.end" in error_fields(body), body
    if isinstance(value, str):
        assert "local wall-clock" in body["detail"] or "time of day" in body["detail"], body


def preview(practice: PracticeFixture, settings: Any) -> httpx.Response:
    return practice.http.post(
        "/api/v1/settings/preview",
        json={"settings": settings, "days": 30},
        headers=practice.as_owner(),
    )


def _named_missing(detail: str) -> str:
    return detail.split("these fields are missing: ")[1].split(". ")[0]


def test_a_partial_preview_is_refused_as_a_partial_put_is(
    stack: Stack, practice: PracticeFixture
) -> None:
    """A preview of a partial document used to fill the rest with defaults (UTC, every rule
    at its default) and count alerts for settings nobody asked for."""
    before = current(practice)
    partial = {"rules": {"low_overall": {"floor": 4.2}}}
    nested = copy.deepcopy(before["settings"])
    del nested["timing"]["quiet_hours"]["end"]
    for document, first in ((partial, "timezone"), (nested, "timing.quiet_hours.end")):
        with unchanged(stack):
            previewed = problem(preview(practice, document), 422)
            refused = problem(put(practice, document), 422)
        # The same check names the same fields, under "settings." in the preview's body.
        assert _named_missing(previewed["detail"]) == _named_missing(refused["detail"])
        assert error_fields(previewed) == {f"settings.{first}"}
        assert error_fields(refused) == {first}
        assert "PATCH" in previewed["detail"]
    assert current(practice) == before
    # The whole document, as GET returns it, previews as before.
    assert preview(practice, before["settings"]).status_code == 200
