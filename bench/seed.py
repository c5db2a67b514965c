"""Practices set up through the real API or through the same domain functions in-process, and
surveys opened directly in the database.

`seed_practices` is `set_up_practice` without HTTP: each request's domain calls (sign_up,
start_session, create_api_key, add_clinician, add_client, read_settings, replace_settings) in
the same order, as the same principal, under the same row-level security (the application's
role with the practice's id set), so every row, settings version and audit entry is the one
the API would have written. Only the password hash is computed once and reused: hashing is
built to be slow, and a thousand identical passwords need not be hashed a thousand times.

A survey link's raw token exists only in the email that carries it; benchmarks that answer
thousands of surveys mint their own links the same way (shared.security.new_token) and store
the rows an invitation email would have left behind, so the timed path is the answer alone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest import mock
from uuid import UUID, uuid4

import httpx

from shared import security
from shared.access import Principal
from shared.accounts import service as accounts
from shared.clients.service import add_client
from shared.clock import Clock
from shared.db import Database
from shared.models import (
    AccessToken,
    Appointment,
    AppointmentStatus,
    Invitation,
    InvitationStatus,
    TokenPurpose,
)
from shared.practice import service as practices
from shared.practice.settings import PracticeSettings
from shared.security import new_token
from shared.settings import Settings

PASSWORD = "bench password long enough"
LOW_ANSWERS = {"honest": "2", "disagree": "3", "respected": "4", "input": "4", "pace": "2"}
GOOD_ANSWERS = {"honest": "5", "disagree": "5", "respected": "5", "input": "4", "pace": "5"}


@dataclass
class SeededClient:
    id: UUID
    clinician_id: UUID
    email: str


@dataclass
class SeededPractice:
    id: UUID
    api_key: str
    owner_token: str
    clinicians: list[UUID] = field(default_factory=list)
    clients: list[SeededClient] = field(default_factory=list)


def _ok(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    if response.status_code != status:
        raise SystemExit(f"setup failed: {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def set_up_practice(
    http: httpx.Client,
    slug: str,
    *,
    clinicians: int,
    clients: int,
    immediate: bool = True,
    lead_hours: float | None = None,
) -> SeededPractice:
    """A practice with its owner, clinicians and clients, through the API. `immediate` sends
    surveys right after a session (no delay, no quiet hours), as a replay needs; `lead_hours`
    sets how long before a session its nudge falls due."""
    signed_up = _ok(
        http.post(
            "/api/v1/practices",
            json={
                "practice_name": f"Practice {slug}",
                "owner_name": "Bench Owner",
                "owner_email": f"owner@{slug}.bench.example",
                "password": PASSWORD,
                "timezone": "Europe/London",
            },
        )
    )
    owner = {"Authorization": f"Bearer {signed_up['token']}"}
    practice = SeededPractice(
        id=UUID(signed_up["practice_id"]),
        api_key=_ok(http.post("/api/v1/api-keys", json={"name": "bench"}, headers=owner))["key"],
        owner_token=signed_up["token"],
    )
    for number in range(clinicians):
        added = http.post(
            "/api/v1/clinicians",
            json={
                "email": f"clinician{number}@{slug}.bench.example",
                "name": f"Clinician {number}",
                "timezone": "Europe/London",
                "password": PASSWORD,
            },
            headers=owner,
        )
        practice.clinicians.append(UUID(_ok(added)["id"]))
    for number in range(clients):
        clinician = practice.clinicians[number % clinicians]
        email = f"client{number}@{slug}.bench.example"
        added = http.post(
            "/api/v1/clients",
            json={
                "email": email,
                "reference": f"RC-{number:05d}",
                "timezone": "Europe/London",
                "clinician_id": str(clinician),
            },
            headers=owner,
        )
        practice.clients.append(SeededClient(UUID(_ok(added)["id"]), clinician, email))
    if immediate or lead_hours is not None:
        body = _ok(http.get("/api/v1/settings", headers=owner), 200)["settings"]
        body = _timing(body, immediate=immediate, lead_hours=lead_hours)
        _ok(http.put("/api/v1/settings", json=body, headers=owner), 200)
    return practice


def _timing(body: dict[str, Any], *, immediate: bool, lead_hours: float | None) -> dict[str, Any]:
    """What set_up_practice changes in the settings document, before it is PUT back."""
    if immediate:
        body["timing"]["survey_delay_minutes"] = 0
        body["timing"]["quiet_hours"] = None
    if lead_hours is not None:
        body["timing"]["alert_lead_hours"] = lead_hours
    return body


@contextmanager
def _one_password_hash() -> Iterator[None]:
    """Every account's password is PASSWORD: hash it once (the same salted hash for all, which
    verifies like any other) instead of once per account."""
    hashed = functools.cache(security.hash_password)
    with (
        mock.patch.object(practices, "hash_password", hashed),
        mock.patch.object(accounts, "hash_password", hashed),
    ):
        yield


def _seed_practice(
    db: Database,
    clock: Clock,
    slug: str,
    *,
    clinicians: int,
    clients: int,
    immediate: bool,
    lead_hours: float | None,
) -> SeededPractice:
    settings = Settings()
    practice_id = uuid4()
    # One transaction per request, as the API makes them.
    with db.transaction(practice_id) as session:
        _, owner_account = practices.sign_up(
            session,
            practice_id=practice_id,
            practice_name=f"Practice {slug}",
            owner_name="Bench Owner",
            owner_email=f"owner@{slug}.bench.example",
            password=PASSWORD,
            timezone="Europe/London",
            now=clock.now(),
        )
        session.flush()
        token = accounts.start_session(
            session, owner_account, now=clock.now(), lifetime=settings.session_lifetime
        )
    with db.transaction(practice_id) as session:
        owner = accounts.principal_for_session(
            session, token, now=clock.now(), idle_limit=settings.session_idle_limit
        )
    assert isinstance(owner, Principal)
    with db.transaction(practice_id) as session:
        key, _ = accounts.create_api_key(session, owner, name="bench", now=clock.now())
    practice = SeededPractice(id=practice_id, api_key=key, owner_token=token)
    for number in range(clinicians):
        with db.transaction(practice_id) as session:
            account = accounts.add_clinician(
                session,
                owner,
                email=f"clinician{number}@{slug}.bench.example",
                name=f"Clinician {number}",
                timezone="Europe/London",
                password=PASSWORD,
                now=clock.now(),
            )
            session.flush()
            practice.clinicians.append(account.id)
    for number in range(clients):
        clinician = practice.clinicians[number % clinicians]
        email = f"client{number}@{slug}.bench.example"
        with db.transaction(practice_id) as session:
            client = add_client(
                session,
                owner,
                email=email,
                reference=f"RC-{number:05d}",
                timezone="Europe/London",
                clinician_id=clinician,
                now=clock.now(),
            )
            session.flush()
            practice.clients.append(SeededClient(client.id, clinician, email))
    if immediate or lead_hours is not None:
        with db.transaction(practice_id) as session:
            current = practices.read_settings(session, owner, now=clock.now())
        body = _timing(
            current.settings.model_dump(mode="json"), immediate=immediate, lead_hours=lead_hours
        )
        with db.transaction(practice_id) as session:
            practices.replace_settings(
                session, owner, PracticeSettings.model_validate(body), now=clock.now()
            )
    return practice


def seed_practices(
    db: Database,
    clock: Clock,
    slugs: list[str],
    *,
    clinicians: int,
    clients: int,
    immediate: bool = True,
    lead_hours: float | None = None,
    threads: int = 4,
) -> list[SeededPractice]:
    """set_up_practice for each slug, in-process (see the module's docstring), `threads`
    practices at a time; in the order of `slugs`."""
    seed = functools.partial(
        _seed_practice,
        db,
        clock,
        clinicians=clinicians,
        clients=clients,
        immediate=immediate,
        lead_hours=lead_hours,
    )
    with _one_password_hash(), ThreadPoolExecutor(threads) as pool:
        return list(pool.map(seed, slugs))


def open_surveys(
    db: Database, practice: SeededPractice, per_client: int, *, now: datetime
) -> list[str]:
    """Per client, `per_client` held sessions each with a sent, unanswered survey; returns
    the raw survey tokens (what the links in the emails would carry)."""
    tokens: list[str] = []
    with db.transaction(practice.id) as session:
        for round_ in range(per_client):
            held = now - timedelta(hours=1 + round_)
            for client in practice.clients:
                appointment = Appointment(
                    id=uuid4(),
                    practice_id=practice.id,
                    client_id=client.id,
                    clinician_id=client.clinician_id,
                    starts_at=held - timedelta(minutes=50),
                    ends_at=held,
                    status=AppointmentStatus.COMPLETED,
                    completed_at=held,
                    updated_at=held,
                )
                invitation = Invitation(
                    id=uuid4(),
                    practice_id=practice.id,
                    appointment_id=appointment.id,
                    client_id=client.id,
                    status=InvitationStatus.SENT,
                    send_at=held,
                    sent_at=held,
                    expires_at=now + timedelta(days=6),
                    created_at=held,
                )
                raw, digest = new_token()
                session.add(appointment)
                session.flush()
                session.add(invitation)
                session.flush()
                session.add(
                    AccessToken(
                        token_hash=digest,
                        practice_id=practice.id,
                        purpose=TokenPurpose.SURVEY,
                        subject_id=invitation.id,
                        created_at=held,
                        expires_at=invitation.expires_at,
                    )
                )
                tokens.append(raw)
    return tokens


def book_upcoming(db: Database, practice: SeededPractice, *, starts_at: datetime) -> None:
    """Each client's next session, so an alert has an appointment to be aimed at."""
    with db.transaction(practice.id) as session:
        for client in practice.clients:
            session.add(
                Appointment(
                    id=uuid4(),
                    practice_id=practice.id,
                    client_id=client.id,
                    clinician_id=client.clinician_id,
                    starts_at=starts_at,
                    ends_at=starts_at + timedelta(minutes=50),
                    status=AppointmentStatus.SCHEDULED,
                    updated_at=starts_at,
                )
            )
