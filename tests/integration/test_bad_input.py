"""Bad input through real HTTP: a clear 4xx saying what is wrong, never a 500, nothing stored.

JSON endpoints answer with a JSON body (`detail`, and `field` or `errors` where a field is to
blame); the client's survey page answers with an HTML page that says what went wrong.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import SQLModel, func, select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Appointment, AuthSession, Response
from tests.conftest import START
from tests.support.inspection import everything
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture, create_practice

CLIENT_EMAIL = "robin.client@harbour.example.com"
ANSWERS = {"honest": "4", "disagree": "4", "respected": "5", "input": "4", "pace": "4"}


# --- helpers -----------------------------------------------------------------------------


def snapshot(stack: Stack) -> dict[str, list[str]]:
    """Every row of every table, so a test can say that nothing at all was written.

    An API key's last-used stamp is bookkeeping about the caller, not data, and is left out;
    so are the worker processes' heartbeats, which beat on their own.
    """
    with everything(stack) as session:
        tables: dict[str, list[str]] = {}
        for table in SQLModel.metadata.sorted_tables:
            if table.name == "worker_heartbeat":
                continue
            rows = session.execute(table.select()).mappings().all()
            tables[table.name] = sorted(
                repr(sorted((k, v) for k, v in row.items() if k != "last_used_at")) for row in rows
            )
        return tables


@contextmanager
def unchanged(stack: Stack) -> Iterator[None]:
    before = snapshot(stack)
    yield
    after = snapshot(stack)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == [], f"tables changed: {changed}"


def count(stack: Stack, model: type) -> int:
    with everything(stack) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """A JSON error: the expected status, and a `detail` a person can act on."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status_code"] == status
    assert isinstance(body["detail"], str) and len(body["detail"]) > 10, body
    assert "Traceback" not in response.text
    return body


def html_problem(response: httpx.Response, status: int) -> str:
    """An HTML page for the client: the expected status and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html"), response.headers
    assert "<html" in response.text.lower()
    assert "Traceback" not in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    return response.text


def error_fields(body: dict[str, Any]) -> set[str]:
    return {entry["field"] for entry in body.get("errors", [])} | (
        {body["field"]} if body.get("field") else set()
    )


def sent_survey(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> str:
    """Complete a session and let the invitation go out; returns the survey page's path."""
    practice.book("visit-1", START - timedelta(hours=1))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    emails = addressed_to(sink, CLIENT_EMAIL)
    assert len(emails) == 1
    url = next(link for link in links(emails[0]) if "/s/" in link and "?" not in link)
    return url.removeprefix("http://attune.test")


# --- the survey page ---------------------------------------------------------------------


