"""The client's emails as received over SMTP: every link safe to follow, one-click opt-out,
the owner's recorded resumption, the one reminder, and send times in the client's own zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import (
    AccessToken,
    Invitation,
    InvitationStatus,
    Notification,
    NotificationStatus,
    OptOutChange,
    Response,
)
from tests.conftest import START
from tests.support.answers import ANSWERS, complete_and_send
from tests.support.inspection import client_row, count, everything
from tests.support.links import every_url, path_of, survey_path, unsubscribe_path
from tests.support.loop import Nowhere, addressed_to, body, tick_and_settle
from tests.support.practice import CLIENT_EMAIL, PracticeFixture, create_practice


def invitations(stack: Stack) -> list[Invitation]:
    with everything(stack) as session:
        # In send order: two invitations can be created at the same (test) moment.
        found = session.exec(select(Invitation).order_by(Invitation.send_at)).all()
        return [Invitation.model_validate(row) for row in found]


def set_timing(practice: PracticeFixture, **timing: Any) -> None:
    http = practice.http
    current = http.get("/api/v1/settings", headers=practice.as_owner()).json()["settings"]
    current["timing"].update(timing)
    saved = http.put("/api/v1/settings", json=current, headers=practice.as_owner())
    assert saved.status_code == 200, saved.text


def test_following_every_link_with_get_changes_nothing(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    complete_and_send(stack, clock, practice, "visit-1")
    [email] = addressed_to(sink, CLIENT_EMAIL)
    urls = every_url(email)
    # Five one-click answers, the plain survey link and the unsubscribe link, in both parts.
    assert len([u for u in urls if "/s/" in u]) == 6
    assert len([u for u in urls if "/u/" in u]) == 1
    tokens_before = count(stack, AccessToken)

    # A mail scanner follows everything, some of it twice, and a preview fetches HEAD.
    for url in urls + urls:
        answer = http.get(path_of(url))
        assert answer.status_code == 200, url
        assert answer.headers["referrer-policy"] == "no-referrer"
        head = http.head(path_of(url))
        assert head.status_code == 200 and head.content == b"", url
        assert head.headers["content-type"] == answer.headers["content-type"]
        assert head.headers["referrer-policy"] == "no-referrer"

    assert count(stack, Response) == 0
    assert count(stack, OptOutChange) == 0
    assert client_row(stack).opted_out_at is None
    [invitation] = invitations(stack)
    assert invitation.status is InvitationStatus.SENT
    assert count(stack, AccessToken) == tokens_before

    # A one-click answer only pre-selects: the page shows it chosen, and nothing is stored.
    preselected = http.get(path_of(next(u for u in urls if u.endswith("=2"))))
    assert re.search(r'value="2"[^>]*checked', preselected.text)

    # The links still work for the person: the answer and the opt-out each take a POST.
    assert http.post(survey_path(email), data=ANSWERS).status_code == 200
    assert count(stack, Response) == 1
    assert http.post(unsubscribe_path(email)).status_code == 200
    assert client_row(stack).opted_out_at is not None


def test_one_click_opt_out_stops_everything_at_once_and_only_the_owner_resumes(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    set_timing(practice, reminder_after_hours=24)
    complete_and_send(stack, clock, practice, "visit-1")
    [first] = addressed_to(sink, CLIENT_EMAIL)
    # The next session completes; its invitation waits for the practice's delay.
    practice.book("visit-2", clock.now() - timedelta(hours=1))
    practice.complete("visit-2")
    tick_and_settle(stack)

    # RFC 8058: the mail provider POSTs this body to the header's URL, with no cookie.
    clicked = http.post(
        unsubscribe_path(first),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert clicked.status_code == 200
    assert "no more feedback emails" in clicked.text
    assert http.post(unsubscribe_path(first)).status_code == 200  # a second click: no change
    assert count(stack, OptOutChange) == 1

    # Neither the waiting invitation nor the first one's reminder goes out.
    clock.advance(timedelta(days=4))
    tick_and_settle(stack)
    assert len(addressed_to(sink, CLIENT_EMAIL)) == 1
    statuses = [i.status for i in invitations(stack)]
    assert statuses == [InvitationStatus.EXPIRED, InvitationStatus.WITHHELD]

    client_id = practice.client["id"]
    practice.log_in_again()
    resume = f"/api/v1/clients/{client_id}/invitations/resume"
    refused = http.post(resume, json={"reason": "asked"}, headers=practice.as_clinician())
    assert refused.status_code == 403
    no_reason = http.post(resume, json={"reason": "  "}, headers=practice.as_owner())
    assert no_reason.status_code in (400, 422)
    assert client_row(stack).opted_out_at is not None

    reason = "Client asked at reception to get the surveys again."
    resumed = http.post(resume, json={"reason": reason}, headers=practice.as_owner())
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["opted_out_at"] is None
    again = http.post(resume, json={"reason": reason}, headers=practice.as_owner())
    assert again.status_code == 409

    history = http.get(
        f"/api/v1/clients/{client_id}/invitations/history", headers=practice.as_owner()
    ).json()
    assert [(h["opted_out"], h["changed_by"], h["reason"]) for h in history] == [
        (True, None, None),
        (False, practice.owner["id"], reason),
    ]
    audited = http.get(
        "/api/v1/audit-events", params={"client_id": client_id}, headers=practice.as_owner()
    ).json()
    assert {(e["action"], e["actor_id"]) for e in audited} >= {
        ("client.invitations_resumed", practice.owner["id"]),
        ("client.opt_out_history_read", practice.owner["id"]),
    }
    # The refused and the repeated resumption left no entry.
    assert [e["action"] for e in audited].count("client.invitations_resumed") == 1
    # Withheld stays withheld; the next session is asked about again.
    complete_and_send(stack, clock, practice, "visit-3")
    assert len(addressed_to(sink, CLIENT_EMAIL)) == 2
    assert [i.status for i in invitations(stack)][1] is InvitationStatus.WITHHELD


def test_a_queued_invitation_is_called_off_when_the_client_opts_out_before_it_goes(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    complete_and_send(stack, clock, practice, "visit-1")
    [first] = addressed_to(sink, CLIENT_EMAIL)
    practice.book("visit-2", clock.now() - timedelta(hours=1))
    practice.complete("visit-2")
    tick_and_settle(stack)
    clock.advance(timedelta(minutes=61))
    # The scheduler queues the second email but no worker has sent it yet.
    from services.worker.scheduler import tick

    tick(stack.db, stack.clock, Nowhere())
    assert count(stack, Notification, Notification.status == NotificationStatus.PENDING) == 1

    assert http.post(unsubscribe_path(first)).status_code == 200
    tick_and_settle(stack)
    clock.advance(timedelta(minutes=10))
    tick_and_settle(stack)
    assert len(addressed_to(sink, CLIENT_EMAIL)) == 1
    assert count(stack, Notification, Notification.status == NotificationStatus.CANCELLED) == 1


def test_the_one_reminder_goes_once_gently_and_never_after_an_answer(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    set_timing(practice, reminder_after_hours=24, quiet_hours=None)
    complete_and_send(stack, clock, practice, "visit-1")
    complete_and_send(stack, clock, practice, "visit-2")
    first, second = addressed_to(sink, CLIENT_EMAIL)
    # The second survey is answered before its reminder is due.
    assert http.post(survey_path(second), data=ANSWERS).status_code == 200

    clock.advance(timedelta(hours=22))
    tick_and_settle(stack)
    assert len(addressed_to(sink, CLIENT_EMAIL)) == 2
    clock.advance(timedelta(hours=1))  # the first survey's reminder is due
    tick_and_settle(stack)
    tick_and_settle(stack)
    clock.advance(timedelta(hours=12))  # past the second's, which was answered
    tick_and_settle(stack)

    emails = addressed_to(sink, CLIENT_EMAIL)
    assert len(emails) == 3
    reminder = emails[2]
    assert "gentle reminder" in body(reminder, "plain")
    assert reminder["Message-ID"] not in (first["Message-ID"], second["Message-ID"])
    # Threaded under the invitation it follows up.
    assert reminder["In-Reply-To"] == first["Message-ID"]
    assert reminder["References"] == first["Message-ID"]
    # It answers the first session's survey, whose link in the first email works as well.
    assert http.post(survey_path(reminder), data=ANSWERS).status_code == 200
    assert http.post(survey_path(first), data=ANSWERS).status_code == 409


@pytest.mark.parametrize(
    ("session_end", "expected_send"),
    [
        # New York springs forward on 8 March 2026: 21:30 EST, + 60 min is quiet; 08:00 EDT.
        (datetime(2026, 3, 8, 2, 30, tzinfo=UTC), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # New York falls back on 1 November 2026: 22:00 EDT; the morning is 08:00 EST.
        (datetime(2026, 11, 1, 2, 0, tzinfo=UTC), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
    ],
)
def test_send_time_follows_the_clients_zone_across_daylight_saving(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    session_end: datetime,
    expected_send: datetime,
) -> None:
    # The practice (and its clinician) are in London; the client lives in New York.
    practice = create_practice(http, client_timezone="America/New_York")
    clock.set(session_end)
    practice.log_in_again()
    practice.book("visit-1", session_end - timedelta(minutes=50))
    practice.complete("visit-1")
    tick_and_settle(stack)

    [invitation] = invitations(stack)
    assert invitation.send_at == expected_send
    clock.set(expected_send - timedelta(minutes=1))
    tick_and_settle(stack)
    assert addressed_to(sink, CLIENT_EMAIL) == []
    clock.set(expected_send)
    tick_and_settle(stack)
    [email] = addressed_to(sink, CLIENT_EMAIL)
    # The closing date is written in the client's zone too (72 h later, 08:00 local).
    closes = (expected_send + timedelta(hours=72)).astimezone(ZoneInfo("America/New_York"))
    assert f"{closes:%A} {closes.day} {closes:%B}" in body(email, "plain")


def test_the_survey_closes_at_the_next_session_when_that_comes_first(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    practice.book("visit-2", START + timedelta(days=1))
    complete_and_send(stack, clock, practice, "visit-1")
    [invitation] = invitations(stack)
    assert invitation.expires_at == START + timedelta(days=1)
    assert START < clock.now() < invitation.expires_at
