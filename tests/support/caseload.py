"""More clients for a practice, each with a session just held and one to come."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tests.support.practice import PracticeFixture


@dataclass
class CaseloadClient:
    id: str
    email: str
    reference: str


def add_client(practice: PracticeFixture, number: int) -> CaseloadClient:
    email = f"client.{number}@caseload.example.org"
    reference = f"RC-{2000 + number}"
    response = practice.http.post(
        "/api/v1/clients",
        json={
            "email": email,
            "reference": reference,
            "timezone": "Europe/London",
            "clinician_id": practice.clinician["id"],
        },
        headers=practice.as_owner(),
    )
    assert response.status_code == 201, response.text
    return CaseloadClient(id=response.json()["id"], email=email, reference=reference)


def book(
    practice: PracticeFixture, client: CaseloadClient, external_id: str, starts_at: datetime
) -> None:
    response = practice.http.put(
        f"/api/v1/appointments/external/{external_id}",
        json={
            "client_id": client.id,
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(minutes=50)).isoformat(),
        },
        headers=practice.as_scheduler(),
    )
    assert response.status_code == 200, response.text


def held_and_upcoming(
    practice: PracticeFixture, count: int, *, held_at: datetime, upcoming_at: datetime
) -> list[CaseloadClient]:
    """`count` clients, each with a completed session at `held_at` and one at `upcoming_at`."""
    clients = [add_client(practice, number) for number in range(1, count + 1)]
    for client in clients:
        book(practice, client, f"{client.reference}-held", held_at)
        book(practice, client, f"{client.reference}-upcoming", upcoming_at)
        practice.complete(f"{client.reference}-held")
    return clients
