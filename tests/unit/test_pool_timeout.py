"""A request that waited the async pool's whole timeout for a connection (every kept
connection busy: the pool has no overflow, shared.db.engine) is answered like a database that
is away: 503 with Retry-After, never a 500."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.testing import TestClient
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.api.errors import EXCEPTION_HANDLERS


@get("/busy", sync_to_thread=False)
def busy() -> str:
    raise PoolTimeout("QueuePool limit of size 10 overflow 0 reached, connection timed out")


def test_a_pool_timeout_is_a_503_with_retry_after() -> None:
    app = Litestar([busy], exception_handlers=EXCEPTION_HANDLERS)
    with TestClient(app) as client:
        response = client.get("/busy")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "briefly unavailable" in response.json()["detail"]
    # The pool's words (sizes, limits) are not the client's business.
    assert "QueuePool" not in response.text
