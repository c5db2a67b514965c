"""The audit log: who read or changed a client's data, the settings and the API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.models import AuditEvent
from tests.conftest import START
from tests.support.inspection import everything
from tests.support.practice import PracticeFixture, create_practice


def events(practice: PracticeFixture, **query: str) -> list[dict[str, Any]]:
    response = practice.http.get("/api/v1/audit-events", params=query, headers=practice.as_owner())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_reads_and_changes_are_logged_with_who_and_when(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    practice = create_practice(http)
    client_id = practice.client["id"]
    clock.advance(timedelta(minutes=5))
    read_at = clock.now()

    assert http.get(f"/api/v1/clients/{client_id}", headers=practice.as_clinician()).is_success
    assert http.get(f"/api/v1/clients/{client_id}/responses", headers=practice.as_owner())
    booked = practice.book("visit-1", START - timedelta(hours=1))
    practice.complete("visit-1")
    seen = http.get("/api/v1/appointments/external/visit-1", headers=practice.as_scheduler())
    assert seen.status_code == 200
    settings = http.get("/api/v1/settings", headers=practice.as_owner()).json()["settings"]
    settings["rules"]["floor"]["floor"] = 1  # saving unchanged settings is no change
    assert http.put("/api/v1/settings", json=settings, headers=practice.as_owner()).is_success
    key = http.post("/api/v1/api-keys", json={"name": "ehr"}, headers=practice.as_owner()).json()
    assert http.delete(f"/api/v1/api-keys/{key['id']}", headers=practice.as_owner()).is_success
    assert http.get("/api/v1/api-keys", headers=practice.as_owner()).is_success

    log = events(practice)
    actions = [(e["action"], e["actor_id"], e["client_id"]) for e in log]
    owner, clinician = practice.owner["id"], practice.clinician["id"]
    assert ("client.read", clinician, client_id) in actions
    assert ("client.answers_read", owner, client_id) in actions
    assert ("settings.changed", owner, None) in actions
    assert ("api_key.created", owner, None) in actions
    assert ("api_key.revoked", owner, None) in actions
    scheduler = next(e for e in log if e["action"] == "appointment.booked")
    assert scheduler["actor_kind"] == "api_key"
    assert scheduler["client_id"] == client_id
    assert scheduler["subject_id"] == booked["id"]
    completed = next(e for e in log if e["action"] == "appointment.completed")
    assert (completed["actor_id"], completed["client_id"]) == (scheduler["actor_id"], client_id)
    # Newest first, each stamped with the (injected) time it happened.
    stamps = [datetime.fromisoformat(e["at"]) for e in log]
    assert stamps == sorted(stamps, reverse=True)
    later = [e["action"] for e, at in zip(log, stamps, strict=True) if at >= read_at]
    assert sorted(later) == sorted(
        [
            "client.read",
            "client.answers_read",
            "appointment.booked",
            "appointment.completed",
            "appointment.read",
            "settings.read",
            "settings.changed",
            "api_key.created",
            "api_key.revoked",
            "api_key.listed",
        ]
    )
    assert {e["action"] for e, at in zip(log, stamps, strict=True) if at == START} == {
        "clinician.added",
        "client.added",
        "api_key.created",
    }
    revoked = next(e for e in log if e["action"] == "api_key.revoked")
    assert revoked["subject_id"] == key["id"]


def test_the_owner_filters_by_client_actor_and_date(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    practice = create_practice(http)
    client_id = practice.client["id"]
    other = http.post(
        "/api/v1/clients",
        json={
            "email": "sam@example.com",
            "reference": "RC-2",
            "clinician_id": practice.clinician["id"],
        },
        headers=practice.as_owner(),
    ).json()
    clock.advance(timedelta(hours=2))
    day_two = clock.now()
    http.get(f"/api/v1/clients/{other['id']}", headers=practice.as_clinician())
    clock.advance(timedelta(hours=2))
    http.get(f"/api/v1/clients/{client_id}", headers=practice.as_owner())

    about_first = events(practice, client_id=client_id)
    assert {e["client_id"] for e in about_first} == {client_id}
    assert [e["action"] for e in about_first] == ["client.read", "client.added"]

    by_clinician = events(practice, actor_id=practice.clinician["id"])
    assert [(e["action"], e["client_id"]) for e in by_clinician] == [("client.read", other["id"])]

    window = events(
        practice,
        since=day_two.isoformat(),
        until=(day_two + timedelta(hours=1)).isoformat(),
    )
    assert [(e["action"], e["client_id"]) for e in window] == [("client.read", other["id"])]


def test_only_the_owner_reads_it_and_nobody_edits_it(stack: Stack, http: httpx.Client) -> None:
    practice = create_practice(http)
    for headers in (practice.as_clinician(), practice.as_scheduler()):
        assert http.get("/api/v1/audit-events", headers=headers).status_code == 403

    schema = http.get("/schema/openapi.json").json()
    audit_paths = {p: ops for p, ops in schema["paths"].items() if "audit" in p}
    assert audit_paths, "the audit log is listed in the API"
    for operations in audit_paths.values():
        assert set(operations) - {"parameters"} == {"get"}
    event_id = events(practice)[0]["id"]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for path in ("/api/v1/audit-events", f"/api/v1/audit-events/{event_id}"):
            response = http.request(method, path, headers=practice.as_owner(), json={})
            assert response.status_code in (404, 405), (method, path, response.status_code)
    assert any(e["id"] == event_id for e in events(practice))


def test_refused_requests_leave_no_entry(stack: Stack, http: httpx.Client) -> None:
    practice = create_practice(http)
    neighbour = create_practice(http, name="Orchard", slug="orchard")
    with everything(stack) as session:
        before = len(session.exec(select(AuditEvent)).all())
    stranger = neighbour.client["id"]
    assert http.get(f"/api/v1/clients/{stranger}", headers=practice.as_owner()).status_code == 404
    assert (
        http.get(f"/api/v1/clients/{stranger}/export", headers=practice.as_owner()).status_code
        == 404
    )
    assert (
        http.delete(f"/api/v1/clients/{stranger}", headers=practice.as_owner()).status_code == 404
    )
    with everything(stack) as session:
        assert len(session.exec(select(AuditEvent)).all()) == before


def test_a_date_without_a_time_zone_is_a_clear_4xx(stack: Stack, http: httpx.Client) -> None:
    practice = create_practice(http)
    response = http.get(
        "/api/v1/audit-events", params={"since": "2026-03-02T09:00:00"}, headers=practice.as_owner()
    )
    assert response.status_code in (400, 422), response.text
    assert "time zone" in response.text
    bad = http.get("/api/v1/audit-events", params={"page_size": "0"}, headers=practice.as_owner())
    assert bad.status_code in (400, 422), bad.text
    assert "page_size" in bad.text
