"""Fixed-window request counters for the public endpoints.

The window arithmetic is pure; the counts live in Redis in production, so every API process
shares them, and in process memory in the embedded mode (one process there).
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import structlog

log = structlog.get_logger("attune.ratelimit")

# (requests, seconds) per client address and bucket. Settings.rate_limits overrides any.
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "login": (10, 60),
    "login_account": (20, 900),  # one account, from anywhere: slows a spread-out guess
    "password_reset": (5, 900),
    "account_link": (20, 600),  # the reset and invitation pages
    "sign_up": (20, 3600),
    "survey": (60, 60),  # survey and unsubscribe pages
}


@dataclass(frozen=True)
class Window:
    key: str
    seconds: int
    retry_after: int  # whole seconds until this window ends, at least 1


def window_of(bucket: str, identity: str, seconds: int, now: datetime) -> Window:
    """The fixed window `now` falls in. The identity is hashed: an email or an address never
    lands in Redis keys as written."""
    started = now.timestamp()
    index = math.floor(started / seconds)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    remaining = (index + 1) * seconds - started
    return Window(
        key=f"{bucket}:{digest}:{index}", seconds=seconds, retry_after=max(1, math.ceil(remaining))
    )


class Counter(Protocol):
    def hit(self, window: Window) -> int:
        """Count one request in the window; return how many it now holds."""
        ...

    async def hit_async(self, window: Window) -> int:
        """hit, for a caller on the event loop: it waits for Redis without blocking the loop
        and without a hop to a worker thread."""
        ...


class MemoryCounter:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def hit(self, window: Window) -> int:
        with self._lock:
            if len(self._counts) > 100_000:
                # Old windows are never read again; dropping them all only forgives a little.
                self._counts.clear()
            self._counts[window.key] = self._counts.get(window.key, 0) + 1
            return self._counts[window.key]

    async def hit_async(self, window: Window) -> int:
        return self.hit(window)  # memory only: nothing to wait for


# One command, atomic: count the hit, and give a new window's key its expiry.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""


class RedisCounter:
    """Counts in Redis, shared by every API process.

    While Redis is unreachable it counts in this process's memory instead: answering a survey
    must not depend on the broker being up (the outbox already lets the rest of the loop
    wait), and a per-process limit is still a limit.
    """

    def __init__(self, url: str, namespace: str) -> None:
        import redis
        import redis.asyncio

        # Short timeouts: a hung Redis must cost a request milliseconds, not seconds.
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._async_redis = redis.asyncio.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )
        self._count = self._redis.register_script(_COUNT)
        self._count_async = self._async_redis.register_script(_COUNT)
        self._error = redis.RedisError
        self._prefix = f"{namespace}:ratelimit:"
        self._fallback = MemoryCounter()

    def hit(self, window: Window) -> int:
        try:
            count = self._count(keys=[self._prefix + window.key], args=[window.seconds + 60])
        except self._error:
            log.warning("ratelimit.redis_unavailable", bucket=window.key.split(":", 1)[0])
            return self._fallback.hit(window)
        return int(count)

    async def hit_async(self, window: Window) -> int:
        try:
            count = await self._count_async(
                keys=[self._prefix + window.key], args=[window.seconds + 60]
            )
        except (self._error, OSError, TimeoutError):
            log.warning("ratelimit.redis_unavailable", bucket=window.key.split(":", 1)[0])
            return self._fallback.hit(window)
        return int(count)


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, counter: Counter, limits: dict[str, tuple[int, int]]) -> None:
        self.counter = counter
        self.limits = {**DEFAULT_LIMITS, **limits}

    def check(self, bucket: str, identity: str, now: datetime) -> None:
        """Count a request; raise RateLimited once the bucket's window is full."""
        allowed, seconds = self.limits[bucket]
        window = window_of(bucket, identity, seconds, now)
        if self.counter.hit(window) > allowed:
            raise RateLimited(window.retry_after)

    async def check_async(self, bucket: str, identity: str, now: datetime) -> None:
        """check, from the event loop (Counter.hit_async)."""
        allowed, seconds = self.limits[bucket]
        window = window_of(bucket, identity, seconds, now)
        if await self.counter.hit_async(window) > allowed:
            raise RateLimited(window.retry_after)
