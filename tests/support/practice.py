"""Set up a practice through the real API, the way a clinic would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from tests.support.signing_in import token_of

CLIENT_EMAIL = "robin.client@harbour.example.com"  # create_practice's client, by default


@dataclass
class PracticeFixture:
    http: httpx.Client
    practice_id: str
    owner: dict[str, str]
    clinician: dict[str, str]
    client: dict[str, Any]
    api_key: str

    def as_owner(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.owner['token']}"}

    def as_clinician(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.clinician['token']}"}

    def log_in_again(self) -> None:
        """Sessions last hours; after the test clock jumps days, sign in afresh."""
        for who, email, password in (
            (self.owner, self.owner["email"], "correct horse battery"),
            (self.clinician, self.clinician["email"], "another long secret"),
        ):
            who["token"] = token_of(self.http, email, password)

    def as_scheduler(self) -> dict[str, str]:
        return {"X-API-Key": self.api_key}

    def book(self, external_id: str, starts_at: datetime, minutes: int = 50) -> dict[str, Any]:
        response = self.http.put(
            f"/api/v1/appointments/external/{external_id}",
            json={
                "client_id": self.client["id"],
                "starts_at": starts_at.isoformat(),
                "ends_at": (starts_at + timedelta(minutes=minutes)).isoformat(),
            },
            headers=self.as_scheduler(),
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def complete(self, external_id: str) -> dict[str, Any]:
        response = self.http.post(
            f"/api/v1/appointments/external/{external_id}/complete", headers=self.as_scheduler()
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def create_practice(
    http: httpx.Client,
    *,
    name: str = "Harbour Counselling",
    slug: str = "harbour",
    client_timezone: str = "Europe/London",
) -> PracticeFixture:
    signed_up = http.post(
        "/api/v1/practices",
        json={
            "practice_name": name,
            "owner_name": "Olive Owner",
            "owner_email": f"owner@{slug}.example.com",
            "password": "correct horse battery",
            "timezone": "Europe/London",
        },
    )
    assert signed_up.status_code == 201, signed_up.text
    owner = {
        "token": signed_up.json()["token"],
        "id": signed_up.json()["owner"]["id"],
        "email": f"owner@{slug}.example.com",
    }
    owner_headers = {"Authorization": f"Bearer {owner['token']}"}
    added = http.post(
        "/api/v1/clinicians",
        json={
            "email": f"casey@{slug}.example.com",
            "name": "Casey Clinician",
            "timezone": "Europe/London",
            "password": "another long secret",
        },
        headers=owner_headers,
    )
    assert added.status_code == 201, added.text
    logged_in = http.post(
        "/api/v1/auth/login",
        json={"email": f"casey@{slug}.example.com", "password": "another long secret"},
    )
    assert logged_in.status_code == 200, logged_in.text
    clinician = {
        "token": logged_in.json()["token"],
        "id": added.json()["id"],
        "email": f"casey@{slug}.example.com",
    }
    client = http.post(
        "/api/v1/clients",
        json={
            "email": f"robin.client@{slug}.example.com",
            "reference": "RC-1001",
            "timezone": client_timezone,
            "clinician_id": clinician["id"],
        },
        headers=owner_headers,
    )
    assert client.status_code == 201, client.text
    key = http.post("/api/v1/api-keys", json={"name": "scheduler"}, headers=owner_headers)
    assert key.status_code == 201, key.text
    return PracticeFixture(
        http=http,
        practice_id=signed_up.json()["practice_id"],
        owner=owner,
        clinician=clinician,
        client=client.json(),
        api_key=key.json()["key"],
    )


def add_clinician_with_client(practice: PracticeFixture) -> tuple[str, str]:
    """A second clinician, Drew, with a client of their own (SC-2002); returns both ids."""
    http = practice.http
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
    client = http.post(
        "/api/v1/clients",
        json={
            "email": "sam.client@harbour.example.com",
            "reference": "SC-2002",
            "clinician_id": added.json()["id"],
        },
        headers=practice.as_owner(),
    )
    assert client.status_code == 201, client.text
    return added.json()["id"], client.json()["id"]
