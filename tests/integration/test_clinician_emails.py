"""The clinician's emails as received over SMTP: what a nudge and a digest may say, and the
choice between a nudge per alert and one digest each morning in the clinician's own zone."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import httpx
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Invitation, Notification, NotificationKind, Nudge, NudgeStatus
from tests.support.inspection import everything
from tests.support.loop import addressed_to, body, links, tick_and_settle
from tests.support.practice import PracticeFixture
from tests.support.signing_in import token_of

BASE = "http://attune.test"
LOW = {"honest": "1", "disagree": "3", "respected": "2", "input": "3", "pace": "1"}
COMMENT = "My therapist keeps mentioning my panic disorder diagnosis"
CHICAGO_CLINICIAN = "dana@harbour.example.com"
CHICAGO_PASSWORD = "a third long secret"


@dataclass
class Caseload:
    practice: PracticeFixture
    clinician: dict[str, str]
    clients: list[dict[str, Any]]

    @property
    def http(self) -> httpx.Client:
        return self.practice.http

    def as_clinician(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.clinician['token']}"}

    def log_in(self) -> None:
        """Sessions last hours; after the test clock jumps days, sign in afresh."""
        self.clinician["token"] = token_of(self.http, CHICAGO_CLINICIAN, CHICAGO_PASSWORD)


def add_chicago_caseload(practice: PracticeFixture, references: list[str]) -> Caseload:
    """A clinician in Chicago (the practice is in London) with clients of their own."""
    http = practice.http
    added = http.post(
        "/api/v1/clinicians",
        json={
            "email": CHICAGO_CLINICIAN,
            "name": "Dana Clinician",
            "timezone": "America/Chicago",
            "password": CHICAGO_PASSWORD,
        },
        headers=practice.as_owner(),
    )
    assert added.status_code == 201, added.text
    token = token_of(http, CHICAGO_CLINICIAN, CHICAGO_PASSWORD)
    clients = []
    for reference in references:
        client = http.post(
            "/api/v1/clients",
            json={
                "email": f"{reference.lower()}.person@harbour.example.com",
                "reference": reference,
                "timezone": "America/Chicago",
                "clinician_id": added.json()["id"],
            },
            headers=practice.as_owner(),
        )
        assert client.status_code == 201, client.text
        clients.append(client.json())
    return Caseload(practice, {"id": added.json()["id"], "token": token}, clients)


def book(practice: PracticeFixture, client: dict[str, Any], visit: str, start: datetime) -> None:
    booked = practice.http.put(
        f"/api/v1/appointments/external/{visit}",
        json={
            "client_id": client["id"],
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=50)).isoformat(),
        },
        headers=practice.as_scheduler(),
    )
    assert booked.status_code == 200, booked.text


def dip_before(
    stack: Stack,
    sink: MailSink,
    clock: ManualClock,
    practice: PracticeFixture,
    client: dict[str, Any],
    next_start: datetime,
) -> None:
    """A session now, a low answer with a comment, and the next session at next_start."""
    visit = f"{client['reference']}-past"
    book(practice, client, visit, clock.now() - timedelta(hours=1))
    book(practice, client, f"{client['reference']}-next", next_start)
    completed = practice.http.post(
        f"/api/v1/appointments/external/{visit}/complete", headers=practice.as_scheduler()
    )
    assert completed.status_code == 200, completed.text
    tick_and_settle(stack)
    # The client's quiet hours may hold the invitation back: go to when it is due.
    with everything(stack) as session:
        send_at = session.exec(
            select(Invitation.send_at).where(Invitation.client_id == UUID(client["id"]))
        ).one()
    clock.set(max(send_at, clock.now()))
    tick_and_settle(stack)
    [survey] = addressed_to(sink, client["email"])
    path = next(u for u in links(survey) if "/s/" in u and "?" not in u).removeprefix(BASE)
    stored = practice.http.post(path, data={**LOW, "comment": COMMENT, "talk": "on"})
    assert stored.status_code == 200, stored.text
    tick_and_settle(stack)


def assert_says_no_more_than_it_may(message: EmailMessage, client_emails: list[str]) -> None:
    headers = "\n".join(str(value) for _, value in message.items())
    # What a reader sees: the subject, the plain text and the HTML's text (not its styles).
    shown_html = html.unescape(re.sub(r"<[^>]+>", " ", body(message, "html")))
    readable = "\n".join([str(message["Subject"]), body(message, "plain"), shown_html])
    for forbidden in [COMMENT, "panic", "diagnos", "score", "comment", *client_emails]:
        assert forbidden.lower() not in (headers + readable).lower(), forbidden
    # No rating in any form: "1/5", "rated 2", "2 out of 5", a mean like "1.6".
    for pattern in (r"\b[1-5]\s*/\s*5\b", r"\brated\s+[1-5]\b", r"\bout of 5\b", r"\b[1-5]\.\d\b"):
        assert re.search(pattern, readable, re.IGNORECASE) is None, pattern


def alert_ids(caseload: Caseload) -> dict[str, str]:
    """Alert id by client id."""
    caseload.log_in()
    found = caseload.http.get("/api/v1/alerts", headers=caseload.as_clinician()).json()
    return {alert["client_id"]: alert["id"] for alert in found}


def test_a_nudge_names_the_reference_local_time_moves_and_alert_and_nothing_clinical(
    stack: Stack, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    caseload = add_chicago_caseload(practice, ["RC-2001"])
    client = caseload.clients[0]
    next_start = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # 10:30 in Chicago (CDT from 8 March)
    dip_before(stack, sink, clock, practice, client, next_start)

    clock.set(next_start - timedelta(hours=24))
    caseload.log_in()
    tick_and_settle(stack)
    tick_and_settle(stack)
    [nudge] = addressed_to(sink, CHICAGO_CLINICIAN)

    text = body(nudge, "plain")
    assert "RC-2001" in text
    assert "Tue 10 Mar, 10:30 (America/Chicago)" in text
    assert "Address the relationship directly" in text
    assert "Slow the pace" in text
    assert "rated lower than usual" in text
    assert "would like to talk about how therapy is going" in text
    [alert_id] = alert_ids(caseload).values()
    assert f"{BASE}/alerts/{alert_id}" in links(nudge)
    assert_says_no_more_than_it_may(nudge, [client["email"]])


def test_the_morning_digest_lists_the_days_appointments_once_in_the_clinicians_zone(
    stack: Stack, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    caseload = add_chicago_caseload(practice, ["RC-2001", "RC-2002", "RC-2003"])
    chosen = caseload.http.put(
        f"/api/v1/clinicians/{caseload.clinician['id']}/nudge-preference",
        json={"delivery": "daily_digest", "digest_hour": 7},
        headers=caseload.as_clinician(),
    )
    assert chosen.status_code == 200, chosen.text
    # Wednesday 11 March in Chicago (CDT, UTC-5): two sessions; a third on Thursday.
    dip_before(
        stack, sink, clock, practice, caseload.clients[1], datetime(2026, 3, 11, 20, 0, tzinfo=UTC)
    )
    dip_before(
        stack, sink, clock, practice, caseload.clients[0], datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
    )
    dip_before(
        stack, sink, clock, practice, caseload.clients[2], datetime(2026, 3, 12, 15, 0, tzinfo=UTC)
    )

    # A nudge per alert would go 24 h ahead, on Tuesday: a digest reader gets nothing then.
    clock.set(datetime(2026, 3, 10, 20, 0, tzinfo=UTC))
    tick_and_settle(stack)
    clock.set(datetime(2026, 3, 11, 11, 59, tzinfo=UTC))  # 06:59 in Chicago
    tick_and_settle(stack)
    assert addressed_to(sink, CHICAGO_CLINICIAN) == []

    clock.set(datetime(2026, 3, 11, 12, 0, tzinfo=UTC))  # 07:00 in Chicago
    tick_and_settle(stack)
    tick_and_settle(stack)
    clock.advance(timedelta(minutes=30))
    tick_and_settle(stack)
    [digest] = addressed_to(sink, CHICAGO_CLINICIAN)
    text = body(digest, "plain")
    assert "Wednesday 11 March" in text
    # The day's sessions in order, each with its local time; Thursday's waits for Thursday.
    assert text.index("RC-2001, Wed 11 Mar, 10:00") < text.index("RC-2002, Wed 11 Mar, 15:00")
    assert "RC-2003" not in text
    alerts = alert_ids(caseload)
    assert set(re.findall(rf"{BASE}/alerts/[0-9a-f-]{{36}}", text)) == {
        f"{BASE}/alerts/{alerts[client['id']]}" for client in caseload.clients[:2]
    }
    assert_says_no_more_than_it_may(digest, [c["email"] for c in caseload.clients])

    with everything(stack) as session:
        nudges = session.exec(select(Nudge)).all()
        statuses = sorted(n.status.value for n in nudges)
        digests = session.exec(
            select(Notification).where(Notification.kind == NotificationKind.DIGEST)
        ).all()
        keys = [n.key for n in digests]
    # One Nudge row per appointment still: two covered by the digest, Thursday's pending.
    assert statuses == ["pending", "sent", "sent"]
    assert keys == [f"digest:{caseload.clinician['id']}:2026-03-11"]

    # Thursday morning, the third appears in Thursday's own digest.
    clock.set(datetime(2026, 3, 12, 12, 0, tzinfo=UTC))
    tick_and_settle(stack)
    tick_and_settle(stack)
    assert len(addressed_to(sink, CHICAGO_CLINICIAN)) == 2
    assert "RC-2003" in body(addressed_to(sink, CHICAGO_CLINICIAN)[1], "plain")


def test_an_alert_raised_after_the_digest_still_gets_its_own_nudge(
    stack: Stack, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    caseload = add_chicago_caseload(practice, ["RC-2001", "RC-2002"])
    caseload.http.put(
        f"/api/v1/clinicians/{caseload.clinician['id']}/nudge-preference",
        json={"delivery": "daily_digest", "digest_hour": 7},
        headers=practice.as_owner(),
    )
    clock.set(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    dip_before(
        stack, sink, clock, practice, caseload.clients[0], datetime(2026, 3, 11, 21, 0, tzinfo=UTC)
    )
    clock.set(datetime(2026, 3, 11, 12, 5, tzinfo=UTC))
    tick_and_settle(stack)
    tick_and_settle(stack)
    assert len(addressed_to(sink, CHICAGO_CLINICIAN)) == 1

    # Later that morning another client's answer raises an alert for a session that evening.
    dip_before(
        stack, sink, clock, practice, caseload.clients[1], datetime(2026, 3, 11, 23, 0, tzinfo=UTC)
    )
    tick_and_settle(stack)
    tick_and_settle(stack)
    emails = addressed_to(sink, CHICAGO_CLINICIAN)
    assert len(emails) == 2
    assert "Before your session with RC-2002" in body(emails[1], "html")
    with everything(stack) as session:
        assert all(n.status is NudgeStatus.SENT for n in session.exec(select(Nudge)).all())


def test_who_may_choose_a_clinicians_nudge_delivery(
    http: httpx.Client, practice: PracticeFixture
) -> None:
    caseload = add_chicago_caseload(practice, [])
    dana = f"/api/v1/clinicians/{caseload.clinician['id']}/nudge-preference"
    casey = f"/api/v1/clinicians/{practice.clinician['id']}/nudge-preference"
    digest = {"delivery": "daily_digest", "digest_hour": 6}

    assert http.get(dana, headers=caseload.as_clinician()).json()["delivery"] == "per_alert"
    assert http.put(dana, json=digest, headers=caseload.as_clinician()).status_code == 200
    # Another clinician's preference is not theirs to see or change.
    assert http.put(casey, json=digest, headers=caseload.as_clinician()).status_code == 404
    assert http.get(casey, headers=caseload.as_clinician()).status_code == 404
    # The owner may set anyone's, and the change records who made it.
    by_owner = http.put(casey, json=digest, headers=practice.as_owner())
    assert by_owner.status_code == 200
    assert by_owner.json()["updated_by"] == practice.owner["id"]
    assert http.get(casey, headers=practice.as_clinician()).json()["digest_hour"] == 6
    # The scheduling system's key has no say.
    assert http.get(casey, headers=practice.as_scheduler()).status_code == 403
    for bad in ({"delivery": "weekly"}, {"delivery": "daily_digest", "digest_hour": 24}, {}):
        refused = http.put(dana, json=bad, headers=caseload.as_clinician())
        assert refused.status_code in (400, 422), bad
