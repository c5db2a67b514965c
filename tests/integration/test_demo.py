"""The embedded demo: its seeding runs the real loop, and its mail pages show what the sink got."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from litestar.testing import TestClient
from sqlmodel import func, select

from services.api.app import create_app
from services.api.context import ApiContext
from services.bootstrap import Stack
from services.demo import (
    CLIENTS,
    CRISIS_LINE,
    LIVE_CLIENT,
    OWNER_EMAIL,
    PASSWORD,
    banner,
    seed_demo,
)
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import (
    Account,
    Alert,
    Appointment,
    AppointmentStatus,
    Client,
    Invitation,
    InvitationStatus,
    Nudge,
    NudgeStatus,
    Practice,
    Response,
    Role,
)
from shared.settings import Settings
from tests.conftest import START
from tests.support.inspection import everything
from tests.support.pages import PageSession


def _count(stack: Stack, model: type, *where: object) -> int:
    with everything(stack) as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def test_seeding_runs_the_loop_and_leaves_a_live_survey(
    stack: Stack, sink: MailSink, clock: ManualClock, settings: Settings
) -> None:
    seed = seed_demo(stack, clock, sink, present=START)

    assert clock.now() == START
    assert _count(stack, Practice) == 1
    assert _count(stack, Account, Account.role == Role.CLINICIAN) == 2
    assert _count(stack, Account, Account.role == Role.OWNER) == 1
    assert _count(stack, Client) == len(CLIENTS) == 6
    completed = _count(stack, Appointment, Appointment.status == AppointmentStatus.COMPLETED)
    assert completed == seed.sessions == 24
    assert _count(stack, Appointment, Appointment.starts_at > START) == len(CLIENTS)

    # Every completed session's survey went out through SMTP; all but one were answered.
    received = sink.list_messages()
    surveys = [m for m in received if set(m.recipients) & set(seed.client_emails.values())]
    assert len(surveys) == completed
    assert _count(stack, Response) == seed.answers == completed - 1

    # RC-1002's dip raised an alert; its nudge reached the clinician before the next session.
    with everything(stack) as session:
        dip = session.exec(select(Alert).join(Client).where(Client.reference == "RC-1002")).one()
    assert {finding["rule"] for finding in dip.evidence} >= {"floor", "low_overall"}
    assert _count(stack, Alert) == seed.alerts >= 1
    assert _count(stack, Nudge, Nudge.status == NudgeStatus.SENT) == seed.nudges_sent >= 1
    nudges = [m for m in received if set(m.recipients) & set(seed.clinician_emails)]
    assert len(nudges) == seed.nudges_sent
    assert nudges[0].subject == "Before your next session"
    assert nudges[0].recipients == (seed.clinician_emails[0],)
    nudge = sink.get_message(nudges[-1].id)
    assert nudge is not None
    text = nudge.get_body(("plain",)).get_content()
    assert "RC-1002" in text and "rushed" not in text

    # One invitation is still open, and its link works.
    live = [i for i in _invitations(stack) if i.status is InvitationStatus.SENT]
    assert len(live) == 1
    assert live[0].expires_at is not None and live[0].expires_at > START
    base_url = settings.base_url
    assert seed.live_survey_url.startswith(f"{base_url}/s/")
    to_live_client = [m for m in surveys if seed.client_emails[LIVE_CLIENT] in m.recipients]
    newest = sink.get_message(to_live_client[0].id)
    assert newest is not None and seed.live_survey_url in newest.get_body(("plain",)).get_content()
    with TestClient(stack.api(), base_url=base_url) as http:
        page = http.get(seed.live_survey_url.removeprefix(base_url))
        assert page.status_code == 200
        assert "I felt comfortable being honest today." in page.text
        # The London practice's clients are shown a UK crisis line, not the US default.
        assert CRISIS_LINE in page.text and "988" not in page.text
        login = http.post("/api/v1/auth/login", json={"email": OWNER_EMAIL, "password": PASSWORD})
        assert login.status_code == 200, login.text
        # The banner's accounts sign in on the sign-in page it names.
        shown = banner(seed, base_url, sink, Path("var/demo.db"))
        assert f"{base_url}/login" in shown
        assert f"{OWNER_EMAIL} / {PASSWORD}" in shown
        assert f"{seed.clinician_emails[0]} / {PASSWORD}" in shown
        for email, home in ((OWNER_EMAIL, "/practice"), (seed.clinician_emails[0], "/sessions")):
            browser = PageSession(http)
            signed_in = browser.post("/login", {"email": email, "password": PASSWORD})
            assert (signed_in.status_code, signed_in.headers["location"]) == (303, home)


def _invitations(stack: Stack) -> list[Invitation]:
    with everything(stack) as session:
        return list(session.exec(select(Invitation)).all())


def _send(sink: MailSink, subject: str, html: str) -> None:
    message = EmailMessage()
    message["From"] = "Session feedback <feedback@attune.example>"
    message["To"] = "someone@example.com"
    message["Subject"] = subject
    message["Date"] = "Mon, 02 Mar 2026 09:00:00 +0000"
    message.set_content("Plain words & a link: http://attune.test/s/abc")
    message.add_alternative(html, subtype="html")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        smtp.send_message(message)


def test_dev_mail_pages_list_and_show_messages(stack: Stack, sink: MailSink) -> None:
    _send(sink, "First message", "<p>first</p>")
    _send(sink, "Second message", '<p onclick="x()">Hi &amp; "there"</p><script>alert(1)</script>')
    newest, oldest = sink.list_messages()

    # The page exists only in the embedded mode, whichever backends the suite runs on.
    embedded = ApiContext(
        settings=stack.settings.model_copy(update={"redis_url": None}),
        db=stack.db,
        clock=stack.clock,
    )
    with TestClient(create_app(embedded, dev_mail_dir=str(sink.directory))) as http:
        index = http.get("/dev/mail")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert index.text.index("Second message") < index.text.index("First message")
        assert f'href="/dev/mail/{newest.id}"' in index.text
        assert "someone@example.com" in index.text

        shown = http.get(f"/dev/mail/{newest.id}")
        assert shown.status_code == 200
        assert "Second message" in shown.text
        assert "feedback@attune.example" in shown.text  # the headers
        assert "Plain words &amp; a link" in shown.text  # the plain-text part, escaped
        # The HTML part only inside a sandboxed frame, escaped into its srcdoc attribute.
        assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in shown.text
        assert "<script>alert(1)</script>" not in shown.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
        assert "&amp;amp;" in shown.text and "&#34;there&#34;" in shown.text

        assert http.get(f"/dev/mail/{oldest.id}").status_code == 200
        assert http.get("/dev/mail/1700000000.M1P1Q1.nowhere").status_code == 404
        assert http.get("/dev/mail/..%2F..%2Fetc%2Fpasswd").status_code == 404

        # Not part of the API's description.
        assert "/dev/mail" not in http.get("/schema/openapi.json").text


def test_dev_mail_pages_are_not_mounted_by_default(stack: Stack) -> None:
    with TestClient(stack.api()) as http:
        assert http.get("/dev/mail").status_code == 404
