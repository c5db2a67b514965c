"""The raw limit for an API write: a bare Litestar endpoint doing one INSERT, with the same
driver (psycopg 3 through SQLAlchemy), the same pool and the same sync-in-thread handler style
as the real API. Serve it with `python -m uvicorn bench.bare_app:app`."""

from __future__ import annotations

import os
from typing import Annotated, Any
from uuid import uuid4

from litestar import Litestar, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from sqlalchemy import text

from shared.db import create_database

db = create_database(os.environ["ATTUNE_DATABASE_URL"])
CREATE = "CREATE TABLE IF NOT EXISTS bench_bare (id uuid PRIMARY KEY, body text NOT NULL)"


@post("/insert", sync_to_thread=True, status_code=200)
def insert(
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> str:
    with db.transaction() as session:
        session.execute(
            text("INSERT INTO bench_bare (id, body) VALUES (:id, :body)"),
            {"id": uuid4(), "body": repr(sorted(data.items()))},
        )
    return "saved"


@get("/health", sync_to_thread=False)
def health() -> str:
    return "ok"


def _create_table() -> None:
    with db.transaction() as session:
        session.execute(text(CREATE))


app = Litestar([insert, health], on_startup=[_create_table], debug=False)
