"""A session nobody uses ends after the idle limit, whatever its absolute limit says."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from shared.clock import ManualClock
from shared.settings import Settings
from tests.support.practice import PracticeFixture
from tests.support.signing_in import log_in

OWNER_PASSWORD = "correct horse battery"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"session_idle_minutes": 30})


def test_a_session_left_unused_ends_after_the_idle_limit(
    http: httpx.Client, practice: PracticeFixture, clock: ManualClock
) -> None:
    token = log_in(http, practice.owner["email"], OWNER_PASSWORD).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    clock.advance(timedelta(minutes=29))
    assert http.get("/api/v1/me", headers=bearer).status_code == 200
    # Used at minute 29: the idle limit (30 min) counts from then, not from the sign-in.
    clock.advance(timedelta(minutes=29))
    assert http.get("/api/v1/me", headers=bearer).status_code == 200
    clock.advance(timedelta(minutes=30))
    assert http.get("/api/v1/me", headers=bearer).status_code == 401
