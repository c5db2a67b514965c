"""Repair after a nudged session, held alerts, and the owner's practice figures.

The nudges go out through the real scheduler tick; answers are evaluated by the same domain
function the worker calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Alert, Nudge, NudgeStatus
from tests.conftest import START
from tests.integration.test_appointments import CLIENT_EMAIL, make_dip
from tests.integration.test_bad_input import error_fields, problem
from tests.support.history import FIVE, answered_session, unanswered_session
from tests.support.inspection import everything
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture, add_clinician_with_client, create_practice

T0 = START - timedelta(days=40)  # 2026-01-21, a Wednesday; London is on UTC then
FOURS = dict.fromkeys(FIVE, 4)


def alerts_of(stack: Stack) -> list[Alert]:
    with everything(stack) as session:
        return sorted(session.exec(select(Alert)).all(), key=lambda a: a.created_at)


def nudges_of(stack: Stack) -> list[Nudge]:
    with everything(stack) as session:
        return list(session.exec(select(Nudge)).all())


# --- repair through the whole loop ---------------------------------------------------------


def test_the_answer_after_the_nudged_session_marks_the_alert_repaired(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, upcoming = make_dip(stack, http, sink, clock)
    [alert] = alerts_of(stack)
    # RC-1001 had no answers before this dip: "back" means no longer below the practice's
    # low-overall line (4.0).
    assert alert.repair_target == 4.0
    assert alert.repair is None

    clock.set(START + timedelta(days=6, seconds=1))  # the nudge falls due
    tick_and_settle(stack)
    assert [n.status for n in nudges_of(stack)] == [NudgeStatus.SENT]

    clock.set(START + timedelta(days=7, hours=1))
    practice.log_in_again()
    practice.complete("visit-2")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    survey = addressed_to(sink, CLIENT_EMAIL)[-1]
    url = next(link for link in links(survey) if "/s/" in link and "?" not in link)
    steady = {"honest": "4", "disagree": "4", "respected": "5", "input": "4", "pace": "4"}
    assert http.post(url.removeprefix("http://attune.test"), data=steady).status_code == 200
    tick_and_settle(stack)

    read = http.get(f"/api/v1/alerts/{alert.id}", headers=practice.as_clinician())
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["repair"] == "repaired"
    assert body["repair_mean"] == pytest.approx(4.2)
    assert body["repair_target"] == 4.0
    assert body["held"] is False
    assert len(alerts_of(stack)) == 1  # the good answer raised nothing new
    assert upcoming["id"] == str(alert.target_appointment_id)


# --- repair, held alerts and figures on a seeded practice -----------------------------------


class Seeded:
    """Two clinicians' clients over three weeks (days after T0):

    RC-1001 (Casey): 5.0 on days 0, 7, 14; next session booked for day 21; dips to 3.8 on
    day 15 (alert A1); nudged on day 20; back at 5.0 on day 22 (repaired); A1 acknowledged.
    SC-2002 (Drew): 4.0 on day 1; next session booked for day 10; a 2 on day 3 (alert A2);
    nudged on day 9; 3.8 on day 11 (A2 not repaired, and alert A3, held); day 12's survey
    expires; a booking for day 20 takes A3, nudged on day 19 with no answer since (open).
    """

    def __init__(self, stack: Stack, http: httpx.Client, clock: ManualClock) -> None:
        self.stack, self.clock = stack, clock
        clock.set(T0 - timedelta(hours=1))
        self.practice = create_practice(http)
        self.casey, self.robin = self.practice.clinician["id"], self.practice.client["id"]
        self.drew, self.sam = add_clinician_with_client(self.practice)
        self.pid = UUID(self.practice.practice_id)

    def at(self, day: float) -> datetime:
        moment = T0 + timedelta(days=day)
        self.clock.set(moment)
        return moment

    def answer(self, who: str, day: float, scores: dict[str, int]) -> None:
        client, clinician = (self.robin, self.casey) if who == "robin" else (self.sam, self.drew)
        answered_session(
            self.stack.db, self.pid, UUID(client), UUID(clinician), at=self.at(day), scores=scores
        )

    def book(self, who: str, external_id: str, on_day: float, start_day: float) -> None:
        self.at(on_day)
        self.practice.log_in_again()
        client = self.robin if who == "robin" else self.sam
        response = self.practice.http.put(
            f"/api/v1/appointments/external/{external_id}",
            json={
                "client_id": client,
                "starts_at": (T0 + timedelta(days=start_day)).isoformat(),
                "ends_at": (T0 + timedelta(days=start_day, minutes=50)).isoformat(),
            },
            headers=self.practice.as_scheduler(),
        )
        assert response.status_code == 200, response.text

    def tick(self, day: float) -> None:
        self.at(day)
        tick_and_settle(self.stack)

    def run(self) -> None:
        self.answer("robin", 0, FIVE)
        self.answer("sam", 1, FOURS)
        self.book("sam", "sam-next", 2, 10)
        self.answer("sam", 3, FOURS | {"honest": 2})  # A2
        self.answer("robin", 7, FIVE)
        self.tick(9 + 0.01)  # A2's nudge
        self.answer("sam", 11, FOURS | {"honest": 3})  # A2 not repaired; A3 held
        unanswered_session(self.stack.db, self.pid, UUID(self.sam), UUID(self.drew), at=self.at(12))
        self.answer("robin", 14, FIVE)
        self.book("robin", "robin-next", 14.5, 21)
        self.answer("robin", 15, FOURS | {"honest": 3})  # A1
        self.book("sam", "sam-later", 15.5, 20)
        self.tick(19 + 0.01)  # A3's nudge
        self.tick(20 + 0.01)  # A1's nudge
        self.answer("robin", 22, FIVE)  # A1 repaired
        self.practice.log_in_again()
        a1 = next(a for a in alerts_of(self.stack) if str(a.client_id) == self.robin)
        acknowledged = self.practice.http.post(
            f"/api/v1/alerts/{a1.id}/acknowledge",
            # Not a move A1 suggested: its outcome then counts for the move used alone.
            json={"move": "slow_pace"},
            headers=self.practice.as_clinician(),
        )
        assert acknowledged.status_code == 200, acknowledged.text


@pytest.fixture
def seeded(stack: Stack, http: httpx.Client, clock: ManualClock) -> Seeded:
    practice = Seeded(stack, http, clock)
    practice.run()
    return practice


def test_repair_outcomes_follow_the_answer_after_each_nudged_session(seeded: Seeded) -> None:
    a2, a3, a1 = alerts_of(seeded.stack)
    assert (str(a1.client_id), str(a2.client_id), str(a3.client_id)) == (
        seeded.robin,
        seeded.sam,
        seeded.sam,
    )
    # A1: baseline 5.0 before the dip; the next answer is 5.0 again.
    assert (a1.repair_target, a1.repair, a1.repair_mean) == (5.0, "repaired", 5.0)
    # A2: baseline 4.0; the next answer, 3.8, is still below it.
    assert a2.repair_target == 4.0
    assert (a2.repair, a2.repair_mean) == ("not_repaired", pytest.approx(3.8))
    # A3: nudged, but no answer has come since: it stays open, neither repaired nor not.
    assert (a3.repair, a3.repair_mean, a3.repair_at) == (None, None, None)
    assert a3.repair_target == pytest.approx((4.0 + 3.6) / 2)
    assert {n.status for n in nudges_of(seeded.stack)} == {NudgeStatus.SENT}
    assert len(nudges_of(seeded.stack)) == 3


def figures(practice: PracticeFixture, **params: str) -> httpx.Response:
    return practice.http.get("/api/v1/figures", params=params, headers=practice.as_owner())


def test_practice_figures_overall_and_per_clinician(seeded: Seeded) -> None:
    practice = seeded.practice
    response = figures(practice, first_day="2026-01-21", last_day="2026-02-28")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["first_day"], result["last_day"], result["timezone"]) == (
        "2026-01-21",
        "2026-02-28",
        "Europe/London",
    )
    assert result["overall"] == {
        "appointments_completed": 9,
        "invitations_sent": 9,
        "invitations_answered": 8,
        "response_rate": pytest.approx(8 / 9, abs=1e-4),
        "dips": 3,
        "dips_per_100_appointments": pytest.approx(100 * 3 / 9, abs=1e-4),
        "nudges_sent": 3,
        "acknowledged": 1,
        "acknowledged_rate": pytest.approx(1 / 3, abs=1e-4),
        "repaired": 1,
        "not_repaired": 1,
        "awaiting_answer": 1,
        "repair_rate": 0.5,
    }
    by_name = {row["name"]: row for row in result["by_clinician"]}
    assert list(by_name) == ["Casey Clinician", "Drew Clinician"]
    casey, drew = by_name["Casey Clinician"]["figures"], by_name["Drew Clinician"]["figures"]
    assert by_name["Casey Clinician"]["clinician_id"] == seeded.casey
    assert (casey["appointments_completed"], casey["invitations_answered"]) == (5, 5)
    assert (casey["response_rate"], casey["dips"], casey["dips_per_100_appointments"]) == (
        1.0,
        1,
        20.0,
    )
    assert (casey["nudges_sent"], casey["acknowledged"], casey["repair_rate"]) == (1, 1, 1.0)
    assert (drew["invitations_sent"], drew["invitations_answered"]) == (4, 3)
    assert (drew["response_rate"], drew["dips"], drew["dips_per_100_appointments"]) == (
        0.75,
        2,
        50.0,
    )
    assert (drew["nudges_sent"], drew["acknowledged"], drew["acknowledged_rate"]) == (2, 0, 0.0)
    assert (drew["repaired"], drew["not_repaired"], drew["repair_rate"]) == (0, 1, 0.0)
    assert drew["awaiting_answer"] == 1


def test_figures_count_only_the_days_asked_for(seeded: Seeded) -> None:
    # Days 0 to 10: sessions on days 0, 1, 3 and 7; A2 found (day 3); its nudge (day 9).
    result = figures(seeded.practice, first_day="2026-01-21", last_day="2026-01-31").json()
    overall = result["overall"]
    assert (overall["appointments_completed"], overall["dips"], overall["nudges_sent"]) == (
        4,
        1,
        1,
    )
    assert overall["repair_rate"] == 0.0
    # A range with nothing in it has no rates rather than zero ones.
    empty = figures(seeded.practice, first_day="2025-06-01", last_day="2025-06-30").json()
    assert empty["overall"]["appointments_completed"] == 0
    assert empty["overall"]["response_rate"] is None
    assert empty["overall"]["dips_per_100_appointments"] is None
    assert empty["overall"]["repair_rate"] is None
    assert [row["figures"]["dips"] for row in empty["by_clinician"]] == [0, 0]


def test_figures_refuse_a_backwards_or_missing_range_and_clinicians(seeded: Seeded) -> None:
    practice = seeded.practice
    body = problem(figures(practice, first_day="2026-02-10", last_day="2026-02-01"), 422)
    assert error_fields(body) == {"last_day"}
    assert "end on or after" in body["detail"]
    body = problem(figures(practice, first_day="2024-01-01", last_day="2026-02-01"), 422)
    assert "at most 366 days" in body["detail"]
    missing = problem(figures(practice, first_day="2026-02-10"), 400)
    assert missing["detail"] == "Missing required query parameter 'last_day'."
    garbled = problem(figures(practice, first_day="yesterday", last_day="2026-02-01"), 422)
    assert error_fields(garbled) == {"first_day"}
    refused = practice.http.get(
        "/api/v1/figures",
        params={"first_day": "2026-01-21", "last_day": "2026-02-28"},
        headers=practice.as_clinician(),
    )
    assert problem(refused, 403)["detail"] == "Only the practice owner can do this."


# --- held alerts ---------------------------------------------------------------------------


def held(practice: PracticeFixture, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = practice.http.get(
        "/api/v1/alerts", params={"held": "true"}, headers=headers or practice.as_owner()
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_client_with_no_next_appointment_is_held_until_one_is_booked(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    answered_session(
        stack.db,
        UUID(practice.practice_id),
        UUID(practice.client["id"]),
        UUID(practice.clinician["id"]),
        at=START,
        scores=FOURS | {"pace": 1},
    )
    [alert] = alerts_of(stack)
    assert alert.target_appointment_id is None
    assert nudges_of(stack) == []
    listed = held(practice)
    assert [(a["id"], a["held"]) for a in listed] == [(str(alert.id), True)]
    assert [a["id"] for a in held(practice, practice.as_clinician())] == [str(alert.id)]
    not_held = http.get(
        "/api/v1/alerts", params={"held": "false"}, headers=practice.as_owner()
    ).json()
    assert not_held == []

    # Weeks pass: with nothing booked, no nudge is ever due.
    clock.set(START + timedelta(days=21))
    tick_and_settle(stack)
    assert addressed_to(sink, "casey@harbour.example.com") == []
    assert nudges_of(stack) == []

    practice.log_in_again()
    booked = practice.book("visit-9", START + timedelta(days=24))
    assert held(practice) == []
    [now_aimed] = http.get(
        "/api/v1/alerts", params={"held": "false"}, headers=practice.as_owner()
    ).json()
    assert (now_aimed["target_appointment_id"], now_aimed["held"]) == (booked["id"], False)
    [nudge] = nudges_of(stack)
    assert (str(nudge.appointment_id), nudge.status) == (booked["id"], NudgeStatus.PENDING)

    clock.set(START + timedelta(days=23, seconds=1))
    tick_and_settle(stack)
    tick_and_settle(stack)
    assert len(addressed_to(sink, "casey@harbour.example.com")) == 1


def test_held_is_a_yes_or_no(stack: Stack, http: httpx.Client) -> None:
    practice = create_practice(http)
    response = http.get("/api/v1/alerts", params={"held": "maybe"}, headers=practice.as_owner())
    assert error_fields(problem(response, 422)) == {"held"}


def test_several_dips_before_one_appointment_make_one_nudge(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    pid, client = UUID(practice.practice_id), UUID(practice.client["id"])
    clinician = UUID(practice.clinician["id"])
    booked = practice.book("visit-5", START + timedelta(days=10))
    answered_session(stack.db, pid, client, clinician, at=START, scores=FIVE | {"pace": 1})
    answered_session(
        stack.db, pid, client, clinician, at=START + timedelta(days=3), scores=FIVE | {"honest": 2}
    )
    first, second = alerts_of(stack)
    assert str(first.target_appointment_id) == str(second.target_appointment_id) == booked["id"]
    [nudge] = nudges_of(stack)
    assert str(nudge.appointment_id) == booked["id"]

    clock.set(START + timedelta(days=9, seconds=1))
    tick_and_settle(stack)
    tick_and_settle(stack)
    [email] = addressed_to(sink, "casey@harbour.example.com")
    text = email.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Slow the pace" in text
    assert "Address the relationship directly" in text
    assert [n.status for n in nudges_of(stack)] == [NudgeStatus.SENT]


def test_figures_by_month_add_up_to_the_range_and_per_move_follows_the_alerts(
    seeded: Seeded,
) -> None:
    practice = seeded.practice
    result = figures(practice, first_day="2026-01-21", last_day="2026-02-28").json()
    january, february = result["by_month"]
    assert (january["month"], january["first_day"], january["last_day"]) == (
        "2026-01",
        "2026-01-21",
        "2026-01-31",
    )
    assert (february["month"], february["first_day"], february["last_day"]) == (
        "2026-02",
        "2026-02-01",
        "2026-02-28",
    )
    # A month is the same as asking for its days alone.
    alone = figures(practice, first_day="2026-01-21", last_day="2026-01-31").json()
    assert january["overall"] == alone["overall"]
    assert january["by_clinician"] == alone["by_clinician"]
    counts = [key for key, value in result["overall"].items() if isinstance(value, int)]
    for key in counts:
        assert january["overall"][key] + february["overall"][key] == result["overall"][key], key
    for whole, jan, feb in zip(
        result["by_clinician"], january["by_clinician"], february["by_clinician"], strict=True
    ):
        assert whole["name"] == jan["name"] == feb["name"]
        assert whole["figures"]["dips"] == jan["figures"]["dips"] + feb["figures"]["dips"]

    # Per move: an alert counts for the move used when it was addressed, and under each move
    # it suggested when none was recorded.
    alerts = practice.http.get("/api/v1/alerts", headers=practice.as_owner()).json()
    assert {alert["repair"] for alert in alerts} == {"repaired", "not_repaired", None}
    by_move = {row["move"]: row for row in result["by_move"]}
    assert list(by_move) == ["address_relationship", "invite_feedback", "slow_pace"]
    for move, row in by_move.items():
        suggesting = [
            alert
            for alert in alerts
            if move in ([alert["addressed_move"]] if alert["addressed_move"] else alert["moves"])
        ]
        repaired = sum(alert["repair"] == "repaired" for alert in suggesting)
        not_repaired = sum(alert["repair"] == "not_repaired" for alert in suggesting)
        assert (row["alerts"], row["repaired"], row["not_repaired"]) == (
            len(suggesting),
            repaired,
            not_repaired,
        ), move
        expected = repaired / (repaired + not_repaired) if repaired + not_repaired else None
        assert row["repair_rate"] == (pytest.approx(expected, abs=1e-4) if expected else expected)
    assert by_move["slow_pace"]["repaired"] >= 1  # A1, addressed by slowing the pace
    assert sum(row["repaired"] for row in by_move.values()) >= 1
    assert sum(row["not_repaired"] for row in by_move.values()) >= 1
