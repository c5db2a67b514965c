"""The onboarding pages' form posts over real HTTP: each needs its anti-forgery field, a
refused value comes back next to its field with what was typed, the owner's routes refuse a
clinician, and the sign-up's crisis line is what the client's survey page shows."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import create_engine
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Account, ApiKey, Appointment, AuditEvent, Client
from tests.conftest import START
from tests.support.attack import snapshot
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.pages import PageSession, field_error, page_session
from tests.support.practice import PracticeFixture

OWNER_PASSWORD = "correct horse battery"
CLINICIAN_PASSWORD = "another long secret"
CRISIS_LINE = "Call Samaritans free on 116 123, or 999 in an emergency (UK)."


# What a refused request may still write: the audit trail is meant to grow, and a session's
# or a key's coarse last-seen time.
MAY_CHANGE = {
    "audit*": {"*"},
    "auth_session": {"last_seen_at"},
    "api_key": {"last_used_at"},
    "worker_heartbeat": {"*"},  # beats on its own
}


def database(owner_database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(owner_database_url)
    try:
        return snapshot(engine, ignore=MAY_CHANGE)
    finally:
        engine.dispose()


@pytest.fixture
def owner(http: httpx.Client, practice: PracticeFixture) -> PageSession:
    return page_session(http, practice.owner["email"], OWNER_PASSWORD)


@pytest.fixture
def clinician(http: httpx.Client, practice: PracticeFixture) -> PageSession:
    return page_session(http, practice.clinician["email"], CLINICIAN_PASSWORD)


def _booked(practice: PracticeFixture) -> dict[str, Any]:
    return practice.book("next-week", START + timedelta(days=7))


def _forms(practice: PracticeFixture, appointment_id: str) -> list[tuple[str, dict[str, str]]]:
    """Every onboarding form an owner posts, each filled in validly."""
    client_id = practice.client["id"]
    keys = practice.http.get("/api/v1/api-keys", headers=practice.as_owner()).json()
    return [
        (
            "/practice/clinicians",
            {"name": "Jo", "email": "jo@harbour.example.com", "timezone": "UTC"},
        ),
        (f"/practice/clinicians/{practice.clinician['id']}/deactivate", {}),
        ("/practice/api-keys", {"name": "Forged"}),
        (f"/practice/api-keys/{keys[0]['id']}/revoke", {}),
        (
            "/appointments/new",
            {"client_id": client_id, "day": "2026-03-03", "start": "10:00", "minutes": "50"},
        ),
        (f"/appointments/{appointment_id}/cancel", {}),
        (
            "/clients/new",
            {
                "reference": "RC-9999",
                "email": "new@harbour.example.com",
                "timezone": "UTC",
                "clinician_id": practice.clinician["id"],
            },
        ),
        (f"/clients/{client_id}/resume-invitations", {"reason": "asked to"}),
        (f"/clients/{client_id}/erase", {"confirm": "RC-1001"}),
    ]


def test_every_form_needs_its_anti_forgery_field(
    practice: PracticeFixture, owner: PageSession, http: httpx.Client, owner_database_url: str
) -> None:
    appointment = _booked(practice)
    before = database(owner_database_url)
    for path, form in _forms(practice, appointment["id"]):
        forged = owner.post(path, form, csrf=False)
        assert forged.status_code == 403, (path, forged.status_code)
        assert "anti-forgery token" in forged.text, path
    # And the sign-up form, signed out.
    forged = PageSession(http).post(
        "/signup",
        {
            "practice_name": "Forged",
            "owner_name": "F",
            "owner_email": "f@forged.example.com",
            "password": "a long enough secret",
            "timezone": "UTC",
        },
        csrf=False,
    )
    assert forged.status_code == 403
    assert database(owner_database_url) == before


def test_a_clinician_is_refused_every_owner_page_and_form(
    practice: PracticeFixture, clinician: PageSession, owner_database_url: str
) -> None:
    appointment = _booked(practice)
    client_id = practice.client["id"]
    for path in (
        "/welcome",
        "/practice/clinicians",
        "/practice/api-keys",
        "/clients/new",
        f"/clients/{client_id}/manage",
        f"/clients/{client_id}/export",
    ):
        refused = clinician.get(path)
        assert refused.status_code == 403, (path, refused.status_code)
        assert "Only the practice owner" in refused.text
        assert "robin.client@" not in refused.text
    before = database(owner_database_url)
    for path, form in _forms(practice, appointment["id"]):
        if path.startswith("/appointments"):
            continue  # a clinician books and marks their own appointments (below)
        refused = clinician.post(path, form)
        assert refused.status_code == 403, (path, refused.status_code)
    assert database(owner_database_url) == before


def test_refused_values_are_shown_next_to_their_fields_with_the_rest_kept(
    practice: PracticeFixture, owner: PageSession, http: httpx.Client
) -> None:
    cases: list[tuple[PageSession, str, dict[str, str], str, str]] = [
        (
            PageSession(http),
            "/signup",
            {
                "practice_name": "Thames Counselling",
                "owner_name": "Morgan",
                "owner_email": "morgan@",
                "password": "short",
                "timezone": "Mars/Olympus",
                "crisis_line": "999",
            },
            "owner_email",
            "Thames Counselling",
        ),
        (
            owner,
            "/practice/clinicians",
            {"name": "Jo Newcomer", "email": "jo-at-harbour", "timezone": "UTC"},
            "email",
            "Jo Newcomer",
        ),
        (owner, "/practice/api-keys", {"name": ""}, "name", "Front desk"),
        (
            owner,
            "/clients/new",
            {
                "reference": "has spaces",
                "email": "kit@harbour.example.com",
                "timezone": "UTC",
                "clinician_id": practice.clinician["id"],
            },
            "reference",
            "kit@harbour.example.com",
        ),
        (
            owner,
            "/appointments/new",
            {
                "client_id": practice.client["id"],
                "day": "2026-03-03",
                "start": "25:00",
                "minutes": "50",
            },
            "start",
            "2026-03-03",
        ),
    ]
    for session, path, form, field, kept in cases:
        refused = session.post(path, form)
        assert refused.status_code == 422, (path, refused.status_code, refused.text[:300])
        assert field_error(refused.text, field), (path, field)
        assert f'aria-describedby="{field}-error' in refused.text or (
            f'aria-describedby="{field}-hint {field}-error' in refused.text
        ), path
        if kept != "Front desk":
            assert kept in refused.text, (path, kept)
    signup = PageSession(http).post("/signup", cases[0][2])
    for field in ("owner_email", "password", "timezone", "crisis_line"):
        assert field_error(signup.text, field), field
    assert "password" not in re.findall(r'name="password"[^>]*value="([^"]*)"', signup.text)


# Pydantic's own wording, for programmers: the JSON API's answers say this, pages never do.
PYDANTIC_WORDS = re.compile(
    r"Input should|String should|Field required|valid UUID|Value error|value is not a valid|"
    r"unable to parse|found 0"
)
EMAIL_ASKED = "Enter an email address, like name@example.com."


def test_every_page_form_says_what_to_fix_in_plain_words(
    practice: PracticeFixture, owner: PageSession, http: httpx.Client
) -> None:
    """Each form posted empty (or with values no browser widget would send) says per field,
    in words a clinician understands, what to do; never pydantic's message."""
    cases: list[tuple[PageSession, str, dict[str, str], dict[str, str]]] = [
        (
            owner,
            "/appointments/new",
            {"client_id": "", "day": "", "start": "", "minutes": ""},
            {
                "client_id": "Choose a client.",
                "day": "Enter a date.",
                "start": "Enter a time, like 09:30.",
                "minutes": "Enter a whole number between 5 and 480.",
            },
        ),
        (
            owner,
            "/appointments/new",
            {
                "client_id": practice.client["id"],
                "day": "9999-12-31",  # its end would overflow the calendar
                "start": "23:00",
                "minutes": "2.5",
            },
            {
                "day": "Enter a date between 1901 and 2198.",
                "minutes": "Enter a whole number between 5 and 480.",
            },
        ),
        (
            owner,
            "/clients/new",
            {"reference": "", "email": "", "timezone": "", "clinician_id": "nobody"},
            {
                "reference": "Enter a reference of up to 40 letters, digits, dots, dashes or "
                "underscores, starting with a letter or digit.",
                "email": EMAIL_ASKED,
                "clinician_id": "Choose a clinician.",
            },
        ),
        (
            owner,
            "/practice/clinicians",
            {"name": "", "email": "jo", "timezone": "Mars/Olympus"},
            {
                "name": "Enter their name, up to 120 characters.",
                "email": EMAIL_ASKED,
                "timezone": "Choose a time zone from the list.",
            },
        ),
        (
            owner,
            "/practice/api-keys",
            {"name": ""},
            {"name": "Enter a name for the key, up to 80 characters."},
        ),
        (
            PageSession(http),
            "/signup",
            dict.fromkeys(
                ("practice_name", "owner_name", "owner_email", "password", "timezone"), ""
            ),
            {
                "practice_name": "Enter the practice's name, up to 120 characters.",
                "owner_name": "Enter your name, up to 120 characters.",
                "owner_email": EMAIL_ASKED,
                "password": "Choose a password of 10 to 200 characters.",
                "timezone": "Choose a time zone from the list.",
            },
        ),
        (
            PageSession(http),
            "/login",
            {"email": "", "password": ""},
            {"email": EMAIL_ASKED, "password": "Enter your password."},
        ),
        (PageSession(http), "/forgot-password", {"email": "nobody"}, {"email": EMAIL_ASKED}),
    ]
    for session, path, form, asked in cases:
        refused = session.post(path, form)
        assert refused.status_code == 422, (path, refused.status_code, refused.text[:300])
        assert not PYDANTIC_WORDS.search(refused.text), (path, PYDANTIC_WORDS.findall(refused.text))
        for field, words in asked.items():
            assert field_error(refused.text, field) == words, (path, field)
            assert re.search(rf'aria-describedby="[^"]*\b{field}-error[ "]', refused.text), (
                path,
                field,
            )


