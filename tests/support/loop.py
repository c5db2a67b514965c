"""Drive the loop deterministically: publish the outbox, let the workers finish, tick."""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.message import EmailMessage

from services.bootstrap import Stack
from services.worker.scheduler import TickReport, tick
from shared.email.sink import MailSink
from shared.outbox import Publisher


class TwicePublisher:
    """Delivers every message twice, as an at-least-once broker may."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner

    def publish(self, actor: str, args: Sequence[object]) -> None:
        self.inner.publish(actor, args)
        self.inner.publish(actor, args)


class Nowhere:
    """A broker that loses every message: what the sweeps must bring back."""

    def publish(self, actor: str, args: Sequence[object]) -> None:
        return None


def settle(stack: Stack, publisher: Publisher | None = None) -> None:
    stack.settle(publisher)


def tick_and_settle(stack: Stack, publisher: Publisher | None = None) -> TickReport:
    settle(stack, publisher)
    report = tick(stack.db, stack.clock, publisher or stack.publisher)
    settle(stack, publisher)
    return report


def messages(sink: MailSink) -> list[EmailMessage]:
    found = [sink.get_message(stored.id) for stored in reversed(sink.list_messages())]
    return [message for message in found if message is not None]


def addressed_to(sink: MailSink, address: str) -> list[EmailMessage]:
    return [m for m in messages(sink) if address in str(m["To"])]


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()  # type: ignore[no-any-return]


def links(message: EmailMessage) -> list[str]:
    return re.findall(r'href="([^"]+)"', body(message, "html"))
