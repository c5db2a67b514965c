"""Public endpoints are rate limited per client address, with counters every API process
shares (Redis in production mode), and answer 429 with Retry-After."""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import redis

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import free_port
from shared.ratelimit import RateLimited, RateLimiter, RedisCounter
from shared.settings import Settings
from tests.conftest import START


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limits": {
                "login": (3, 60),
                "survey": (4, 60),
                "password_reset": (2, 900),
                "account_link": (2, 600),
            }
        }
    )


def _refused(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert "Too many requests" in response.json()["detail"]


def test_login_is_limited_and_the_window_resets_on_the_clock(
    http: httpx.Client, clock: ManualClock
) -> None:
    attempt = {"email": "owner@nowhere.example.com", "password": "guessing"}
    clock.set(START + timedelta(seconds=20))
    for _ in range(3):
        assert http.post("/api/v1/auth/login", json=attempt).status_code == 401
    refused = http.post("/api/v1/auth/login", json=attempt)
    _refused(refused)
    assert refused.headers["retry-after"] == "40"
    clock.advance(timedelta(seconds=40))
    assert http.post("/api/v1/auth/login", json=attempt).status_code == 401


def test_survey_and_unsubscribe_pages_share_a_limit(http: httpx.Client) -> None:
    for path in ("/s/guess-1", "/s/guess-2", "/u/guess-3"):
        assert http.get(path).status_code == 404
    assert http.post("/u/guess-4").status_code == 404
    _refused(http.get("/s/guess-5"))
    _refused(http.post("/s/guess-6", data={"honest": "3"}))


def test_password_reset_requests_and_link_pages_are_limited(http: httpx.Client) -> None:
    for _ in range(2):
        assert (
            http.post(
                "/api/v1/auth/password-reset", json={"email": "someone@example.com"}
            ).status_code
            == 202
        )
    _refused(http.post("/api/v1/auth/password-reset", json={"email": "other@example.com"}))
    for _ in range(2):
        assert http.get("/account/reset/guess").status_code == 404
    _refused(http.post("/account/join/guess", data={"password": "x" * 12, "confirm": "x" * 12}))


def test_signed_in_routes_are_not_limited_by_the_public_buckets(
    stack: Stack, http: httpx.Client
) -> None:
    signed_up = http.post(
        "/api/v1/practices",
        json={
            "practice_name": "Quay Therapy",
            "owner_name": "Quinn Owner",
            "owner_email": "owner@quay.example.com",
            "password": "correct horse battery",
        },
    )
    headers = {"Authorization": f"Bearer {signed_up.json()['token']}"}
    for _ in range(10):
        assert http.get("/api/v1/me", headers=headers).status_code == 200


@pytest.fixture
def shared_redis(settings: Settings) -> Iterator[str]:
    """The suite's Redis in production mode; in embedded mode a private server of our own."""
    if settings.redis_url:
        yield settings.redis_url
        return
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        for _ in range(250):  # waiting for the socket to open, bounded at 5 s
            try:
                client.ping()
                break
            except redis.ConnectionError:
                threading.Event().wait(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_counters_are_shared_by_all_api_processes_in_redis(shared_redis: str) -> None:
    """Two limiters, as two API processes hold, count into the same Redis keys."""
    namespace = f"attune-test-{uuid.uuid4().hex[:8]}"
    first = RateLimiter(RedisCounter(shared_redis, namespace), {"login": (3, 60)})
    second = RateLimiter(RedisCounter(shared_redis, namespace), {"login": (3, 60)})
    first.check("login", "10.1.1.1", START)
    second.check("login", "10.1.1.1", START)
    first.check("login", "10.1.1.1", START)
    with pytest.raises(RateLimited):
        second.check("login", "10.1.1.1", START)
    second.check("login", "10.1.1.2", START)
    second.check("login", "10.1.1.1", START + timedelta(seconds=60))
