"""Serve the real app over real HTTP on a loopback port, in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from litestar import Litestar

from shared.email.sink import free_port


@contextmanager
def serving(app: Litestar) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            # As `attune api` runs it: the app, not uvicorn, decides whom to believe about
            # the client's address (ATTUNE_TRUSTED_PROXIES).
            proxy_headers=False,
        )
    )
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    ready = threading.Event()
    # Waiting for the socket to open, not for a schedule: bounded at 10 s.
    for _ in range(500):
        if server.started:
            break
        ready.wait(0.02)
    if not server.started:
        raise RuntimeError("the API server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
