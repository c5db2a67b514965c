"""Appointments as a scheduling system reports them, through real HTTP.

Re-sent events change nothing; a reschedule or cancellation of the next appointment re-aims
the pending nudge; a clinician sees only their own caseload.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import (
    Alert,
    Appointment,
    AppointmentStatus,
    Invitation,
    Nudge,
    NudgeStatus,
    OutboxEvent,
)
from tests.conftest import START
from tests.support.inspection import everything
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture, create_practice

CLIENT_EMAIL = "robin.client@harbour.example.com"
LOW = {"honest": "1", "disagree": "2", "respected": "1", "input": "2", "pace": "1"}
LEAD = timedelta(hours=24)  # the default alert lead time


def put_external(
    practice: PracticeFixture, external_id: str, starts_at: datetime, minutes: int = 50
) -> httpx.Response:
    return practice.http.put(
        f"/api/v1/appointments/external/{external_id}",
        json={
            "client_id": practice.client["id"],
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(minutes=minutes)).isoformat(),
        },
        headers=practice.as_scheduler(),
    )


def action(practice: PracticeFixture, external_id: str, name: str) -> httpx.Response:
    return practice.http.post(
        f"/api/v1/appointments/external/{external_id}/{name}", headers=practice.as_scheduler()
    )


def rows(stack: Stack, model: type) -> list[Any]:
    with everything(stack) as session:
        return list(session.exec(select(model)).all())


def nudges_by_appointment(stack: Stack) -> dict[str, Nudge]:
    return {str(nudge.appointment_id): nudge for nudge in rows(stack, Nudge)}


def the_alert(stack: Stack) -> Alert:
    alerts = rows(stack, Alert)
    assert len(alerts) == 1
    return alerts[0]  # type: ignore[no-any-return]


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC; PostgreSQL aware. Compare them as aware UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=START.tzinfo)


# --- idempotency by external id --------------------------------------------------------------


def test_putting_the_same_appointment_twice_changes_nothing(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    practice = create_practice(http)
    first = put_external(practice, "visit-1", START + timedelta(days=2))
    assert first.status_code == 200, first.text
    before = [row.model_dump() for row in rows(stack, Appointment)]
    events = len(rows(stack, OutboxEvent))

    clock.advance(timedelta(minutes=5))  # an update would stamp a new updated_at
    again = put_external(practice, "visit-1", START + timedelta(days=2))
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert [row.model_dump() for row in rows(stack, Appointment)] == before
    assert len(before) == 1
    assert len(rows(stack, OutboxEvent)) == events


def test_completing_twice_sends_one_invitation(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", START - timedelta(hours=1))
    first = action(practice, "visit-1", "complete")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "completed"
    assert first.json()["completed_at"] is not None

    clock.advance(timedelta(minutes=10))
    second = action(practice, "visit-1", "complete")
    assert second.status_code == 200, second.text
    assert second.json() == first.json()  # completed_at is the first report's

    tick_and_settle(stack)
    with everything(stack) as session:
        events = session.exec(
            select(OutboxEvent).where(OutboxEvent.actor == "schedule_invitation")
        ).all()
        invitations = session.exec(select(Invitation)).all()
    assert len(events) == 1
    assert [str(i.appointment_id) for i in invitations] == [first.json()["id"]]

    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    assert action(practice, "visit-1", "complete").status_code == 200
    tick_and_settle(stack)
    assert len(addressed_to(sink, CLIENT_EMAIL)) == 1
    assert len(rows(stack, Invitation)) == 1


def test_a_cancelled_appointment_cannot_be_completed(stack: Stack, http: httpx.Client) -> None:
    practice = create_practice(http)
    practice.book("visit-1", START - timedelta(hours=1))
    cancelled = action(practice, "visit-1", "cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert action(practice, "visit-1", "cancel").status_code == 200  # re-sent: no change

    refused = action(practice, "visit-1", "complete")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"] == "The appointment is already cancelled."
    [appointment] = rows(stack, Appointment)
    assert appointment.status is AppointmentStatus.CANCELLED
    assert appointment.completed_at is None
    assert rows(stack, Invitation) == []
    with everything(stack) as session:
        assert session.exec(select(OutboxEvent)).all() == []


def test_putting_new_times_reschedules(stack: Stack, http: httpx.Client) -> None:
    practice = create_practice(http)
    booked = put_external(practice, "visit-1", START + timedelta(days=2)).json()

    moved = put_external(practice, "visit-1", START + timedelta(days=3, hours=2), minutes=30)
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == booked["id"]
    read = http.get("/api/v1/appointments/external/visit-1", headers=practice.as_scheduler())
    assert read.json()["starts_at"] == moved.json()["starts_at"]
    assert as_utc(datetime.fromisoformat(read.json()["starts_at"])) == START + timedelta(
        days=3, hours=2
    )
    assert as_utc(datetime.fromisoformat(read.json()["ends_at"])) == START + timedelta(
        days=3, hours=2, minutes=30
    )
    assert len(rows(stack, Appointment)) == 1


# --- re-aiming a pending nudge ---------------------------------------------------------------


def make_dip(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> tuple[PracticeFixture, dict[str, Any]]:
    """A completed session answered with low scores, before an upcoming one; returns it."""
    practice = create_practice(http)
    practice.book("visit-1", START - timedelta(hours=1))
    upcoming = practice.book("visit-2", START + timedelta(days=7))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    [email] = addressed_to(sink, CLIENT_EMAIL)
    url = next(link for link in links(email) if "/s/" in link and "?" not in link)
    answered = http.post(url.removeprefix("http://attune.test"), data=LOW)
    assert answered.status_code == 200, answered.text
    tick_and_settle(stack)

    alert = the_alert(stack)
    assert str(alert.target_appointment_id) == upcoming["id"]
    nudge = nudges_by_appointment(stack)[upcoming["id"]]
    assert nudge.status is NudgeStatus.PENDING
    assert as_utc(nudge.due_at) == START + timedelta(days=7) - LEAD
    return practice, upcoming


def test_rescheduling_the_next_appointment_moves_its_nudge(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, upcoming = make_dip(stack, http, sink, clock)

    new_start = START + timedelta(days=9, hours=3)
    moved = put_external(practice, "visit-2", new_start)
    assert moved.status_code == 200, moved.text

    assert str(the_alert(stack).target_appointment_id) == upcoming["id"]
    nudges = nudges_by_appointment(stack)
    assert list(nudges) == [upcoming["id"]]
    assert nudges[upcoming["id"]].status is NudgeStatus.PENDING
    assert as_utc(nudges[upcoming["id"]].due_at) == new_start - LEAD

    # The old due time passes without a nudge; the new one brings it.
    clock.set(START + timedelta(days=6, hours=1))
    tick_and_settle(stack)
    assert addressed_to(sink, "casey@harbour.example.com") == []
    clock.set(new_start - LEAD + timedelta(seconds=1))
    tick_and_settle(stack)
    tick_and_settle(stack)
    assert len(addressed_to(sink, "casey@harbour.example.com")) == 1


def test_cancelling_the_next_appointment_holds_the_alert_until_a_new_booking(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, upcoming = make_dip(stack, http, sink, clock)

    cancelled = action(practice, "visit-2", "cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert the_alert(stack).target_appointment_id is None  # held: nothing to aim at
    assert nudges_by_appointment(stack)[upcoming["id"]].status is NudgeStatus.CANCELLED
    alert_id = str(the_alert(stack).id)
    listed = http.get("/api/v1/alerts", headers=practice.as_clinician()).json()
    assert [(a["id"], a["target_appointment_id"]) for a in listed] == [(alert_id, None)]

    # The cancelled appointment's due time passes: no nudge goes out for it.
    clock.set(START + timedelta(days=6, hours=1))
    tick_and_settle(stack)
    assert addressed_to(sink, "casey@harbour.example.com") == []

    practice.log_in_again()
    rebooked_at = START + timedelta(days=10)
    rebooked = practice.book("visit-3", rebooked_at)
    assert str(the_alert(stack).target_appointment_id) == rebooked["id"]
    nudges = nudges_by_appointment(stack)
    assert nudges[upcoming["id"]].status is NudgeStatus.CANCELLED
    assert nudges[rebooked["id"]].status is NudgeStatus.PENDING
    assert as_utc(nudges[rebooked["id"]].due_at) == rebooked_at - LEAD
    read = http.get(f"/api/v1/alerts/{alert_id}", headers=practice.as_clinician())
    assert read.json()["target_appointment_id"] == rebooked["id"]

    clock.set(rebooked_at - LEAD + timedelta(seconds=1))
    tick_and_settle(stack)
    tick_and_settle(stack)
    assert len(addressed_to(sink, "casey@harbour.example.com")) == 1
    with everything(stack) as session:
        sent = session.exec(select(Nudge).where(col(Nudge.status) == NudgeStatus.SENT)).all()
    assert [str(n.appointment_id) for n in sent] == [rebooked["id"]]


# --- a clinician's own caseload ----------------------------------------------------------------


def test_a_clinician_sees_only_their_own_clients(stack: Stack, http: httpx.Client) -> None:
    practice = create_practice(http)
    added = http.post(
        "/api/v1/clinicians",
        json={
            "email": "drew@harbour.example.com",
            "name": "Drew Clinician",
            "timezone": "Europe/London",
            "password": "a third long secret",
        },
        headers=practice.as_owner(),
    )
    assert added.status_code == 201, added.text
    login = http.post(
        "/api/v1/auth/login",
        json={"email": "drew@harbour.example.com", "password": "a third long secret"},
    )
    assert login.status_code == 200, login.text
    as_drew = {"Authorization": f"Bearer {login.json()['token']}"}
    own = http.post(
        "/api/v1/clients",
        json={"email": "sam.client@harbour.example.com", "reference": "SC-2002"},
        headers=as_drew,
    )
    assert own.status_code == 201, own.text
    assert own.json()["clinician_id"] == added.json()["id"]

    def references(headers: dict[str, str]) -> list[str]:
        response = http.get("/api/v1/clients", headers=headers)
        assert response.status_code == 200, response.text
        return [client["reference"] for client in response.json()]

    assert references(practice.as_clinician()) == ["RC-1001"]
    assert references(as_drew) == ["SC-2002"]
    assert references(practice.as_owner()) == ["RC-1001", "SC-2002"]

    other = http.get(f"/api/v1/clients/{own.json()['id']}", headers=practice.as_clinician())
    assert other.status_code == 404
    assert other.json()["detail"] == "Client not found."
    mine = http.get(f"/api/v1/clients/{own.json()['id']}", headers=as_drew)
    assert mine.status_code == 200
