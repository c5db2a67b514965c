"""The embedded mode's stand-in for a mail relay: an SMTP server that keeps what it receives.

Messages land in a Maildir folder rather than in memory, so the API process (which shows them
in the browser), the worker and tests can all read what another process's sink received, and
nothing is lost when the sink restarts. Maildir writes each message to tmp/ and renames it into
new/, so a reader never sees half a message.
"""

from __future__ import annotations

import logging
import mailbox
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

# Headers the sink prepends, the way a delivering MTA adds Return-Path and X-Original-To: the
# envelope can differ from the To header (Bcc), and the envelope is what was actually sent.
_RECEIVED_AT = "X-Attune-Sink-Received-At"
_ENVELOPE_TO = "X-Original-To"
_ENVELOPE_FROM = "Return-Path"


@dataclass(frozen=True)
class StoredMessage:
    id: str
    received_at: datetime  # aware, UTC
    sender: str  # the From header as a mail client would show it
    recipients: tuple[str, ...]  # envelope recipients (RCPT TO), Bcc included
    subject: str


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago.

    aiosmtpd's Controller cannot listen on port 0: after binding it connects to its own
    configured port to check the server is up, and port 0 is not where it listens. Another
    process could take the port between this call and the bind; on loopback that is rare
    enough for development and tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class _MaildirHandler:
    def __init__(self, directory: Path) -> None:
        # Only the server's event-loop thread writes, through this one Maildir object.
        self._maildir = mailbox.Maildir(directory, factory=None, create=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        received_at = datetime.now(UTC).isoformat(timespec="microseconds")
        trace = (
            f"{_RECEIVED_AT}: {received_at}\n"
            f"{_ENVELOPE_FROM}: <{envelope.mail_from or ''}>\n"
            f"{_ENVELOPE_TO}: {', '.join(envelope.rcpt_tos)}\n"
        ).encode()
        # original_content: the bytes as sent, before any decoding by aiosmtpd. SMTP carries
        # CRLF line ends; stored with local ones (as a delivering MTA does), the parsed parts
        # come back without stray carriage returns. Lossless: SMTP content has no bare LF.
        content = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        try:
            # A small blocking write is acceptable on this event loop, which serves only the sink.
            key = self._maildir.add(trace + content)
        except OSError:
            log.exception("mail sink could not store a message")
            return "451 4.3.0 Sink could not store the message"
        return f"250 2.0.0 Stored as {key}"


class MailSink:
    """Local SMTP server storing every message in a Maildir at `directory`.

    The reading methods work without start(): any process that knows the directory can list
    and open what the running sink received.
    """

    def __init__(
        self,
        directory: str | Path,
        host: str = "127.0.0.1",
        port: int = 1025,
        *,
        ready_timeout: float = 5.0,
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        # 0 picks a free port now; read `port` afterwards to learn which.
        self.port = port or free_port(host)
        self.ready_timeout = ready_timeout
        self._controller: Controller | None = None
        _ensure_maildir(self.directory)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = Controller(
            _MaildirHandler(self.directory),
            hostname=self.host,
            port=self.port,
            ready_timeout=self.ready_timeout,
            # Names the greeting; without it aiosmtpd asks socket.getfqdn(), which can stall
            # for seconds on a machine with slow DNS.
            server_hostname="attune-sink",
        )
        try:
            controller.start()
        except BaseException:
            # A failed start (port taken, say) leaves the controller's thread and loop behind.
            _stop_quietly(controller)
            raise
        self._controller = controller
        log.info("mail sink listening on %s:%d", self.host, self.port)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> MailSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def list_messages(self) -> list[StoredMessage]:
        """Every stored message, newest first."""
        maildir = self._reader()
        stored: list[StoredMessage] = []
        # Not `for key in maildir`: iterating a Mailbox yields messages, not keys.
        for key in maildir.iterkeys():
            try:
                raw = maildir.get_bytes(key)
            except KeyError:
                # Deleted by someone else between listing and reading.
                continue
            headers = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
            stored.append(_summary(key, headers))
        # The id breaks ties so that the order is stable between calls.
        stored.sort(key=lambda m: (m.received_at, m.id), reverse=True)
        return stored

    def get_message(self, id: str) -> EmailMessage | None:
        try:
            # Keys are looked up in Maildir's own table of contents, so an id cannot be used to
            # reach a file outside the folder.
            raw = self._reader().get_bytes(id)
        except KeyError:
            return None
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
        return parsed

    def _reader(self) -> mailbox.Maildir:
        # A fresh instance per call: Maildir caches its table of contents, and readers may run
        # on other threads than the writer.
        return mailbox.Maildir(self.directory, factory=None, create=False)


def _ensure_maildir(directory: Path) -> None:
    # mailbox.Maildir(create=True) makes only the last directory and does nothing for a
    # folder that exists without tmp/new/cur, so lay out the whole structure here.
    for sub in ("tmp", "new", "cur"):
        (directory / sub).mkdir(parents=True, exist_ok=True)


def _summary(key: str, headers: Message) -> StoredMessage:
    received_at = _parse_received_at(headers.get(_RECEIVED_AT), key)
    envelope_to = str(headers.get(_ENVELOPE_TO, ""))
    return StoredMessage(
        id=key,
        received_at=received_at,
        sender=str(headers.get("From", "")),
        recipients=tuple(a.strip() for a in envelope_to.split(",") if a.strip()),
        subject=str(headers.get("Subject", "")),
    )


def _parse_received_at(value: object, key: str) -> datetime:
    if value is not None:
        try:
            return datetime.fromisoformat(str(value)).astimezone(UTC)
        except ValueError:
            pass
    # A file put in the folder by something other than the sink: Maildir keys start with the
    # delivery time in whole seconds.
    try:
        return datetime.fromtimestamp(int(key.split(".", 1)[0]), UTC)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)


def _stop_quietly(controller: Controller) -> None:
    try:
        controller.stop(no_assert=True)
        # When binding failed the loop never ran, so nothing else closes it.
        controller.loop.close()
    except Exception:
        log.debug("cleanup after a failed mail sink start also failed", exc_info=True)
