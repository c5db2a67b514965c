"""SmtpMailer and MailSink against real SMTP servers on loopback.

Every server here is a real aiosmtpd instance (or, for broken servers, a plain socket) on
127.0.0.1, so the tests exercise smtplib's actual behaviour: what it raises, when, and what
the server sees. Client timeouts are short, so a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from shared.email.message import OutgoingEmail
from shared.email.sink import MailSink, StoredMessage, free_port
from shared.email.smtp import (
    DeliveryError,
    PermanentDeliveryError,
    SmtpMailer,
    TransientDeliveryError,
    retry_delay,
)
from shared.settings import Settings

HOST = "127.0.0.1"
TIMEOUT = 2.0
# For the tests that wait on a silent server: long enough for loopback, short for the suite.
SHORT_TIMEOUT = 0.5
RECIPIENT = "ann.client@example.org"
SENDER = "Northside Wellbeing <no-reply@attune.example>"
USERNAME = "clinic-relay"
PASSWORD = "correct horse battery"


# --------------------------------------------------------------------------- helpers


def make_message(
    to: str = RECIPIENT, subject: str = "How did today's session feel?", **extra: str
) -> OutgoingEmail:
    """A message as delivery hands it to the mailer; a Cc or Bcc adds an envelope recipient
    (a Bcc only there)."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["List-Unsubscribe"] = "<https://attune.example/u/tok123>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    recipients = [parseaddr(to)[1]]
    for name, value in extra.items():
        header = name.replace("_", "-")
        if header in ("Cc", "Bcc"):
            recipients.append(parseaddr(value)[1])
        if header != "Bcc":
            message[header] = value
    message.set_content("Tap a number to answer.\n")
    message.add_alternative("<p>Tap a number to answer.</p>", subtype="html")
    return OutgoingEmail(
        sender=parseaddr(SENDER)[1],
        recipients=tuple(recipients),
        message_id="<test@attune.example>",
        data=message.as_bytes(policy=policy.SMTP),
    )


def make_mailer(port: int, **kwargs: Any) -> SmtpMailer:
    kwargs.setdefault("timeout", TIMEOUT)
    return SmtpMailer(HOST, port, local_hostname="attune-test", **kwargs)


@dataclass
class Received:
    mail_from: str | None
    rcpt_tos: list[str]
    content: bytes
    over_tls: bool
    authenticated: bool | None
    peer: object  # the client's address and port: one per connection

    def parsed(self) -> EmailMessage:
        # SMTP carries CRLF line ends; a delivering MTA stores local ones, and so do we here.
        message = BytesParser(policy=policy.default).parsebytes(
            self.content.replace(b"\r\n", b"\n")
        )
        assert isinstance(message, EmailMessage)
        return message


class Recorder:
    """Accepts everything and remembers it, with what the session looked like."""

    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.original_content or b"",
                over_tls=session.ssl is not None,
                authenticated=session.authenticated,
                peer=session.peer,
            )
        )
        return "250 2.0.0 OK"


class Refuser(Recorder):
    """Answers `reply` at one stage of the transaction, `failures` times (None: forever).

    `{address}` in the reply is replaced by the address in that command, because real servers
    echo it and the stored reason must not.
    """

    def __init__(self, stage: str, reply: str, failures: int | None = None) -> None:
        super().__init__()
        self.stage = stage
        self.reply = reply
        self.failures = failures
        self.refused = 0

    def _should_refuse(self, stage: str) -> bool:
        if stage != self.stage or (self.failures is not None and self.refused >= self.failures):
            return False
        self.refused += 1
        return True

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._should_refuse("MAIL"):
            return self.reply.format(address=address)
        # Defining the hook replaces aiosmtpd's default, so record the sender ourselves.
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self._should_refuse("RCPT"):
            return self.reply.format(address=address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self._should_refuse("DATA"):
            return self.reply
        return await super().handle_DATA(server, session, envelope)


class RefuseOneRecipient(Recorder):
    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == self.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class DropAfterData:
    """Reads the whole message, then vanishes without answering: the ambiguous case."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None
        # abort(), not close(): after close() asyncio still writes the reply we return.
        server.transport.abort()
        return "250 OK"


class StallAfterData:
    """Reads the whole message, then never answers."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Cancelled when the controller stops.
        await asyncio.Event().wait()
        return "250 OK"


def accept_only(login: bytes, password: bytes) -> Any:
    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == login
            and auth_data.password == password
        )
        # handled=False lets aiosmtpd send its standard 235 / 535 replies.
        return AuthResult(success=ok, handled=False)

    return authenticator


