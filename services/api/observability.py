"""Request ids, one structured log line per request, and its metrics.

The line and the metrics name the route template, not the path: a path can carry a survey
token. The id stays bound for the whole request, so the outbox events it emits carry it on to
the workers (shared.logging).
"""

from __future__ import annotations

import time

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.metrics.http import observe_request
from shared.logging import bind_request_id, request_id_for

log = structlog.get_logger("attune.api")


def request_logging(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        supplied = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = request_id_for(supplied)
        structlog.contextvars.clear_contextvars()
        bind_request_id(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or "unmatched"
            observe_request(str(scope.get("method", "")), route, status, seconds)
            log.info(
                "request",
                method=scope.get("method"),
                route=route,
                status=status,
                ms=round(seconds * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()

    return middleware
