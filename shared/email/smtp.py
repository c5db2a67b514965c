"""Handing a rendered message to an SMTP server, and deciding whether a failure is worth a retry.

The worker owns retries (see `retry_delay`); this module only sends once and classifies the
outcome. Every failure becomes a `TransientDeliveryError` (try again later) or a
`PermanentDeliveryError` (retrying cannot help), each with a `reason` that is safe to store and
log: the SMTP code and the server's text with any email address blanked out.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

from shared.email.message import OutgoingEmail

if TYPE_CHECKING:
    from shared.settings import Settings

Security = Literal["none", "starttls", "ssl"]

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)

# Stored reasons end up in database rows and logs; a server can answer with a whole paragraph.
_REASON_MAX_CHARS = 200
# Servers often echo the refused address ("550 5.1.1 <ann@example.org>: unknown user"); the
# design forbids addresses in stored data and logs, so anything shaped like one is blanked.
_ADDRESS_RE = re.compile(r"[^\s<>\"'(),;:\[\]]+@[^\s<>\"'(),;:\[\]]+")


class DeliveryError(Exception):
    """Base for both outcomes, so a caller can catch either with one clause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    """The server or the network said "not now": the same message may go through later."""


class PermanentDeliveryError(DeliveryError):
    """The server refused for good (or our configuration is wrong): retrying cannot help."""


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after `attempts` failed sends: 30 s, 1 min, 2 min, ... capped at 1 h.

    Deterministic on purpose (no jitter): the scheduler stores the next try in the database,
    and tests assert exact times. Values below 1 count as 1.
    """
    doublings = max(attempts, 1) - 1
    # Bound the exponent before computing it, so a runaway attempt counter stays cheap.
    if doublings >= 32:
        return RETRY_CAP
    factor: int = 2**doublings  # typeshed's int ** int is Any (a negative power is a float)
    return min(RETRY_BASE * factor, RETRY_CAP)


# A connection left unused this long is closed and opened afresh rather than trusted: relays
# drop idle sessions (Postfix after 300 s), and a NAT box may drop one without a word, which
# would cost a whole timeout to find out. Busy threads never reach it.
IDLE_LIMIT_SECONDS = 30.0


class _Session(smtplib.SMTP):
    """An SMTP connection that notes whether the server has accepted MAIL FROM for the
    current message: until it has, nothing of the message was handed over, so a connection
    found dead by then may be replaced and the message sent on the new one."""

    mail_accepted = False

    def mail(self, sender: str, options: Sequence[str] = ()) -> tuple[int, bytes]:
        reply = super().mail(sender, options)
        self.mail_accepted = reply[0] == 250
        return reply


class _SslSession(_Session, smtplib.SMTP_SSL):
    pass


@dataclass
class _Held:
    connection: _Session
    used_at: float  # time.monotonic()


class SmtpMailer:
    """Sends over one SMTP connection per thread, kept open from message to message.

    A worker thread sends one message at a time, so its connection is never shared; opening
    one per message cost the relay's greeting, EHLO, TLS and login, and QUIT, every time. A
    kept connection that turns out dead (the relay timed it out, the network reset it) before
    the relay accepted MAIL FROM is replaced at once and the message sent on the new one:
    nothing had been handed over. A failure after that point is classified as before and the
    connection dropped, so an ambiguous send is never repeated here. `close()` ends the
    calling thread's connection (the worker calls it as each thread shuts down).
    """

    def __init__(
        self,
        host: str,
        port: int,
        security: Security = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        idle_limit: float = IDLE_LIMIT_SECONDS,
    ) -> None:
        if security not in get_args(Security):
            raise ValueError(f"unknown SMTP security mode {security!r}")
        if timeout <= 0:
            raise ValueError("SMTP timeout must be positive")
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        # Verifying by default: tests pass a context that trusts their throwaway certificate.
        self.ssl_context = ssl_context if ssl_context is not None else ssl.create_default_context()
        # None lets smtplib use the machine's FQDN in EHLO, which is what relays expect.
        self.local_hostname = local_hostname
        self.idle_limit = idle_limit
        self._threads = threading.local()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, ssl_context: ssl.SSLContext | None = None
    ) -> SmtpMailer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
            ssl_context=ssl_context,
        )

    def __repr__(self) -> str:
        # Leaves out the password.
        return (
            f"SmtpMailer(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, timeout={self.timeout})"
        )

    def send(self, message: OutgoingEmail, *, accepted: Callable[[], None] | None = None) -> None:
        """Deliver `message` to its envelope's recipients.

        Returns once the server has accepted the message for every recipient. Raises
        TransientDeliveryError or PermanentDeliveryError otherwise. Anything else that escapes
        (a ValueError from a malformed message, say) is a bug in the caller, not a delivery
        outcome.

        `accepted` is called the moment the server has answered 250 to the whole message,
        before anything else: the caller records the delivery with nothing in between (an
        exception it raises is the caller's own and passes through unclassified).
        """
        connection, kept = self._connection()
        try:
            refused = self._send_on(connection, message)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            if not (kept and _went_away_before_mail(connection, exc)):
                raise _classify(exc) from exc
            connection, _ = self._connection()
            try:
                refused = self._send_on(connection, message)
            except (smtplib.SMTPException, OSError) as again:
                self.close()
                raise _classify(again) from again
            except BaseException:
                self.close()
                raise
        except BaseException:
            # Whatever state the session is in now, the next message gets a fresh one.
            self.close()
            raise
        if refused:
            # smtplib only raises when every recipient is refused. The others already have
            # the message, so a retry would send it to them twice: report the partial refusal
            # as final instead. (Attune sends to one recipient per message, so this is rare.)
            raise PermanentDeliveryError(
                _safe_reason(
                    f"{len(refused)} recipient(s) refused: "
                    + "; ".join(_reply_text(code, text) for code, text in refused.values())
                )
            )
        if accepted is not None:
            accepted()

    def close(self) -> None:
        """End the calling thread's connection, if it has one."""
        held: _Held | None = getattr(self._threads, "held", None)
        self._threads.held = None
        if held is not None:
            _close_quietly(held.connection)

    def _send_on(self, connection: _Session, message: OutgoingEmail) -> dict[str, Any]:
        connection.mail_accepted = False
        self._threads.held.used_at = time.monotonic()
        refused: dict[str, Any] = connection.sendmail(
            message.sender, list(message.recipients), message.data
        )
        return refused

    def _connection(self) -> tuple[_Session, bool]:
        """This thread's connection, and whether it was kept from an earlier message."""
        held: _Held | None = getattr(self._threads, "held", None)
        if held is not None and time.monotonic() - held.used_at <= self.idle_limit:
            return held.connection, True
        self.close()
        try:
            connection = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from exc
        self._threads.held = _Held(connection, time.monotonic())
        return connection, False

    def _connect(self) -> _Session:
        connection: _Session
        if self.security == "ssl":
            connection = _SslSession(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self.ssl_context,
            )
        else:
            connection = _Session(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            if self.security == "starttls":
                # Raises SMTPNotSupportedError when STARTTLS is not offered: never fall back to
                # plaintext when the configuration asked for TLS.
                connection.starttls(context=self.ssl_context)
                # RFC 3207: forget what the server said before TLS, and ask again.
                connection.ehlo()
            if self.username:
                connection.login(self.username, self._password or "")
        except BaseException:
            _close_quietly(connection)
            raise
        return connection


def _went_away_before_mail(connection: _Session, exc: BaseException) -> bool:
    """A kept connection the server had closed (or announced closing, 421) before it took
    MAIL FROM: the message was not handed over, so another connection may send it."""
    if connection.mail_accepted:
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)


def _close_quietly(connection: smtplib.SMTP) -> None:
    # By now every message was either accepted or its failure already classified; a QUIT that
    # times out or gets an odd reply must not turn a delivered message into a retry.
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        connection.close()


def _classify(exc: smtplib.SMTPException | OSError) -> DeliveryError:
    # SMTPException is itself an OSError subclass, so the SMTP cases must come first.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        if not replies:
            return PermanentDeliveryError("message has no recipients")
        reason = _safe_reason("; ".join(_reply_text(code, text) for code, text in replies))
        # Nothing was delivered, so a retry duplicates nothing; worth it if any refusal was
        # temporary.
        if any(not _is_permanent_code(code) for code, _ in replies):
            return TransientDeliveryError(reason)
        return PermanentDeliveryError(reason)
    if isinstance(exc, smtplib.SMTPResponseException):
        # Covers sender refused, data refused, a bad greeting, HELO and AUTH failures. An AUTH
        # failure is usually 535 (wrong credentials: permanent), but RFC 4954 defines 454 as a
        # temporary authentication failure, so the code decides here too.
        reason = _safe_reason(_reply_text(exc.smtp_code, exc.smtp_error))
        if _is_permanent_code(exc.smtp_code):
            return PermanentDeliveryError(reason)
        return TransientDeliveryError(reason)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientDeliveryError(_safe_reason(f"server disconnected: {exc}"))
    if isinstance(exc, smtplib.SMTPException):
        # SMTPNotSupportedError (no STARTTLS, no AUTH, no SMTPUTF8) and "no suitable
        # authentication method": the server and our settings disagree, which no retry fixes.
        return PermanentDeliveryError(_safe_reason(f"{type(exc).__name__}: {exc}"))
    # Refused connections, timeouts, DNS failures, TLS handshake and certificate errors. A
    # certificate problem is usually fixed by an operator, after which the queued mail should
    # still go out, so it is retried rather than dropped.
    return TransientDeliveryError(_safe_reason(f"{type(exc).__name__}: {exc}"))


def _is_permanent_code(code: int) -> bool:
    # Unexpected codes (smtplib uses -1 for an unreadable reply) are treated as temporary:
    # retrying a mystery is cheaper than losing the message.
    return 500 <= code <= 599


def _reply_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{code} {text}"


def _safe_reason(text: str) -> str:
    text = _ADDRESS_RE.sub("<address>", text)
    # Multi-line replies arrive joined with newlines; a stored reason reads better on one line.
    text = " ".join(text.split())
    if len(text) > _REASON_MAX_CHARS:
        text = text[: _REASON_MAX_CHARS - 3] + "..."
    return text