@contextmanager
def smtp_server(handler: object, **kwargs: Any) -> Iterator[int]:
    """A real aiosmtpd server on a free loopback port; yields the port."""
    controller = Controller(
        handler,
        hostname=HOST,
        port=free_port(HOST),
        # Without it aiosmtpd calls socket.getfqdn(), slow on machines with poor DNS.
        server_hostname="test-smtp",
        ready_timeout=5.0,
        **kwargs,
    )
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@contextmanager
def raw_server(greeting: bytes) -> Iterator[int]:
    """Accepts one connection, sends `greeting` (maybe nothing) and hangs up."""
    listener = socket.create_server((HOST, 0))
    listener.settimeout(TIMEOUT)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            if greeting:
                connection.sendall(greeting)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(TIMEOUT)


# --------------------------------------------------------------------------- TLS material


def _write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if importlib.util.find_spec("cryptography") is not None:
        _self_signed_with_cryptography(cert, key)
    elif shutil.which("openssl"):
        _self_signed_with_openssl(directory, cert, key)
    else:
        raise RuntimeError("the TLS tests need the cryptography package or the openssl command")
    return cert, key


def _self_signed_with_openssl(directory: Path, cert: Path, key: Path) -> None:
    # A config file rather than -subj/-addext, so no distribution default leaks in and the
    # extensions are exactly those that strict verification (VERIFY_X509_STRICT) expects.
    config = directory / "openssl.cnf"
    config.write_text(
        "[req]\n"
        "distinguished_name = dn\n"
        "x509_extensions = ext\n"
        "prompt = no\n"
        "[dn]\n"
        "CN = localhost\n"
        "[ext]\n"
        "basicConstraints = critical, CA:TRUE\n"
        "keyUsage = critical, digitalSignature, keyCertSign\n"
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n"
    )
    subprocess.run(
        [
            "openssl", "req", "-x509", "-nodes", "-days", "2",
            "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-config", str(config), "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip


def _self_signed_with_cryptography(cert: Path, key: Path) -> None:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    public_key = private_key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(private_key, hashes.SHA256())
    )
    key.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _write_self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    return context


@pytest.fixture
def client_tls(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    # Full verification against our throwaway certificate, not CERT_NONE: the test then
    # proves the hostname check passes for 127.0.0.1. Strict mode is what Python 3.13 turns on
    # by default, so the certificate keeps working there.
    context = ssl.create_default_context(cafile=str(tls_files[0]))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


# --------------------------------------------------------------------------- delivery


def test_accepted_message_arrives_with_headers_intact() -> None:
    recorder = Recorder()
    subject = "Wie fühlte sich die Sitzung heute an?"
    with smtp_server(recorder) as port:
        make_mailer(port).send(make_message(subject=subject, X_Attune_Notification="nudge:42"))

    [received] = recorder.received
    assert received.rcpt_tos == [RECIPIENT]
    assert received.mail_from == "no-reply@attune.example"
    assert not received.over_tls
    message = received.parsed()
    assert message["Subject"] == subject
    assert message["From"] == SENDER
    assert message["To"] == RECIPIENT
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Attune-Notification"] == "nudge:42"
    assert message.get_body(("plain",)).get_content() == "Tap a number to answer.\n"  # type: ignore[union-attr]
    assert "<p>Tap a number" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_an_envelope_only_recipient_is_delivered_but_not_disclosed() -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        make_mailer(port).send(make_message(Bcc="audit@attune.example"))

    [received] = recorder.received
    assert sorted(received.rcpt_tos) == [RECIPIENT, "audit@attune.example"]
    assert received.parsed()["Bcc"] is None


def test_451_is_transient_and_the_retry_goes_through() -> None:
    refuser = Refuser("RCPT", "451 4.3.0 Try again later", failures=1)
    with smtp_server(refuser) as port:
        mailer = make_mailer(port)
        with pytest.raises(TransientDeliveryError) as first:
            mailer.send(make_message())
        mailer.send(make_message())

    assert first.value.reason == "451 4.3.0 Try again later"
    assert len(refuser.received) == 1
    assert refuser.received[0].rcpt_tos == [RECIPIENT]


def test_550_is_permanent_and_the_reason_hides_the_address() -> None:
    refuser = Refuser("RCPT", "550 5.1.1 <{address}>: Recipient address rejected")
    with smtp_server(refuser) as port:
        mailer = make_mailer(port)
        for _ in range(2):  # it keeps refusing; each send gets the same verdict
            with pytest.raises(PermanentDeliveryError) as refused:
                mailer.send(make_message())
            assert refused.value.reason.startswith("550 5.1.1")
            assert "Recipient address rejected" in refused.value.reason
            assert RECIPIENT not in refused.value.reason
            assert "ann.client" not in refused.value.reason
            assert str(refused.value) == refused.value.reason

    assert refuser.received == []


@pytest.mark.parametrize(
    ("stage", "reply", "expected"),
    [
        ("MAIL", "451 4.3.0 Sender check unavailable", TransientDeliveryError),
        ("MAIL", "553 5.7.1 <{address}>: Sender address rejected", PermanentDeliveryError),
        ("RCPT", "450 4.2.0 <{address}>: Greylisted, come back later", TransientDeliveryError),
        ("RCPT", "552 5.2.2 <{address}>: Mailbox full", PermanentDeliveryError),
        ("DATA", "452 4.3.1 Insufficient system storage", TransientDeliveryError),
        ("DATA", "554 5.7.1 Message rejected as spam", PermanentDeliveryError),
    ],
)
def test_refusals_are_classified_by_code_at_every_stage(
    stage: str, reply: str, expected: type[DeliveryError]
) -> None:
    refuser = Refuser(stage, reply)
    with smtp_server(refuser) as port, pytest.raises(DeliveryError) as refused:
        make_mailer(port).send(make_message())

    assert type(refused.value) is expected
    assert refused.value.reason.startswith(reply[:3])
    assert "@" not in refused.value.reason
    assert refuser.received == []


def test_one_refused_recipient_of_two_is_permanent_not_retried() -> None:
    # The other recipient already has the message; a retry would send it to them again.
    recorder = RefuseOneRecipient("bounce@example.org")
    with smtp_server(recorder) as port, pytest.raises(PermanentDeliveryError) as refused:
        make_mailer(port).send(make_message(Cc="bounce@example.org"))

    assert "1 recipient(s) refused" in refused.value.reason
    assert "550" in refused.value.reason
    assert "bounce" not in refused.value.reason
    assert [r.rcpt_tos for r in recorder.received] == [[RECIPIENT]]


@pytest.mark.parametrize("handler", [DropAfterData(), StallAfterData()], ids=["drop", "stall"])
def test_no_answer_after_data_is_transient(handler: object) -> None:
    started = time.monotonic()
    with smtp_server(handler) as port, pytest.raises(TransientDeliveryError):
        make_mailer(port, timeout=SHORT_TIMEOUT).send(make_message())
    assert time.monotonic() - started < 5 * TIMEOUT


@pytest.mark.parametrize(
    ("greeting", "expected", "code"),
    [
        (b"", TransientDeliveryError, None),
        (b"421 4.3.2 Too busy, try later\r\n", TransientDeliveryError, "421"),
        (b"554 5.7.1 No SMTP service here\r\n", PermanentDeliveryError, "554"),
    ],
    ids=["hang-up", "busy", "no-service"],
)
def test_greeting_failures(
    greeting: bytes, expected: type[DeliveryError], code: str | None
) -> None:
    with raw_server(greeting) as port, pytest.raises(DeliveryError) as failed:
        make_mailer(port).send(make_message())

    assert type(failed.value) is expected
    if code is not None:
        assert failed.value.reason.startswith(code)


def test_silent_server_times_out_as_transient() -> None:
    # The kernel completes the handshake into the backlog, but nobody ever says hello.
    with socket.create_server((HOST, 0), backlog=1) as listener:
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError) as failed:
            make_mailer(port, timeout=SHORT_TIMEOUT).send(make_message())
        elapsed = time.monotonic() - started

    assert "timed out" in failed.value.reason
    assert elapsed < 5 * TIMEOUT


def test_connection_refused_is_transient() -> None:
    port = free_port(HOST)  # nothing listens there
    with pytest.raises(TransientDeliveryError) as failed:
        make_mailer(port).send(make_message())
    assert "ConnectionRefusedError" in failed.value.reason


# --------------------------------------------------------------------------- TLS and AUTH


def test_starttls_delivers_over_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    recorder = Recorder()
    # require_starttls: the server refuses MAIL in plaintext, so arrival proves the upgrade.
    with smtp_server(recorder, tls_context=server_tls, require_starttls=True) as port:
        make_mailer(port, security="starttls", ssl_context=client_tls).send(make_message())

    [received] = recorder.received
    assert received.over_tls
    assert received.parsed()["Subject"] == "How did today's session feel?"


def test_starttls_with_login(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    recorder = Recorder()
    with smtp_server(
        recorder,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,  # auth_require_tls stays at its default (True)
        authenticator=accept_only(USERNAME.encode(), PASSWORD.encode()),
    ) as port:
        make_mailer(
            port,
            security="starttls",
            username=USERNAME,
            password=PASSWORD,
            ssl_context=client_tls,
        ).send(make_message())

    [received] = recorder.received
    assert received.over_tls
    assert received.authenticated is True


def test_starttls_and_login_once_per_connection(
    server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = Recorder()
    logins = 0
    check = accept_only(USERNAME.encode(), PASSWORD.encode())

    def counting(*args: object) -> object:
        nonlocal logins
        logins += 1
        return check(*args)

    with smtp_server(
        server,
        tls_context=server_tls,
        require_starttls=True,
        auth_required=True,
        authenticator=counting,
    ) as port:
        mailer = make_mailer(
            port, security="starttls", username=USERNAME, password=PASSWORD, ssl_context=client_tls
        )
        for number in range(3):
            mailer.send(make_message(subject=f"message {number}"))
        mailer.close()

    assert len(server.received) == 3
    assert all(received.over_tls and received.authenticated for received in server.received)
    assert len({received.peer for received in server.received}) == 1
    assert logins == 1


def test_starttls_rejects_an_untrusted_certificate(server_tls: ssl.SSLContext) -> None:
    recorder = Recorder()
    with (
        smtp_server(recorder, tls_context=server_tls, require_starttls=True) as port,
        pytest.raises(TransientDeliveryError) as failed,
    ):
        # The default context: the system's trust store, which never saw our certificate.
        make_mailer(port, security="starttls").send(make_message())

    assert "certificate verify failed" in failed.value.reason.lower()
    assert recorder.received == []


def test_starttls_never_falls_back_to_plaintext(client_tls: ssl.SSLContext) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port, pytest.raises(PermanentDeliveryError) as failed:
        make_mailer(port, security="starttls", ssl_context=client_tls).send(make_message())

    assert "STARTTLS" in failed.value.reason
    assert recorder.received == []


def test_implicit_ssl_delivers(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    recorder = Recorder()
    with smtp_server(recorder, ssl_context=server_tls) as port:
        make_mailer(port, security="ssl", ssl_context=client_tls).send(make_message())

    [received] = recorder.received
    assert received.parsed()["To"] == RECIPIENT


def test_login_without_tls() -> None:
    recorder = Recorder()
    # auth_required is left off: with auth_require_tls=False, aiosmtpd warns about it. The
    # session's `authenticated` flag shows the login happened.
    with smtp_server(
        recorder,
        auth_require_tls=False,
        authenticator=accept_only(USERNAME.encode(), PASSWORD.encode()),
    ) as port:
        make_mailer(port, username=USERNAME, password=PASSWORD).send(make_message())

    [received] = recorder.received
    assert received.authenticated is True
    assert not received.over_tls


def test_wrong_password_is_permanent() -> None:
    recorder = Recorder()
    with (
        smtp_server(
            recorder,
            auth_require_tls=False,
            authenticator=accept_only(USERNAME.encode(), PASSWORD.encode()),
        ) as port,
        pytest.raises(PermanentDeliveryError) as failed,
    ):
        make_mailer(port, username=USERNAME, password="wrong").send(make_message())

    assert failed.value.reason.startswith("535")
    assert "wrong" not in failed.value.reason
    assert recorder.received == []


def test_login_against_a_server_without_auth_is_permanent() -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port, pytest.raises(PermanentDeliveryError) as failed:
        make_mailer(port, username=USERNAME, password=PASSWORD).send(make_message())

    assert "AUTH" in failed.value.reason
    assert recorder.received == []


# --------------------------------------------------------------------------- construction


def test_from_settings() -> None:
    settings = Settings(
        smtp_host="relay.example",
        smtp_port=2525,
        smtp_security="starttls",
        smtp_username="relay-user",
        smtp_password="relay-secret",
        smtp_timeout_seconds=3.5,
    )
    mailer = SmtpMailer.from_settings(settings)

    assert (mailer.host, mailer.port, mailer.security) == ("relay.example", 2525, "starttls")
    assert (mailer.username, mailer.timeout) == ("relay-user", 3.5)
    assert mailer.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert mailer.ssl_context.check_hostname
    assert "relay-secret" not in repr(mailer)


def test_unknown_security_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="security"):
        SmtpMailer(HOST, 25, security="tls")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- retry_delay


@pytest.mark.parametrize(
    ("attempts", "seconds"),
    [(0, 30), (1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (7, 1920), (8, 3600), (10**6, 3600)],
)
def test_retry_delay(attempts: int, seconds: int) -> None:
    assert retry_delay(attempts) == timedelta(seconds=seconds)


def test_retry_delay_never_shrinks() -> None:
    delays = [retry_delay(n) for n in range(1, 40)]
    assert delays == sorted(delays)


# --------------------------------------------------------------------------- MailSink


def send_raw(port: int, message: OutgoingEmail) -> None:
    with smtplib.SMTP(HOST, port, local_hostname="attune-test", timeout=TIMEOUT) as client:
        client.sendmail(message.sender, list(message.recipients), message.data)


def test_sink_stores_messages_newest_first(tmp_path: Path) -> None:
    directory = tmp_path / "var" / "mail"  # parents do not exist yet
    with MailSink(directory, port=free_port(HOST)) as sink:
        send_raw(sink.port, make_message(subject="First"))
        send_raw(
            sink.port,
            make_message(
                to="Ben <ben@example.org>",
                subject="Zweite Nachricht: Grüße",
                Bcc="audit@example.org",
            ),
        )
        listed = sink.list_messages()

    assert [m.subject for m in listed] == ["Zweite Nachricht: Grüße", "First"]
    newest, oldest = listed
    assert newest.received_at > oldest.received_at
    assert newest.received_at.tzinfo is not None
    assert newest.sender == SENDER
    assert newest.recipients == ("ben@example.org", "audit@example.org")
    assert oldest.recipients == (RECIPIENT,)

    # Read after the sink stopped, and through another instance, as another process would.
    reader = MailSink(directory)
    assert reader.list_messages() == listed
    message = reader.get_message(newest.id)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == "Zweite Nachricht: Grüße"
    assert message["To"] == "Ben <ben@example.org>"
    assert message["Bcc"] is None
    assert message["List-Unsubscribe"] == "<https://attune.example/u/tok123>"
    assert message.get_body(("plain",)).get_content() == "Tap a number to answer.\n"  # type: ignore[union-attr]


def test_sink_receives_from_the_mailer_built_from_settings(tmp_path: Path) -> None:
    with MailSink(tmp_path / "mail", port=0) as sink:  # 0: the sink picks a free port
        assert sink.port != 0
        settings = Settings(smtp_host=HOST, smtp_port=sink.port, smtp_timeout_seconds=TIMEOUT)
        SmtpMailer.from_settings(settings).send(make_message())
        [stored] = sink.list_messages()

    assert isinstance(stored, StoredMessage)
    assert stored.recipients == (RECIPIENT,)


def test_sink_unknown_or_hostile_ids(tmp_path: Path) -> None:
    sink = MailSink(tmp_path / "mail")
    assert sink.list_messages() == []
    assert sink.get_message("no-such-message") is None
    assert sink.get_message("../../../etc/passwd") is None


def test_sink_start_and_stop_are_idempotent(tmp_path: Path) -> None:
    sink = MailSink(tmp_path / "mail", port=0)
    sink.start()
    sink.start()
    assert sink.running
    send_raw(sink.port, make_message())
    sink.stop()
    sink.stop()
    assert not sink.running
    with pytest.raises(TransientDeliveryError):
        make_mailer(sink.port).send(make_message())

    # A stopped sink can start again on the same port and keeps what it had.
    with sink:
        send_raw(sink.port, make_message())
    assert len(sink.list_messages()) == 2


def test_sink_on_a_taken_port_fails_to_start(tmp_path: Path) -> None:
    with socket.create_server((HOST, 0)) as occupant:
        sink = MailSink(tmp_path / "mail", port=occupant.getsockname()[1], ready_timeout=1.0)
        with pytest.raises(OSError):
            sink.start()
    assert not sink.running