def test_taken_values_and_unknown_choices_come_back_on_the_form(
    stack: Stack, practice: PracticeFixture, owner: PageSession, http: httpx.Client
) -> None:
    taken = owner.post(
        "/clients/new",
        {
            "reference": "RC-1001",
            "email": "x@harbour.example.com",
            "timezone": "UTC",
            "clinician_id": practice.clinician["id"],
        },
    )
    assert taken.status_code == 409
    assert "already has a client" in (field_error(taken.text, "reference") or "")
    nobody = owner.post(
        "/clients/new", {"reference": "RC-7", "email": "x@harbour.example.com", "timezone": "UTC"}
    )
    assert nobody.status_code == 422
    assert field_error(nobody.text, "clinician_id") == "Say which clinician sees this client."
    email_taken = PageSession(http).post(
        "/signup",
        {
            "practice_name": "Again",
            "owner_name": "Olive",
            "owner_email": practice.owner["email"],
            "password": "a long enough secret",
            "timezone": "UTC",
        },
    )
    assert email_taken.status_code == 409
    assert (
        field_error(email_taken.text, "owner_email") == "An account with this email already exists."
    )
    wrong = owner.post(f"/clients/{practice.client['id']}/erase", {"confirm": "RC-100"})
    assert wrong.status_code == 422
    assert "Type the client's reference, RC-1001" in (field_error(wrong.text, "confirm") or "")
    with stack.db.transaction(UUID(practice.practice_id)) as session:
        assert session.exec(select(Client)).first() is not None  # nothing erased