def test_unknown_survey_token_is_a_plain_not_found_page(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    path = f"/s/{secrets.token_urlsafe(32)}"
    with unchanged(stack):
        page = html_problem(http.get(path), 404)
        assert "This link is not valid" in page
        posted = html_problem(http.post(path, data=ANSWERS), 404)
        assert "This link is not valid" in posted


def test_expired_survey_link_is_refused_on_get_and_post(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    practice: PracticeFixture,
) -> None:
    path = sent_survey(stack, http, sink, clock, practice)
    assert http.get(path).status_code == 200

    clock.advance(timedelta(hours=72, minutes=1))  # the default expiry is 72 h after sending
    with unchanged(stack):
        assert "expired" in html_problem(http.get(path), 410)
        assert "expired" in html_problem(http.post(path, data=ANSWERS), 410)
    assert count(stack, Response) == 0


def test_a_used_survey_link_cannot_answer_again(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    practice: PracticeFixture,
) -> None:
    path = sent_survey(stack, http, sink, clock, practice)
    assert http.post(path, data=ANSWERS).status_code == 200

    with unchanged(stack):
        again = html_problem(http.post(path, data={**ANSWERS, "honest": "1"}), 409)
        assert "already been answered" in again
        assert "already been answered" in html_problem(http.get(path), 409)
    with everything(stack) as session:
        stored = session.exec(select(Response)).all()
    assert [r.scores["honest"] for r in stored] == [4]


@pytest.mark.parametrize("bad", ["0", "6", "abc", "2.5", "-1", ""])
def test_scores_off_the_scale_are_refused_and_the_form_shown_again(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    practice: PracticeFixture,
    bad: str,
) -> None:
    path = sent_survey(stack, http, sink, clock, practice)
    with unchanged(stack):
        page = html_problem(http.post(path, data={**ANSWERS, "honest": bad}), 422)
    expected = "Please answer every question" if bad == "" else "whole number from 1 to 5"
    assert expected in page
    assert 'role="alert"' in page
    assert 'name="pace"' in page  # the form itself is back, to correct and resend
    # The client's other choices survive the round trip.
    assert 'value="5" required\n        checked' in page
    # The link was not used up: a correct answer still goes through.
    assert http.post(path, data=ANSWERS).status_code == 200
    assert count(stack, Response) == 1


def test_a_missing_item_is_refused(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    practice: PracticeFixture,
) -> None:
    path = sent_survey(stack, http, sink, clock, practice)
    partial = {k: v for k, v in ANSWERS.items() if k != "pace"}
    with unchanged(stack):
        page = html_problem(http.post(path, data=partial), 422)
    assert "Please answer every question" in page
    assert count(stack, Response) == 0


def test_an_unknown_item_is_refused(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    practice: PracticeFixture,
) -> None:
    path = sent_survey(stack, http, sink, clock, practice)
    with unchanged(stack):
        page = html_problem(http.post(path, data={**ANSWERS, "mood": "3"}), 422)
    assert "Unknown question: mood" in page
    assert count(stack, Response) == 0


# --- tenancy -----------------------------------------------------------------------------


def test_booking_another_practices_client_is_not_found(stack: Stack, http: httpx.Client) -> None:
    alpha = create_practice(http, name="Alpha Therapy", slug="alpha")
    beta = create_practice(http, name="Beta Therapy", slug="beta")
    times = {
        "starts_at": (START + timedelta(days=1)).isoformat(),
        "ends_at": (START + timedelta(days=1, minutes=50)).isoformat(),
    }
    with unchanged(stack):
        put = http.put(
            "/api/v1/appointments/external/stolen-1",
            json={"client_id": beta.client["id"], **times},
            headers=alpha.as_scheduler(),
        )
        body = problem(put, 404)
        assert body["detail"] == "Client not found."
        assert body["field"] == "client_id"

        posted = http.post(
            "/api/v1/appointments",
            json={"client_id": beta.client["id"], **times},
            headers=alpha.as_owner(),
        )
        assert problem(posted, 404)["field"] == "client_id"

        read = http.get(f"/api/v1/clients/{beta.client['id']}", headers=alpha.as_owner())
        assert problem(read, 404)["detail"] == "Client not found."
    assert count(stack, Appointment) == 0


# --- malformed and unexpected JSON ---------------------------------------------------------


def test_malformed_json_is_a_400(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    broken = {"content": '{"x":', "headers": {"content-type": "application/json"}}
    with unchanged(stack):
        for method, url, auth in (
            ("POST", "/api/v1/clients", practice.as_owner()),
            ("PUT", "/api/v1/appointments/external/visit-1", practice.as_scheduler()),
            ("POST", "/api/v1/auth/login", {}),
            ("POST", "/api/v1/practices", {}),
        ):
            response = http.request(
                method,
                url,
                content=broken["content"],
                headers={**broken["headers"], **auth},  # type: ignore[dict-item]
            )
            assert "not valid JSON" in problem(response, 400)["detail"], url


def test_an_empty_body_is_a_400(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        response = http.post(
            "/api/v1/clients",
            content=b"",
            headers={"content-type": "application/json", **practice.as_owner()},
        )
        assert problem(response, 400)["detail"] == "The request body is empty: send a JSON object."


def test_a_body_of_the_wrong_shape_says_so(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        response = http.post("/api/v1/clients", json=[1, 2], headers=practice.as_owner())
        body = problem(response, 422)
        assert "Input should be a valid dictionary" in body["detail"]
        assert ": :" not in body["detail"] and ". :" not in body["detail"]


def test_unknown_fields_are_refused_by_name(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        client = http.post(
            "/api/v1/clients",
            json={"email": "new@harbour.example.com", "reference": "RC-2", "nickname": "Bo"},
            headers=practice.as_owner(),
        )
        body = problem(client, 422)
        assert "nickname" in error_fields(body)
        assert "nickname" in body["detail"]

        appointment = http.put(
            "/api/v1/appointments/external/visit-1",
            json={
                "client_id": practice.client["id"],
                "starts_at": START.isoformat(),
                "ends_at": (START + timedelta(minutes=50)).isoformat(),
                "room": "3",
            },
            headers=practice.as_scheduler(),
        )
        body = problem(appointment, 422)
        assert "room" in error_fields(body)
        assert "room" in body["detail"]

        login = http.post(
            "/api/v1/auth/login",
            json={"email": practice.owner["email"], "password": "x" * 12, "remember": True},
        )
        assert "remember" in error_fields(problem(login, 422))


def assert_backwards(body: dict[str, Any]) -> None:
    assert body["detail"] == "An appointment must end after it starts."
    assert body["field"] == "ends_at"


def test_an_appointment_ending_before_it_starts_is_refused(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    starts = START + timedelta(days=1)
    backwards = {
        "starts_at": starts.isoformat(),
        "ends_at": (starts - timedelta(minutes=5)).isoformat(),
    }
    with unchanged(stack):
        put = http.put(
            "/api/v1/appointments/external/visit-1",
            json={"client_id": practice.client["id"], **backwards},
            headers=practice.as_scheduler(),
        )
        assert_backwards(problem(put, 422))
        posted = http.post(
            "/api/v1/appointments",
            json={"client_id": practice.client["id"], **backwards},
            headers=practice.as_owner(),
        )
        assert_backwards(problem(posted, 422))

    booked = practice.book("visit-2", starts)
    with unchanged(stack):
        moved = http.post(
            f"/api/v1/appointments/{booked['id']}/reschedule",
            json=backwards,
            headers=practice.as_scheduler(),
        )
        assert_backwards(problem(moved, 422))
        same = {"starts_at": starts.isoformat(), "ends_at": starts.isoformat()}
        resent = http.put(
            "/api/v1/appointments/external/visit-2",
            json={"client_id": practice.client["id"], **same},
            headers=practice.as_scheduler(),
        )
        assert_backwards(problem(resent, 422))
    assert (
        http.get("/api/v1/appointments/external/visit-2", headers=practice.as_scheduler()).json()[
            "ends_at"
        ]
        == booked["ends_at"]
    )


def test_naive_datetimes_are_refused(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        response = http.put(
            "/api/v1/appointments/external/visit-1",
            json={
                "client_id": practice.client["id"],
                "starts_at": "2026-03-03T10:00:00",
                "ends_at": "2026-03-03T10:50:00",
            },
            headers=practice.as_scheduler(),
        )
        body = problem(response, 422)
        assert error_fields(body) >= {"starts_at", "ends_at"}
        assert "timezone" in body["detail"].lower() or "time zone" in body["detail"].lower()


def test_an_unknown_time_zone_for_a_client_is_refused(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        response = http.post(
            "/api/v1/clients",
            json={
                "email": "new@harbour.example.com",
                "reference": "RC-2",
                "timezone": "Mars/Olympus_Mons",
                "clinician_id": practice.clinician["id"],
            },
            headers=practice.as_owner(),
        )
        body = problem(response, 422)
        assert "timezone" in error_fields(body)
        assert body["detail"] == "Invalid input. timezone: unknown time zone 'Mars/Olympus_Mons'"


# --- who may do what -----------------------------------------------------------------------


def test_a_wrong_password_is_a_401_and_opens_no_session(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    sessions = count(stack, AuthSession)
    with unchanged(stack):
        for email in (practice.owner["email"], "nobody@harbour.example.com"):
            response = http.post(
                "/api/v1/auth/login", json={"email": email, "password": "not the password"}
            )
            assert problem(response, 401)["detail"] == "Email or password is not right."
            assert "set-cookie" not in response.headers
    assert count(stack, AuthSession) == sessions


def test_no_credentials_is_a_401(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        for method, url in (
            ("GET", "/api/v1/clients"),
            ("GET", "/api/v1/alerts"),
            ("PUT", "/api/v1/appointments/external/visit-1"),
        ):
            response = http.request(method, url, json={})
            assert "Sign in first" in problem(response, 401)["detail"], url
        forged = http.get("/api/v1/clients", headers={"Authorization": "Bearer s_forged"})
        assert "not valid" in problem(forged, 401)["detail"]
        unknown_key = http.get("/api/v1/clients", headers={"X-API-Key": "ak_unknown"})
        assert "not valid" in problem(unknown_key, 401)["detail"]


def test_an_api_key_cannot_read_alerts(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        response = http.get("/api/v1/alerts", headers=practice.as_scheduler())
        assert "API key" in problem(response, 403)["detail"]


def test_a_clinician_cannot_add_a_clinician(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with unchanged(stack):
        response = http.post(
            "/api/v1/clinicians",
            json={
                "email": "sneaky@harbour.example.com",
                "name": "Sneaky",
                "password": "a long enough secret",
            },
            headers=practice.as_clinician(),
        )
        assert "Only the practice owner" in problem(response, 403)["detail"]


def test_an_unknown_appointment_action_is_a_404(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    booked = practice.book("visit-1", START + timedelta(days=1))
    with unchanged(stack):
        for url in (
            "/api/v1/appointments/external/visit-1/reopen",
            f"/api/v1/appointments/{booked['id']}/reopen",
        ):
            response = http.post(url, headers=practice.as_scheduler())
            detail = problem(response, 404)["detail"]
            assert "Unknown action 'reopen'" in detail
            assert "complete, cancel or no-show" in detail
    read = http.get("/api/v1/appointments/external/visit-1", headers=practice.as_scheduler())
    assert read.json()["status"] == "scheduled"
