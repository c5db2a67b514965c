"""Fixtures the integration tests share (the suite-wide ones are in tests/conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.practice import PracticeFixture, create_practice


@pytest.fixture
def practice(http: httpx.Client) -> PracticeFixture:
    """Harbour Counselling, signed up through the API: owner, clinician, client, API key."""
    return create_practice(http)
