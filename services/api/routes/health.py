from __future__ import annotations

from litestar import Controller, get
from sqlalchemy import text

from services.api.context import ApiContext


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {"public": True}

    @get("/", sync_to_thread=True, summary="Check the API is up", operation_id="checkHealth")
    def health(self, context: ApiContext) -> dict[str, str]:
        """Answers {"status": "ok"} when the API can reach its database; for load balancers
        and monitoring. No credentials needed."""
        with context.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok"}