def test_sign_up_stores_the_crisis_line_the_survey_page_shows(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    browser = PageSession(http)
    done = browser.post(
        "/signup",
        {
            "practice_name": "Thames Counselling",
            "owner_name": "Morgan Owner",
            "owner_email": "morgan@thames.example.com",
            "password": "a long enough secret",
            "timezone": "Europe/London",
            "crisis_line": "  Call Samaritans free on 116 123,\n or 999 in an emergency (UK). ",
        },
    )
    assert (done.status_code, done.headers["location"]) == (303, "/welcome?notice=new")
    assert "attune_session" in browser.cookies
    welcome = browser.get("/welcome")
    assert welcome.status_code == 200 and "Getting started" in welcome.text

    token = http.post(
        "/api/v1/auth/login",
        json={"email": "morgan@thames.example.com", "password": "a long enough secret"},
    ).json()["token"]
    as_owner = {"Authorization": f"Bearer {token}"}
    settings = http.get("/api/v1/settings", headers=as_owner).json()
    assert settings["settings"]["crisis_line"] == CRISIS_LINE
    assert settings["settings"]["timezone"] == "Europe/London"

    clinician = http.post(
        "/api/v1/clinicians",
        json={"email": "ash@thames.example.com", "name": "Ash", "password": "ash's long secret"},
        headers=as_owner,
    ).json()
    client = http.post(
        "/api/v1/clients",
        json={
            "email": "pat@thames.example.com",
            "reference": "TC-1",
            "clinician_id": clinician["id"],
        },
        headers=as_owner,
    ).json()
    booked = http.post(
        "/api/v1/appointments",
        json={
            "client_id": client["id"],
            "starts_at": (START - timedelta(hours=1)).isoformat(),
            "ends_at": (START - timedelta(minutes=10)).isoformat(),
        },
        headers=as_owner,
    ).json()
    assert (
        http.post(f"/api/v1/appointments/{booked['id']}/complete", headers=as_owner).status_code
        == 200
    )
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    survey = addressed_to(sink, "pat@thames.example.com")[0]
    link = next(x for x in links(survey) if "/s/" in x and "?" not in x)
    page = http.get(link.removeprefix("http://attune.test"))
    assert page.status_code == 200
    assert CRISIS_LINE in page.text
    assert "988" not in page.text


def test_the_json_sign_up_takes_the_same_crisis_line_rule(http: httpx.Client) -> None:
    body = {
        "practice_name": "P",
        "owner_name": "O",
        "owner_email": "o@p.example.com",
        "password": "a long enough secret",
        "crisis_line": "999",
    }
    refused = http.post("/api/v1/practices", json=body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "crisis_line"


def test_deactivation_signs_out_is_idempotent_and_is_audited(
    stack: Stack, practice: PracticeFixture, owner: PageSession, clinician: PageSession
) -> None:
    clinician_id = practice.clinician["id"]
    assert clinician.get("/appointments/new").status_code == 200
    for _ in range(2):  # a double click changes nothing more
        done = owner.post(f"/practice/clinicians/{clinician_id}/deactivate")
        assert (done.status_code, done.headers["location"]) == (
            303,
            "/practice/clinicians?notice=deactivated",
        )
    gone = clinician.get("/appointments/new")
    assert (gone.status_code, gone.headers["location"]) == (
        303,
        "/login?next=%2Fappointments%2Fnew",
    )
    again = PageSession(practice.http).post(
        "/login", {"email": practice.clinician["email"], "password": CLINICIAN_PASSWORD}
    )
    assert again.status_code == 401 and "deactivated" in again.text
    # The owner's own account is not a clinician's: it cannot be deactivated.
    own = owner.post(f"/practice/clinicians/{practice.owner['id']}/deactivate")
    assert own.status_code == 409
    for _ in range(2):
        assert owner.post(f"/practice/clinicians/{clinician_id}/reactivate").status_code == 303
    assert PageSession(practice.http).sign_in(practice.clinician["email"], CLINICIAN_PASSWORD)
    with stack.db.transaction(UUID(practice.practice_id)) as session:
        actions = [
            e.action
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.subject_id == UUID(clinician_id))
            )
        ]
        account = session.get(Account, UUID(clinician_id))
        assert account is not None and account.deactivated_at is None
    assert actions.count("clinician.deactivated") == 1
    assert actions.count("clinician.reactivated") == 1
    # The JSON routes are the same functions.
    via_api = practice.http.post(
        f"/api/v1/clinicians/{clinician_id}/deactivate", headers=practice.as_owner()
    )
    assert via_api.status_code == 200 and via_api.json()["deactivated_at"] is not None
    refused = practice.http.post(
        f"/api/v1/clinicians/{clinician_id}/reactivate", headers=practice.as_clinician()
    )
    assert refused.status_code in (401, 403)


