"""A worker is killed with SIGKILL in the middle of sending an email: the notification is
queued again, another worker sends it, and the email arrives exactly once.

Production mode only: real `attune worker` processes on Redis and PostgreSQL, and an SMTP
server that holds the first message's DATA until the worker is dead. The redelivery comes
from the scheduler's sweep, which puts back claims left in 'sending' (dramatiq itself only
re-queues a dead worker's message after its heartbeat times out, and that message finds the
claim taken and does nothing). The test drives the sweep by moving its clock past the
sweep's threshold instead of waiting for it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from sqlmodel import select

from services.bootstrap import build_stack
from services.worker.actors import QUEUE
from services.worker.scheduler import tick
from shared.clock import ManualClock
from shared.db import Database
from shared.models import Invitation, Notification, NotificationStatus
from shared.notifications.queue import SWEEP_AFTER
from shared.outbox import relay
from shared.settings import Settings
from tests.support.held_smtp import HeldMailServer
from tests.support.practice import create_practice
from tests.support.processes import end, environment, logs_of, poll, start
from tests.support.redis_server import PrivateRedis
from tests.support.server import serving

pytestmark = pytest.mark.postgres


@pytest.fixture
def held() -> Iterator[HeldMailServer]:
    with HeldMailServer() as running:
        yield running


def _redeliver_dead_workers_messages(config: Settings, namespace: str) -> None:
    """What dramatiq's maintenance does on a random pass once a worker's heartbeat is older
    than its timeout: here on every command, with a 3 s timeout. `join` returns when every
    message, the dead worker's included, has been processed and acknowledged."""
    assert config.redis_url is not None
    maintenance = RedisBroker(
        url=config.redis_url,
        namespace=namespace,
        heartbeat_timeout=3_000,
        maintenance_chance=MAINTENANCE_SCALE,
    )
    try:
        maintenance.join(QUEUE, timeout=30_000)
    finally:
        maintenance.close()


def _notification(db: Database) -> Notification | None:
    with db.transaction() as session:
        return session.exec(select(Notification)).first()


def test_a_worker_killed_mid_send_is_redelivered_and_the_email_arrives_once(
    settings: Settings, db: Database, owner_db: Database, held: HeldMailServer, tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC))
    with PrivateRedis(tmp_path) as redis_server:
        config = settings.model_copy(update={"redis_url": redis_server.url, "smtp_port": held.port})
        env = environment(config, ATTUNE_BASE_URL="http://attune.test")
        stack = build_stack(config, clock=clock, namespace=env["ATTUNE_REDIS_NAMESPACE"])
        workers = [start(["worker", "--threads", "1", "--ops-port", "0"], env, tmp_path)]
        try:
            with (
                serving(stack.api()) as base_url,
                httpx.Client(base_url=base_url, timeout=30) as http,
            ):
                practice = create_practice(http, slug="killed")
                body = http.get("/api/v1/settings", headers=practice.as_owner()).json()
                body["settings"]["timing"]["survey_delay_minutes"] = 0
                body["settings"]["timing"]["quiet_hours"] = None
                updated = http.put(
                    "/api/v1/settings", json=body["settings"], headers=practice.as_owner()
                )
                assert updated.status_code == 200, updated.text
                practice.book("k-1", clock.now() - timedelta(hours=1))
                practice.complete("k-1")

            relay(stack.db, stack.publisher, clock)

            def invitation_scheduled() -> bool:
                with owner_db.transaction() as session:
                    return session.exec(select(Invitation)).first() is not None

            assert poll(invitation_scheduled, seconds=30), logs_of(tmp_path)
            clock.advance(timedelta(seconds=1))
            assert tick(stack.db, clock, stack.publisher).invitations_sent == 1
            assert poll(held.holding.is_set, seconds=30), logs_of(tmp_path)

            first = workers[0]
            os.kill(first.pid, signal.SIGKILL)
            assert first.wait(timeout=10) == -signal.SIGKILL
            held.release.set()
            stuck = _notification(owner_db)
            assert stuck is not None
            assert stuck.status is NotificationStatus.SENDING
            assert held.accepted_messages() == []

            workers.append(start(["worker", "--threads", "1", "--ops-port", "0"], env, tmp_path))
            assert stuck.claimed_at is not None
            clock.set(stuck.claimed_at + 2 * SWEEP_AFTER + timedelta(seconds=1))
            assert tick(stack.db, clock, stack.publisher).notifications_requeued >= 1

            def sent() -> bool:
                current = _notification(owner_db)
                return current is not None and current.status is NotificationStatus.SENT

            assert poll(sent, seconds=30), logs_of(tmp_path)
            # Later sweeps find nothing. Then dramatiq's own redelivery of the dead worker's
            # message, hastened: it reaches the live worker, finds the email sent and stops.
            clock.advance(2 * SWEEP_AFTER + timedelta(seconds=1))
            assert tick(stack.db, clock, stack.publisher).notifications_requeued == 0
            _redeliver_dead_workers_messages(config, env["ATTUNE_REDIS_NAMESPACE"])

            accepted = held.accepted_messages()
            assert len(accepted) == 1
            assert "robin.client@killed.example.com" in str(accepted[0]["To"])
            assert held.held is not None
            assert accepted[0]["Message-ID"] == held.held["Message-ID"]
            final = _notification(owner_db)
            assert final is not None
            assert final.attempts == 2
        finally:
            end(workers)
            stack.stop()
