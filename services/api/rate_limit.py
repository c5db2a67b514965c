"""The guard that rate-limits public routes: a handler opts in with opt={"rate_limit": bucket}."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler

from services.api.context import context_of
from shared.ratelimit import MemoryCounter, RateLimited, RateLimiter, RedisCounter
from shared.settings import Settings


def build_rate_limiter(settings: Settings) -> RateLimiter:
    counter = (
        RedisCounter(settings.redis_url, settings.redis_namespace)
        if settings.redis_url
        else MemoryCounter()
    )
    return RateLimiter(counter, settings.rate_limits)


def client_address(connection: ASGIConnection) -> str:
    # The socket's peer. Behind a proxy, run uvicorn with --forwarded-allow-ips so this is the
    # client's address and not the proxy's.
    return connection.client.host if connection.client else "unknown"


def enforce(connection: ASGIConnection, bucket: str, identity: str) -> None:
    limiter: RateLimiter = connection.app.state.rate_limiter
    try:
        limiter.check(bucket, identity, context_of(connection).clock.now())  # type: ignore[arg-type]
    except RateLimited as limited:
        raise TooManyRequestsException(
            f"Too many requests. Please wait {limited.retry_after} seconds and try again.",
            headers={"Retry-After": str(limited.retry_after)},
        ) from None


def rate_limited(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    bucket = handler.opt.get("rate_limit")
    if bucket:
        enforce(connection, bucket, client_address(connection))
