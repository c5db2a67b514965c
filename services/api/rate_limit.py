"""The guard that rate-limits public routes: a handler opts in with opt={"rate_limit": bucket}."""

from __future__ import annotations

import ipaddress

from litestar.connection import ASGIConnection
from litestar.exceptions import TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler

from services.api.context import context_of
from shared.ratelimit import MemoryCounter, RateLimited, RateLimiter, RedisCounter
from shared.settings import IpNetwork, Settings


def build_rate_limiter(settings: Settings) -> RateLimiter:
    counter = (
        RedisCounter(settings.redis_url, settings.redis_namespace)
        if settings.redis_url
        else MemoryCounter()
    )
    return RateLimiter(counter, settings.rate_limits)


def client_address(connection: ASGIConnection) -> str:
    """The address a rate limit counts: the socket's peer, unless that peer is one of the
    trusted proxies (ATTUNE_TRUSTED_PROXIES, `attune api --trusted-proxies`); then the
    nearest address in X-Forwarded-For that is not a trusted proxy itself."""
    peer = connection.client.host if connection.client else "unknown"
    trusted = context_of(connection).settings.trusted_proxy_networks  # type: ignore[arg-type]
    return real_client(peer, connection.headers.getall("x-forwarded-for", []), trusted)


def real_client(peer: str, forwarded_for: list[str], trusted: tuple[IpNetwork, ...]) -> str:
    # Read right to left: each trusted proxy appends the address it got the request from, so
    # everything left of the first untrusted address is whatever the client chose to send.
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    chain = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(chain):
        if not _is_trusted(hop, trusted):
            return hop if _is_address(hop) else peer
    return chain[0] if chain else peer


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_trusted(text: str, trusted: tuple[IpNetwork, ...]) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def _too_many(limited: RateLimited) -> TooManyRequestsException:
    return TooManyRequestsException(
        f"Too many requests. Please wait {limited.retry_after} seconds and try again.",
        headers={"Retry-After": str(limited.retry_after)},
    )


def enforce(connection: ASGIConnection, bucket: str, identity: str) -> None:
    """For a handler running in a worker thread (a sign-in counts the account it names)."""
    limiter: RateLimiter = connection.app.state.rate_limiter
    try:
        limiter.check(bucket, identity, context_of(connection).clock.now())  # type: ignore[arg-type]
    except RateLimited as limited:
        raise _too_many(limited) from None


async def rate_limited(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A coroutine, so that counting a request in Redis neither blocks the event loop nor
    hops to a worker thread (Litestar runs a plain function guard in one)."""
    bucket = handler.opt.get("rate_limit")
    if not bucket:
        return
    limiter: RateLimiter = connection.app.state.rate_limiter
    now = context_of(connection).clock.now()  # type: ignore[arg-type]
    try:
        await limiter.check_async(bucket, client_address(connection), now)
    except RateLimited as limited:
        raise _too_many(limited) from None
