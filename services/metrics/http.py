"""The API's request metrics and its /metrics endpoint.

Recorded by the outermost wrapper (services.api.observability), not by Litestar's
PrometheusMiddleware: that runs per route, inside routing and authentication, so it never sees
a 404 or 405 from the router or a 401 from the authentication middleware, which are exactly
the answers an operator wants counted. The route label is the route template (/s/{token}),
never the path: a path can carry a survey token, and every distinct path would be a new series.

/metrics is not for the public: route counts, latencies and the backlog figures tell an
outsider how busy a practice is and when the workers are struggling. It answers only a request
bearing ATTUNE_METRICS_TOKEN (as Prometheus sends it, `authorization: {credentials: ...}`),
compared in constant time; without the setting it is not served at all (404).
"""

from __future__ import annotations

import hmac

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
# Anything else a client sends as a method is one label value, not a new series each.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "attune_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "attune_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template and method",
    ["route", "method"],
    # Survey pages and API calls answer in tens of milliseconds; seconds mean trouble.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    method = method if method in KNOWN_METHODS else "OTHER"
    route = route or UNMATCHED
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()
    LATENCY.labels(route=route, method=method).observe(seconds)


def metrics_endpoint(app: ASGIApp, token: str | None) -> ASGIApp:
    """GET /metrics with `Authorization: Bearer <token>` answers the registry; every other
    request goes on to `app`."""
    expected = f"Bearer {token}".encode() if token else None

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"] != METRICS_PATH or expected is None:
            await app(scope, receive, send)
            return
        scope["path_template"] = METRICS_PATH  # labels and logs name it like any route
        supplied = dict(scope.get("headers") or []).get(b"authorization", b"")
        if not hmac.compare_digest(supplied, expected):
            await _answer(send, 401, b"text/plain; charset=utf-8", b"a metrics token is needed")
        elif scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"text/plain; charset=utf-8", b"GET only")
        else:
            body = generate_latest(REGISTRY)
            await _answer(send, 200, CONTENT_TYPE_LATEST.encode(), body)

    return middleware


async def _answer(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type), (b"cache-control", b"no-store")],
    }
    whole: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(whole)