def test_appointments_by_hand_stay_in_the_clinicians_caseload(
    stack: Stack, practice: PracticeFixture, clinician: PageSession, http: httpx.Client
) -> None:
    from tests.support.practice import add_clinician_with_client

    _, other_client = add_clinician_with_client(practice)
    # Another clinician's client id in the form: refused as not found, next to the field.
    refused = clinician.post(
        "/appointments/new",
        {"client_id": other_client, "day": "2026-03-03", "start": "10:00", "minutes": "50"},
    )
    assert refused.status_code == 404
    assert field_error(refused.text, "client_id") == "Client not found."
    assert "SC-2002" not in refused.text
    booked = clinician.post(
        "/appointments/new",
        {
            "client_id": practice.client["id"],
            "day": "2026-03-03",
            "start": "10:00",
            "minutes": "50",
        },
    )
    assert (booked.status_code, booked.headers["location"]) == (
        303,
        "/appointments/new?notice=booked",
    )
    with stack.db.transaction(UUID(practice.practice_id)) as session:
        appointment = session.exec(select(Appointment)).one()
        # 10:00 in London in March is 10:00 UTC (summer time starts on the 29th).
        assert appointment.starts_at.isoformat() == "2026-03-03T10:00:00+00:00"
        assert (appointment.ends_at - appointment.starts_at) == timedelta(minutes=50)
    listed = clinician.get("/appointments/new")
    assert "RC-1001" in listed.text and "SC-2002" not in listed.text
    for _ in range(2):  # marking twice is one completion
        done = clinician.post(f"/appointments/{appointment.id}/complete", {"back": "/sessions"})
        assert (done.status_code, done.headers["location"]) == (303, "/sessions")
    # An off-site `back` is ignored: no open redirect.
    off = clinician.post(f"/appointments/{appointment.id}/complete", {"back": "//evil.example"})
    assert off.headers["location"] == "/appointments/new?notice=complete"
    cancel = clinician.post(f"/appointments/{appointment.id}/cancel")
    assert cancel.status_code == 409 and "already completed" in cancel.text
    unknown = clinician.post(f"/appointments/{appointment.id}/reopen")
    assert unknown.status_code == 404


def test_api_key_is_shown_once_and_revoking_stops_it(
    stack: Stack, practice: PracticeFixture, owner: PageSession
) -> None:
    created = owner.post("/practice/api-keys", {"name": "Front desk"})
    assert created.status_code == 201
    key = re.search(r'id="new-key">(ak_[^<]+)<', created.text)
    assert key is not None
    raw = key.group(1)
    assert practice.http.get("/api/v1/clients", headers={"X-API-Key": raw}).status_code == 200
    listing = owner.get("/practice/api-keys")
    assert raw not in listing.text and raw[:10] in listing.text
    with stack.db.transaction(UUID(practice.practice_id)) as session:
        made = session.exec(select(ApiKey).where(ApiKey.name == "Front desk")).one()
        assert made.last_used_at is not None
    for _ in range(2):
        assert owner.post(f"/practice/api-keys/{made.id}/revoke").status_code == 303
    assert practice.http.get("/api/v1/clients", headers={"X-API-Key": raw}).status_code == 401
