"""Probes for whatever runs the API: a load balancer, docker-compose, an on-call engineer.

Public, unthrottled and left out of the pages' navigation; the answers name checks and
short reasons only (shared.health.report), never an address or a setting.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from litestar import Controller, Request, Response, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import Method
from litestar.types.internal_types import PathParameterDefinition

from shared.health import ProcessHealth, Report


def _health(request: Request) -> ProcessHealth:
    return request.app.state.health  # type: ignore[no-any-return]


def _answer(report: Report) -> Response[dict[str, Any]]:
    return Response(
        report.body(), status_code=report.status_code, headers={"Cache-Control": "no-store"}
    )


def _ready_operation_id(
    _handler: HTTPRouteHandler, _method: Method, path: list[str | PathParameterDefinition]
) -> str:
    """One handler answers both paths; each path keeps the id clients generated code from."""
    return "checkReady" if path[-1:] == ["ready"] else "checkHealth"


# The same body as the 200, with "status": "unavailable" and the failing checks named.
UNAVAILABLE = {
    503: ResponseSpec(
        data_container=dict[str, Any], description="Not live or not ready", generate_examples=False
    )
}


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {"public": True}

    @get(
        "/live",
        sync_to_thread=False,
        responses=UNAVAILABLE,
        summary="Check the API process is alive",
        operation_id="checkLive",
    )
    def live(self, request: Request) -> Response[dict[str, Any]]:
        """200 while the process answers and its own loops come round; restart it if not.
        On the event loop and without I/O: it answers even when every thread is busy."""
        return _answer(_health(request).live())

    @get(
        ["/ready", "/"],
        responses=UNAVAILABLE,
        summary="Check the API is ready for traffic",
        operation_id=_ready_operation_id,
    )
    async def ready(self, request: Request) -> Response[dict[str, Any]]:
        """200 when live and the database, the schema (at this code's migrations' head) and,
        in the production mode, Redis answer; 503 naming what failed. Send it no traffic
        while it is 503. /health answers the same, for probes set up before /health/ready
        existed."""
        # The checks wait on the database and Redis: off the event loop, in a worker thread
        # as sync_to_thread would (which Litestar 2.25 breaks on a handler with two paths).
        return _answer(await to_thread.run_sync(_health(request).ready))
