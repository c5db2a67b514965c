"""Fixed windows, counted on an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.ratelimit import MemoryCounter, RateLimited, RateLimiter, window_of

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def test_window_boundaries_and_retry_after() -> None:
    first = window_of("login", "10.0.0.1", 60, T0 + timedelta(seconds=15))
    same = window_of("login", "10.0.0.1", 60, T0 + timedelta(seconds=59.5))
    later = window_of("login", "10.0.0.1", 60, T0 + timedelta(seconds=60))
    assert first.key == same.key != later.key
    assert first.retry_after == 45
    assert same.retry_after == 1  # never 0: "come back now" would be wrong
    assert "10.0.0.1" not in first.key
    assert window_of("login", "10.0.0.2", 60, T0).key != window_of("login", "10.0.0.1", 60, T0).key
    assert window_of("survey", "10.0.0.1", 60, T0).key != window_of("login", "10.0.0.1", 60, T0).key


def test_limiter_refuses_past_the_limit_until_the_window_ends() -> None:
    limiter = RateLimiter(MemoryCounter(), {"login": (3, 60)})
    now = T0 + timedelta(seconds=10)
    for _ in range(3):
        limiter.check("login", "10.0.0.1", now)
    with pytest.raises(RateLimited) as refused:
        limiter.check("login", "10.0.0.1", now)
    assert refused.value.retry_after == 50
    limiter.check("login", "10.0.0.2", now)  # someone else is not affected
    limiter.check("login", "10.0.0.1", T0 + timedelta(seconds=60))


def test_settings_override_only_the_named_buckets() -> None:
    limiter = RateLimiter(MemoryCounter(), {"survey": (1, 5)})
    assert limiter.limits["survey"] == (1, 5)
    assert limiter.limits["login"] == (10, 60)
