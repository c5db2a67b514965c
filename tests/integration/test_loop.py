"""The whole loop through real HTTP, the real broker and a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlmodel import func, select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Alert, Invitation, Notification, Nudge, Response
from tests.conftest import START
from tests.support.inspection import everything
from tests.support.loop import addressed_to, body, links, tick_and_settle
from tests.support.practice import create_practice


def _count(stack: Stack, model: type) -> int:
    with everything(stack) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_completed_session_to_nudge_and_acknowledgement(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    client_email = "robin.client@harbour.example.com"
    clinician_email = "casey@harbour.example.com"
    practice.book("visit-1", START - timedelta(hours=1))
    upcoming = practice.book("visit-2", START + timedelta(days=7))
    practice.complete("visit-1")

    # Before the practice's delay (60 minutes by default) nothing goes out.
    tick_and_settle(stack)
    assert addressed_to(sink, client_email) == []

    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    surveys = addressed_to(sink, client_email)
    assert len(surveys) == 1
    survey_url = next(link for link in links(surveys[0]) if "/s/" in link and "?" not in link)
    path = survey_url.removeprefix("http://attune.test")

    page = http.get(path)
    assert page.status_code == 200
    assert "I felt comfortable being honest today." in page.text
    assert page.headers["referrer-policy"] == "no-referrer"

    # A mail scanner follows every link in the email: nothing may be stored by that.
    for link in links(surveys[0]):
        assert http.get(link.removeprefix("http://attune.test")).status_code in (200, 404)
    assert _count(stack, Response) == 0

    answers = {"honest": "2", "disagree": "3", "respected": "4", "input": "4", "pace": "2"}
    stored = http.post(path, data={**answers, "comment": "felt rushed"})
    assert stored.status_code == 200, stored.text
    again = http.post(path, data=answers)
    assert again.status_code == 409
    assert "already been answered" in again.text
    assert _count(stack, Response) == 1

    tick_and_settle(stack)
    alerts = http.get("/api/v1/alerts", headers=practice.as_clinician()).json()
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert["target_appointment_id"] == upcoming["id"]
    assert {finding["rule"] for finding in alert["evidence"]} >= {"floor", "low_overall"}
    floor = next(f for f in alert["evidence"] if f["rule"] == "floor")
    assert floor["items"] == ["honest", "pace"]
    assert floor["numbers"]["floor"] == 2
    assert alert["moves"] == ["address_relationship", "slow_pace"]

    # The nudge falls due at the next start minus the lead time (24 h by default).
    clock.set(START + timedelta(days=6) - timedelta(minutes=1))
    tick_and_settle(stack)
    assert addressed_to(sink, clinician_email) == []
    clock.set(START + timedelta(days=6, seconds=1))
    tick_and_settle(stack)
    tick_and_settle(stack)
    nudges = addressed_to(sink, clinician_email)
    assert len(nudges) == 1
    text = body(nudges[0], "plain")
    assert "RC-1001" in text
    assert "Slow the pace" in text
    for forbidden in ("felt rushed", "Robin", client_email, "2/5", "score"):
        assert forbidden not in text
        assert forbidden not in body(nudges[0], "html")

    practice.log_in_again()
    acknowledged = http.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge", headers=practice.as_clinician()
    )
    assert acknowledged.status_code == 200
    assert acknowledged.json()["status"] == "acknowledged"
    assert len(addressed_to(sink, client_email)) == 1
    assert _count(stack, Nudge) == 1
    assert _count(stack, Alert) == 1
    assert _count(stack, Invitation) == 1
    assert _count(stack, Notification) == 2
