"""SmtpMailer keeps one connection per thread: counted at a real aiosmtpd server, which sees
each client connection as a peer (its source port), and against servers that hang up.

The guarantee under test is the one the notification log depends on: a kept connection that
has gone away before the server took MAIL FROM is replaced and the message sent once on the
new one; anything that fails later is reported, never silently sent again.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.email.smtp import TransientDeliveryError
from tests.integration.test_smtp import (
    Recorder,
    make_mailer,
    make_message,
    smtp_server,
)


class Sessions(Recorder):
    """Records each message with the client connection it came over, and each QUIT."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: list[object] = []
        self.quits = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.peers.append(session.peer)
        return await super().handle_DATA(server, session, envelope)

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.quits += 1
        return "221 Bye"

    def subjects(self) -> list[str]:
        return [str(received.parsed()["Subject"]) for received in self.received]


class HangUpAfterEach(Sessions):
    """Takes each message, answers 250, then closes the connection: as a relay does that
    limits messages per connection, or restarts between two of ours."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        transport = server.transport
        assert transport is not None
        # After the reply is written: close() flushes it first.
        asyncio.get_running_loop().call_soon(transport.close)
        return reply


class ClosingOnSecondMail(Sessions):
    """Answers the second MAIL FROM of a connection with 421 (RFC 5321: the server is closing
    the channel) and closes it."""

    def __init__(self) -> None:
        super().__init__()
        self.mails: dict[object, int] = {}

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.mails[session.peer] = self.mails.get(session.peer, 0) + 1
        if self.mails[session.peer] == 2:
            transport = server.transport
            assert transport is not None
            asyncio.get_running_loop().call_soon(transport.close)
            return "421 4.4.2 closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"


class DropAfterSecondData(Sessions):
    """Reads a connection's second message whole, then vanishes without answering: the
    ambiguous case, on a kept connection."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.peers.count(session.peer) == 2:
            assert server.transport is not None
            server.transport.abort()
        return reply


def test_messages_from_one_thread_share_one_connection() -> None:
    server = Sessions()
    with smtp_server(server) as port:
        mailer = make_mailer(port)
        for number in range(5):
            mailer.send(make_message(subject=f"message {number}"))
        mailer.close()

    assert server.subjects() == [f"message {number}" for number in range(5)]
    assert len(set(server.peers)) == 1
    assert server.quits == 1


def test_each_thread_has_its_own_connection() -> None:
    server = Sessions()
    with smtp_server(server) as port:
        mailer = make_mailer(port)

        def send_three(thread: int) -> None:
            for number in range(3):
                mailer.send(make_message(subject=f"thread {thread} message {number}"))
            mailer.close()

        threads = [threading.Thread(target=send_three, args=(t,)) for t in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    assert sorted(server.subjects()) == sorted(
        f"thread {t} message {n}" for t in range(2) for n in range(3)
    )
    assert len(set(server.peers)) == 2
    assert server.quits == 2


def test_a_connection_the_server_closed_is_replaced_and_each_message_goes_once() -> None:
    server = HangUpAfterEach()
    with smtp_server(server) as port:
        mailer = make_mailer(port)
        for number in range(4):
            mailer.send(make_message(subject=f"message {number}"))

    assert server.subjects() == [f"message {number}" for number in range(4)]
    assert len(set(server.peers)) == 4


def test_a_421_at_mail_on_a_kept_connection_sends_it_once_on_a_new_one() -> None:
    server = ClosingOnSecondMail()
    with smtp_server(server) as port:
        mailer = make_mailer(port)
        mailer.send(make_message(subject="first"))
        mailer.send(make_message(subject="second"))

    assert server.subjects() == ["first", "second"]
    first_connection, second_connection = server.peers
    assert first_connection != second_connection


def test_a_drop_after_data_on_a_kept_connection_is_reported_not_resent() -> None:
    server = DropAfterSecondData()
    with smtp_server(server) as port:
        mailer = make_mailer(port)
        mailer.send(make_message(subject="first"))
        # The server has the whole message but never said 250: the caller decides (the
        # notification waits for its backoff), the mailer does not send it again by itself.
        with pytest.raises(TransientDeliveryError):
            mailer.send(make_message(subject="second"))
        assert server.subjects() == ["first", "second"]
        mailer.send(make_message(subject="third"))

    assert server.subjects() == ["first", "second", "third"]
    assert len(set(server.peers)) == 2


def test_an_idle_connection_is_not_trusted() -> None:
    server = Sessions()
    with smtp_server(server) as port:
        mailer = make_mailer(port, idle_limit=0)
        for number in range(3):
            mailer.send(make_message(subject=f"message {number}"))
        mailer.close()

    assert len(set(server.peers)) == 3
    assert server.quits == 3
