"""Practice settings through the JSON API: nonsense refused by name, every change kept,
custom items carried from the survey page to the alert, alerts naming their version."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Alert
from tests.conftest import START
from tests.integration.test_bad_input import error_fields, problem, unchanged
from tests.support.history import FIVE, answered_session
from tests.support.inspection import everything
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture

HOMEWORK = {
    "key": "homework",
    "prompt": "The between-session task felt doable for me.",
    "move": "slow_pace",
    "topic": "How doable the between-session task felt",
}


def current(practice: PracticeFixture) -> dict[str, Any]:
    response = practice.http.get("/api/v1/settings", headers=practice.as_owner())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def put(practice: PracticeFixture, settings: dict[str, Any], **headers: str) -> httpx.Response:
    return practice.http.put(
        "/api/v1/settings", json=settings, headers=headers or practice.as_owner()
    )


def changed(settings: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of the settings with one dotted field set."""
    result = copy.deepcopy(settings)
    *parents, last = path.split(".")
    target = result
    for part in parents:
        target = target[part]
    target[last] = value
    return result


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        ("rules.floor.floor", 6, "less than or equal to 5"),
        ("rules.floor.floor", 0, "greater than or equal to 1"),
        ("rules.floor.floor", 5, "a floor of 5 would flag every answer"),
        ("rules.low_overall.floor", 5.5, "less than or equal to 5"),
        ("timing.alert_lead_hours", -1, "greater than or equal to 0"),
        ("timing.survey_expiry_hours", 0, "greater than or equal to 1"),
        ("timezone", "Mars/Olympus_Mons", "unknown time zone 'Mars/Olympus_Mons'"),
        ("item_keys", ["honest", "pace"], "choose 3 to 5 built-in items"),
        ("item_keys", ["honest", "pace", "mood"], "not a built-in item: mood"),
        ("rules.drop.min_history", 0, "greater than or equal to 1"),
        ("timing.quiet_hours.start", "25:00", "time"),
    ],
)
def test_nonsense_is_refused_with_the_field_and_the_reason(
    stack: Stack, practice: PracticeFixture, path: str, value: Any, why: str
) -> None:
    before = current(practice)
    with unchanged(stack):
        body = problem(put(practice, changed(before["settings"], path, value)), 422)
    assert error_fields(body) == {path}
    assert why in body["detail"]
    assert path in body["detail"]
    assert current(practice)["version"] == before["version"]


def test_a_clinician_cannot_change_or_list_settings(
    stack: Stack, practice: PracticeFixture
) -> None:
    settings = current(practice)["settings"]
    with unchanged(stack):
        refused = put(
            practice, changed(settings, "rules.floor.floor", 3), **practice.as_clinician()
        )
        assert problem(refused, 403)["detail"] == "Only the practice owner can do this."
        history = practice.http.get("/api/v1/settings/history", headers=practice.as_clinician())
        assert problem(history, 403)
    # Reading the settings in force is fine for a clinician.
    read = practice.http.get("/api/v1/settings", headers=practice.as_clinician())
    assert read.status_code == 200


def test_every_change_is_kept_with_who_and_when(
    stack: Stack, practice: PracticeFixture, clock: ManualClock
) -> None:
    first = current(practice)
    assert first["version"] == 1
    clock.advance(timedelta(hours=2))
    second = put(practice, changed(first["settings"], "rules.floor.floor", 3))
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2
    clock.advance(timedelta(hours=1))
    third = put(practice, changed(second.json()["settings"], "timing.alert_lead_hours", 6))
    assert third.json()["version"] == 3
    # The same settings again (a retry) make no new version.
    with unchanged(stack):
        again = put(practice, third.json()["settings"])
    assert again.status_code == 200
    assert again.json()["version"] == 3

    history = practice.http.get("/api/v1/settings/history", headers=practice.as_owner())
    assert history.status_code == 200, history.text
    versions = history.json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert {v["created_by"] for v in versions} == {practice.owner["id"]}
    assert {v["created_by_name"] for v in versions} == {"Olive Owner"}
    assert [v["created_at"][:16] for v in versions] == [
        (START + timedelta(hours=3)).isoformat()[:16],
        (START + timedelta(hours=2)).isoformat()[:16],
        START.isoformat()[:16],
    ]
    assert versions[0]["body"]["timing"]["alert_lead_hours"] == 6
    assert versions[1]["body"]["rules"]["floor"]["floor"] == 3
    assert versions[2]["body"]["rules"]["floor"]["floor"] == 2
    assert current(practice)["settings"] == third.json()["settings"]


def test_each_alert_records_the_settings_version_that_produced_it(
    stack: Stack, practice: PracticeFixture
) -> None:
    pid = UUID(practice.practice_id)
    client, clinician = UUID(practice.client["id"]), UUID(practice.clinician["id"])
    answered_session(stack.db, pid, client, clinician, at=START, scores=FIVE | {"pace": 2})
    # Version 2 raises the item floor to 3: a 3 now counts, and the alert says so.
    raised = put(practice, changed(current(practice)["settings"], "rules.floor.floor", 3))
    assert raised.json()["version"] == 2
    answered_session(
        stack.db, pid, client, clinician, at=START + timedelta(days=7), scores=FIVE | {"input": 3}
    )
    alerts = practice.http.get("/api/v1/alerts", headers=practice.as_owner()).json()
    assert [(a["settings_version"], a["evidence"][0]["numbers"]["floor"]) for a in alerts] == [
        (2, 3),
        (1, 2),
    ]


def test_a_custom_item_is_asked_and_its_low_score_suggests_its_own_move(
    stack: Stack, practice: PracticeFixture, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    settings = current(practice)["settings"]
    settings["item_keys"] = ["honest", "respected", "input"]
    settings["custom_items"] = [HOMEWORK]
    saved = put(practice, settings)
    assert saved.status_code == 200, saved.text
    assert [item["key"] for item in saved.json()["settings"]["custom_items"]] == ["homework"]

    practice.book("visit-1", START - timedelta(hours=1))
    upcoming = practice.book("visit-2", START + timedelta(days=7))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    [survey] = addressed_to(sink, "robin.client@harbour.example.com")
    url = next(link for link in links(survey) if "/s/" in link and "?" not in link)
    path = url.removeprefix("http://attune.test")
    page = http.get(path)
    assert page.status_code == 200
    assert HOMEWORK["prompt"] in page.text
    assert "We went at a pace that felt right." not in page.text  # not chosen any more

    answered = http.post(
        path, data={"honest": "5", "respected": "5", "input": "5", "homework": "1"}
    )
    assert answered.status_code == 200, answered.text
    tick_and_settle(stack)
    [alert] = practice.http.get("/api/v1/alerts", headers=practice.as_owner()).json()
    floor = next(f for f in alert["evidence"] if f["rule"] == "floor")
    assert floor["items"] == ["homework"]
    assert floor["moves"] == ["slow_pace"]
    assert alert["moves"] == ["slow_pace"]
    assert alert["target_appointment_id"] == upcoming["id"]
    assert alert["settings_version"] == 2
    with everything(stack) as session:
        assert len(session.exec(select(Alert)).all()) == 1
