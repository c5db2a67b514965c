"""Previewing candidate settings against the practice's own last N days, through real HTTP.

The preview replays the stored answers and silences through the same detection functions the
workers use; it must agree with the alerts the loop really raised, and change nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.bootstrap import Stack
from tests.conftest import START
from tests.integration.test_bad_input import error_fields, problem, unchanged
from tests.support.history import FIVE, answered_session, unanswered_session
from tests.support.practice import PracticeFixture, add_clinician_with_client, create_practice

RULES = (
    "floor",
    "low_overall",
    "drop",
    "item_drop",
    "sudden_drop",
    "decline_streak",
    "silence",
    "asked",
)


@pytest.fixture
def seeded(stack: Stack, http: httpx.Client) -> dict[str, Any]:
    """Two clinicians' clients over the last two months, evaluated by the real loop.

    Under the default rules, inside the last 30 days: RC-1001 drops 0.8 below a baseline of
    5.0 (drop), pace two points below its own 5.0 (item drop); SC-2002 answers a mean of 3.8
    (low overall). Before the window, SC-2002 let three surveys expire (a silence alert,
    outside the window); inside it RC-1001 lets one expire.
    """
    practice = create_practice(http)
    casey, robin = practice.clinician["id"], practice.client["id"]
    drew, sam = add_clinician_with_client(practice)
    pid = UUID(practice.practice_id)
    db = stack.db

    def answer(client: str, clinician: str, days_ago: int, **scores: int) -> None:
        answered_session(
            db,
            pid,
            UUID(client),
            UUID(clinician),
            at=START - timedelta(days=days_ago),
            scores=FIVE | scores,
        )

    for days_ago in (60, 53, 46):
        answer(robin, casey, days_ago)
    answer(robin, casey, 20, honest=4, respected=4, pace=3)  # mean 4.2: a drop of 0.8
    answer(robin, casey, 13)
    unanswered_session(db, pid, UUID(robin), UUID(casey), at=START - timedelta(days=6))

    unanswered_session(db, pid, UUID(sam), UUID(drew), at=START - timedelta(days=45))
    unanswered_session(db, pid, UUID(sam), UUID(drew), at=START - timedelta(days=40))
    unanswered_session(db, pid, UUID(sam), UUID(drew), at=START - timedelta(days=35))
    answer(sam, drew, 10, honest=4, disagree=4, respected=4, input=4, pace=4)
    answer(sam, drew, 3, honest=3, disagree=4, respected=4, input=4, pace=4)  # mean 3.8
    return {"practice": practice, "casey": casey, "drew": drew}


def preview(practice: PracticeFixture, body: dict[str, Any]) -> httpx.Response:
    return practice.http.post("/api/v1/settings/preview", json=body, headers=practice.as_owner())


def current_settings(practice: PracticeFixture) -> dict[str, Any]:
    response = practice.http.get("/api/v1/settings", headers=practice.as_owner())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def candidate(practice: PracticeFixture, **rules: dict[str, Any]) -> dict[str, Any]:
    settings = current_settings(practice)["settings"]
    for name, change in rules.items():
        settings["rules"][name] |= change
    return settings


def test_preview_counts_current_and_candidate_alerts_per_rule_and_clinician(
    stack: Stack, seeded: dict[str, Any]
) -> None:
    practice: PracticeFixture = seeded["practice"]
    alerts = practice.http.get("/api/v1/alerts", headers=practice.as_owner()).json()
    assert sorted(r["rule"] for a in alerts for r in a["evidence"]) == [
        "drop",
        "item_drop",
        "low_overall",
        "silence",
    ]

    body = {
        "settings": candidate(
            practice,
            floor={"floor": 3},
            low_overall={"enabled": False},
            drop={"points": 1.0},
            silence={"count": 1},
        ),
        "days": 30,
    }
    with unchanged(stack):  # no row written, no outbox event, no notification
        response = preview(practice, body)
    assert response.status_code == 200, response.text
    result = response.json()

    assert result["days"] == 30
    assert (result["answers"], result["silences"]) == (4, 1)
    # The replay with the current settings agrees with what the loop really raised.
    assert result["raised"] == 2
    assert result["current"] == {
        "alerts": 2,
        "by_rule": {rule: int(rule in ("drop", "item_drop", "low_overall")) for rule in RULES},
    }
    # Floor 3 catches both dips by an item at 3; one unanswered survey is now enough.
    assert result["candidate"] == {
        "alerts": 3,
        "by_rule": {
            rule: {"floor": 2, "item_drop": 1, "silence": 1}.get(rule, 0) for rule in RULES
        },
    }
    assert result["typical_cohort"] is None  # only when asked for
    assert result["by_clinician"] == [
        {
            "clinician_id": practice.clinician["id"],
            "name": "Casey Clinician",
            "current": 1,
            "candidate": 2,
        },
        {"clinician_id": seeded["drew"], "name": "Drew Clinician", "current": 1, "candidate": 1},
    ]
    assert current_settings(practice)["version"] == result["current_version"] == 1


def test_the_window_decides_what_is_counted_but_not_the_baselines(
    stack: Stack, seeded: dict[str, Any]
) -> None:
    practice: PracticeFixture = seeded["practice"]
    settings = current_settings(practice)["settings"]
    # Five days: only SC-2002's low answer (3 days ago) is inside.
    short = preview(practice, {"settings": settings, "days": 5}).json()
    assert short["current"]["alerts"] == short["candidate"]["alerts"] == 1
    assert short["current"]["by_rule"]["low_overall"] == 1
    assert (short["answers"], short["silences"]) == (1, 0)
    # Sixty days: the silence alert 35 days ago joins; RC-1001's drop still measures against
    # the baseline of its answers before the window opened.
    long = preview(practice, {"settings": settings, "days": 61}).json()
    assert long["current"]["alerts"] == long["raised"] == 3
    assert long["current"]["by_rule"]["silence"] == 1
    assert long["current"]["by_rule"]["drop"] == 1


def test_a_candidate_turning_every_rule_off_would_raise_nothing(
    stack: Stack, seeded: dict[str, Any]
) -> None:
    practice: PracticeFixture = seeded["practice"]
    off = candidate(practice, **{rule: {"enabled": False} for rule in RULES})
    with unchanged(stack):
        result = preview(practice, {"settings": off, "days": 90}).json()
    assert result["candidate"] == {"alerts": 0, "by_rule": dict.fromkeys(RULES, 0)}
    assert result["current"]["alerts"] == 3


def test_preview_refuses_nonsense_by_name_and_only_for_the_owner(
    stack: Stack, seeded: dict[str, Any]
) -> None:
    practice: PracticeFixture = seeded["practice"]
    settings = current_settings(practice)["settings"]
    bad = candidate(practice, floor={"floor": 6})  # reads the settings: an audited read
    with unchanged(stack):
        for days in (0, 366, -3):
            body = problem(preview(practice, {"settings": settings, "days": days}), 422)
            assert error_fields(body) == {"days"}
        body = problem(preview(practice, {"settings": bad, "days": 30}), 422)
        assert error_fields(body) == {"settings.rules.floor.floor"}
        assert "less than or equal to 5" in body["detail"]
        body = problem(preview(practice, {"days": 30}), 422)
        assert error_fields(body) == {"settings"}
        refused = practice.http.post(
            "/api/v1/settings/preview",
            json={"settings": settings, "days": 30},
            headers=practice.as_clinician(),
        )
        assert problem(refused, 403)["detail"] == "Only the practice owner can do this."


def test_a_new_practice_previews_its_settings_on_the_typical_simulated_cohort(
    stack: Stack, http: httpx.Client
) -> None:
    """No answers yet, so the practice's own history shows nothing; the typical cohort shows
    what the settings would raise there, and how many of its planted ruptures they find."""
    practice = create_practice(http)
    settings = current_settings(practice)["settings"]
    looser = candidate(practice, item_drop={"enabled": False}, low_overall={"floor": 4.6})
    with unchanged(stack):
        response = preview(practice, {"settings": looser, "days": 30, "typical_cohort": True})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["answers"], result["current"]["alerts"]) == (0, 0)
    cohort = result["typical_cohort"]
    assert "not a clinical trial" in cohort["simulation"]
    assert (cohort["clinicians"], cohort["clients"], cohort["weeks"]) == (8, 200, 16)
    current, looser_result = cohort["current"], cohort["candidate"]
    assert set(current["by_rule"]) == set(RULES)
    assert current["by_rule"]["item_drop"] > 0
    assert looser_result["by_rule"]["item_drop"] == 0  # turned off
    # The defaults stay within one alert per clinician per day of sessions (5 a week).
    assert 0 < current["alerts_per_clinician_week"] <= 5
    assert current["alerts_per_clinician_week"] == pytest.approx(current["alerts"] / (8 * 16))
    # An SRS-like line raises far more false alarms than the defaults.
    assert looser_result["false_alarms_per_100"] > 2 * current["false_alarms_per_100"]
    assert 0 < current["ruptures_found"] <= 1
    # The same request gives the same simulated figures: the cohort is seeded.
    again = preview(practice, {"settings": looser, "days": 30, "typical_cohort": True}).json()
    assert again["typical_cohort"] == cohort
    # Unchanged settings give the same figures on both sides.
    same = preview(practice, {"settings": settings, "typical_cohort": True}).json()
    assert same["typical_cohort"]["candidate"] == same["typical_cohort"]["current"]
    body = problem(preview(practice, {"settings": settings, "typical_cohort": "maybe"}), 422)
    assert error_fields(body) == {"typical_cohort"}
