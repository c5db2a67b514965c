"""The outbox relay's CPU per event: events written straight into the outbox, then relayed in
this process to the real Redis broker, as production's relay does (the system role, dramatiq's
RedisBroker); beside the same number of bare enqueues and a relay to a publisher that does
nothing, so the database's share and the broker's share can be told apart.

    python -m bench.relay [--events 2000] [--rounds 3] [--batch 500] [--singles 300]

A pass that finds one event (the relay woken after each answer) pays the transaction's fixed
cost for that one event: the "one event per pass" row writes an event, relays it, and counts
only the relay's CPU. Logging is configured at ATTUNE_LOG_LEVEL (WARNING by default, as the
benchmarks' served processes run; at INFO each event is also a log line).

CPU is this process's own (time.process_time): the relay's work in Python, the driver and
dramatiq, not PostgreSQL's or Redis's. No worker runs, so the messages stay in Redis; the run's
namespace is emptied at the end.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import Engine, create_engine, text

from bench.support import (
    OWNER_URL,
    REDIS_URL,
    fresh_database,
    machine_note,
    production_database,
    table,
)
from services.worker.broker import BrokerPublisher, create_broker
from shared.clock import SystemClock
from shared.db import Database
from shared.logging import configure_logging
from shared.outbox import Publisher, relay
from shared.settings import Settings


class Nowhere:
    """A publisher that takes every message and sends it nowhere: the relay's own cost."""

    def publish(self, actor: str, args: Sequence[object]) -> None:
        pass


@cache
def _owner() -> Engine:
    return create_engine(OWNER_URL)


def _write_events(count: int) -> None:
    """As the owner, in one statement: the writing is not what is measured."""
    engine = _owner()
    practice = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO outbox_event (practice_id, actor, args, created_at, request_id) "
                "SELECT CAST(:practice AS uuid), 'evaluate_response', "
                "jsonb_build_array(:practice, gen_random_uuid()::text), now(), 'bench-relay' "
                "FROM generate_series(1, :count)"
            ),
            {"practice": practice, "count": count},
        )


def _one_per_pass(db: Database, publisher: Publisher, count: int) -> tuple[float, float, int]:
    clock = SystemClock()
    cpu = wall = 0.0
    done = 0
    for _ in range(count):
        _write_events(1)
        began_cpu, began_wall = time.process_time(), time.perf_counter()
        done += relay(db, publisher, clock)
        cpu += time.process_time() - began_cpu
        wall += time.perf_counter() - began_wall
    return cpu * 1000 / max(1, done), wall * 1000 / max(1, done), done


def _cpu_ms_per(count: int, work: Callable[[], int]) -> tuple[float, float, int]:
    """(CPU ms per item, wall ms per item, items done)."""
    cpu, wall = time.process_time(), time.perf_counter()
    done = work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu * 1000 / max(1, done), wall * 1000 / max(1, done), done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--singles", type=int, default=300)
    args = parser.parse_args()
    configure_logging(os.environ.get("ATTUNE_LOG_LEVEL", "WARNING"))
    print(f"outbox relay; {machine_note()}")

    fresh_database()
    settings = Settings(redis_url=REDIS_URL, redis_namespace=f"attune-bench-relay-{os.getpid()}")
    broker = create_broker(settings)
    publisher = BrokerPublisher(broker)
    db = production_database()
    clock = SystemClock()
    rows: list[list[object]] = []

    def bare_enqueues() -> int:
        practice = str(uuid.uuid4())
        for _ in range(args.events):
            publisher.publish("evaluate_response", [practice, str(uuid.uuid4())])
        return args.events

    try:
        for round_ in range(1, args.rounds + 1):
            for name, run in (
                ("relay() to Redis", lambda: relay(db, publisher, clock, batch=args.batch)),
                ("relay() to nowhere", lambda: relay(db, Nowhere(), clock, batch=args.batch)),
                ("bare publish to Redis, no database", bare_enqueues),
            ):
                if name.startswith("relay"):
                    _write_events(args.events)
                cpu, wall, done = _cpu_ms_per(args.events, run)
                if done != args.events:
                    raise SystemExit(f"{name}: {done} of {args.events} went out")
                rows.append([f"{name} (round {round_})", done, f"{cpu:.3f}", f"{wall:.3f}"])
            cpu, wall, done = _one_per_pass(db, publisher, args.singles)
            if done != args.singles:
                raise SystemExit(f"one per pass: {done} of {args.singles} went out")
            rows.append(
                [
                    f"relay() to Redis, one event per pass (round {round_})",
                    done,
                    f"{cpu:.3f}",
                    f"{wall:.3f}",
                ]
            )
    finally:
        broker.flush_all()  # type: ignore[attr-defined]
        broker.close()
        db.dispose()
    table(
        f"Outbox relay, {args.events} events per run, batches of {args.batch}, "
        f"{datetime.now(UTC):%H:%M} UTC",
        ["what", "events", "CPU ms/event", "wall ms/event"],
        rows,
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
