"""An SMTP server for benchmarks: aiosmtpd, keeping each message's bytes and arrival time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bench.support import free_port


@dataclass
class Arrival:
    at: float  # time.time() when DATA ended
    sender: str
    recipients: list[str]
    content: bytes

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.content)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def body(self, subtype: str) -> str:
        part = self.message().get_body(preferencelist=(subtype,))
        if part is None:
            raise ValueError(f"no text/{subtype} part")
        return str(part.get_content())


class RecordingSink:
    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="bench-sink"
        )

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        arrival = Arrival(
            at=time.time(),
            sender=envelope.mail_from or "",
            recipients=list(envelope.rcpt_tos),
            content=envelope.original_content or b"",
        )
        with self._lock:
            self.arrivals.append(arrival)
        return "250 2.0.0 accepted"

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)

    def snapshot(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def clear(self) -> None:
        with self._lock:
            self.arrivals.clear()

    def __enter__(self) -> RecordingSink:
        self._controller.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._controller.stop()
