"""The raw limit for a worker's reaction: a dramatiq actor on the same Redis broker doing one
INSERT with the same driver. Run with `python -m dramatiq bench.raw_actor --processes 1
--threads 1`; the namespace and database come from the ATTUNE_* environment."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import text

from shared.db import create_database

broker = RedisBroker(
    url=os.environ["ATTUNE_REDIS_URL"], namespace=os.environ["ATTUNE_REDIS_NAMESPACE"] + "-raw"
)
dramatiq.set_broker(broker)
db = create_database(os.environ["ATTUNE_DATABASE_URL"])
CREATE = "CREATE TABLE IF NOT EXISTS bench_touch (marker text PRIMARY KEY)"


@dramatiq.actor(queue_name="raw", max_retries=0)
def touch(marker: str) -> None:
    with db.transaction() as session:
        session.execute(
            text("INSERT INTO bench_touch (marker) VALUES (:marker)"), {"marker": marker}
        )
