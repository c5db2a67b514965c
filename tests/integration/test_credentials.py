"""Credentials arrive before the practice is known; each is resolved to its own practice."""

from __future__ import annotations

import httpx

from services.bootstrap import Stack
from tests.support.practice import create_practice


def test_an_email_taken_in_another_practice_is_a_conflict_not_an_error(
    stack: Stack, http: httpx.Client
) -> None:
    harbour = create_practice(http)
    orchard = create_practice(http, name="Orchard", slug="orchard")
    again = http.post(
        "/api/v1/practices",
        json={
            "practice_name": "Copycat",
            "owner_name": "Olive",
            "owner_email": harbour.owner["email"],
            "password": "a long enough password",
        },
    )
    assert again.status_code == 409, again.text
    assert again.json()["field"] == "owner_email"
    taken = http.post(
        "/api/v1/clinicians",
        json={"email": harbour.clinician["email"], "name": "Casey Two"},
        headers=orchard.as_owner(),
    )
    assert taken.status_code == 409, taken.text
    # Nothing of the refused sign-up was kept.
    assert (
        http.post(
            "/api/v1/auth/login",
            json={"email": harbour.owner["email"], "password": "a long enough password"},
        ).status_code
        == 401
    )


def test_each_login_and_token_lands_in_its_own_practice(stack: Stack, http: httpx.Client) -> None:
    harbour = create_practice(http)
    orchard = create_practice(http, name="Orchard", slug="orchard")
    for practice in (harbour, orchard):
        practice.log_in_again()
        me = http.get("/api/v1/me", headers=practice.as_clinician()).json()
        assert me["practice_id"] == practice.practice_id
        clients = http.get("/api/v1/clients", headers=practice.as_scheduler()).json()
        assert [c["id"] for c in clients] == [practice.client["id"]]
    unknown = http.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "whatever it is"}
    )
    assert unknown.status_code == 401
    forged = http.get("/api/v1/clients", headers={"Authorization": "Bearer s_not-a-real-token"})
    assert forged.status_code == 401
