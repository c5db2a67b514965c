"""The operations port of `attune worker` and `attune scheduler`: processes without an HTTP
API of their own still answer a probe and a scrape.

    GET /health/live    200 while the process's own loops come round, else 503
    GET /health/ready   200 when live and its database, schema and Redis answer, else 503
    GET /metrics        Prometheus text format, prometheus_client's default registry

Plain http.server on a daemon thread: three read-only answers need no framework, and the
port must keep answering while the process's other threads are busy or stuck.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from shared.health.report import Report

log = structlog.get_logger("attune.ops")

# The defaults of `attune worker --ops-port` and `attune scheduler --ops-port` (0: no port).
WORKER_PORT = 9101
SCHEDULER_PORT = 9102


class OpsServer:
    """`live` and `ready` are called per request (ProcessHealth.live / .ready)."""

    def __init__(
        self,
        *,
        live: Callable[[], Report],
        ready: Callable[[], Report],
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/health/live": lambda: _health(live()),
            "/health/ready": lambda: _health(ready()),
            "/metrics": _metrics,
        }
        self._server = ThreadingHTTPServer((host, port), _handler(routes))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ops-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The port bound (the one asked for, or the one the system chose for 0)."""
        return int(self._server.server_address[1])

    def start(self) -> OpsServer:
        self._thread.start()
        log.info("ops.listening", port=self.port)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _health(report: Report) -> tuple[int, str, bytes]:
    return report.status_code, "application/json", json.dumps(report.body()).encode()


def _metrics() -> tuple[int, str, bytes]:
    return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)


def _handler(
    routes: dict[str, Callable[[], tuple[int, str, bytes]]],
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                self._answer(404, "application/json", b'{"detail": "Not found."}')
                return
            try:
                self._answer(*route())
            except Exception:
                log.exception("ops.failed", path=self.path.split("?", 1)[0])
                self._answer(500, "application/json", b'{"detail": "Internal error."}')

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            # Probes come every few seconds; http.server would print each to stderr.
            pass

    return Handler
