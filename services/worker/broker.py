"""The broker: Redis in production, dramatiq's in-process StubBroker in the embedded mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from services.worker.actors import REQUEST_ID_OPTION, declare_actors
from shared.logging import current_request_id
from shared.settings import Settings

# Out of dramatiq's 1,000,000: one command in 50 runs maintenance (a few Redis reads).
MAINTENANCE_CHANCE = 20_000


def create_broker(settings: Settings, *, namespace: str | None = None) -> Broker:
    broker: Broker
    if settings.redis_url:
        broker = RedisBroker(
            url=settings.redis_url,
            namespace=namespace or settings.redis_namespace,
            # A dead worker's unacknowledged messages go back to the queue once it has been
            # silent this long, on a maintenance pass. Every Redis command a worker sends is a
            # heartbeat (its idle delay-queue consumer polls every 100 ms), and with
            # MAINTENANCE_CHANCE a pass comes every second or so, where dramatiq's default
            # (60 s, 1 in 1,000) left them for minutes.
            heartbeat_timeout=int(settings.broker_heartbeat_timeout_seconds * 1000),
            maintenance_chance=MAINTENANCE_CHANCE,
        )
    else:
        broker = StubBroker()
    declare_actors(broker)
    return broker


class BrokerPublisher:
    """The outbox relay's way out: a message per event, by actor name, carrying ids only, and
    the event's request id as a message option (actors.RequestIds binds it in the worker)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def publish(self, actor: str, args: Sequence[object]) -> None:
        request_id = current_request_id()
        options: dict[str, Any] = {REQUEST_ID_OPTION: request_id} if request_id else {}
        self.broker.get_actor(actor).send_with_options(args=tuple(args), **options)
