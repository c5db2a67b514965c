"""The broker: Redis in production, dramatiq's in-process StubBroker in the embedded mode."""

from __future__ import annotations

from collections.abc import Sequence

from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from services.worker.actors import declare_actors
from shared.settings import Settings


def create_broker(settings: Settings, *, namespace: str | None = None) -> Broker:
    broker: Broker
    if settings.redis_url:
        broker = RedisBroker(
            url=settings.redis_url, namespace=namespace or settings.redis_namespace
        )
    else:
        broker = StubBroker()
    declare_actors(broker)
    return broker


class BrokerPublisher:
    """The outbox relay's way out: a message per event, by actor name, carrying ids only."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def publish(self, actor: str, args: Sequence[object]) -> None:
        self.broker.get_actor(actor).send(*args)
