"""An SMTP server that holds the first message's DATA until the test lets it go.

While it holds, the sending worker sits in the middle of a send, where the test can kill it.
A message counts as accepted only when the server can still answer 250 to its sender: an SMTP
server takes responsibility for a message with that reply (RFC 5321, 6.1), and a sender that
died before reading it was never told, so it must (and will) send again.
"""

from __future__ import annotations

import asyncio
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.email.sink import free_port

HOLD_LIMIT_SECONDS = 60


class HeldMailServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.holding = threading.Event()
        self.release = threading.Event()
        self.held: EmailMessage | None = None
        self.accepted: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="held-smtp"
        )

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
        assert isinstance(message, EmailMessage)
        if self.held is None:
            self.held = message
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(
                None, self.release.wait, HOLD_LIMIT_SECONDS
            )
            if server.transport is None or server.transport.is_closing():
                return "451 4.4.2 sender went away before the reply"
        with self._lock:
            self.accepted.append(message)
        return "250 2.0.0 accepted"

    def accepted_messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.accepted)

    def __enter__(self) -> HeldMailServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.release.set()
        self._controller.stop()
