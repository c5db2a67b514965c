"""The load generator's in-process setup writes what the API writes: the replay it sets up
measures the same practices as one set up request by request."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

import httpx
from sqlmodel import SQLModel, col, select

from bench.seed import seed_practices, set_up_practice
from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.models import (
    Account,
    ApiKey,
    AuditEvent,
    AuthSession,
    Client,
    Practice,
    PracticeSettingsVersion,
)
from tests.support.inspection import everything

PER_PRACTICE: list[type[SQLModel]] = [Account, ApiKey, AuthSession, Client, AuditEvent]


def _rows(stack: Stack, practice_id: UUID) -> dict[str, object]:
    with everything(stack) as session:
        counts = {
            model.__name__: len(
                session.exec(
                    select(model).where(col(model.practice_id) == practice_id)  # type: ignore[attr-defined]
                ).all()
            )
            for model in PER_PRACTICE
        }
        practice = session.get(Practice, practice_id)
        assert practice is not None
        versions = session.exec(
            select(PracticeSettingsVersion)
            .where(col(PracticeSettingsVersion.practice_id) == practice_id)
            .order_by(col(PracticeSettingsVersion.version))
        ).all()
        audit = Counter(
            session.exec(
                select(AuditEvent.action).where(col(AuditEvent.practice_id) == practice_id)
            ).all()
        )
        roles = Counter(
            session.exec(select(Account.role).where(col(Account.practice_id) == practice_id)).all()
        )
    return {
        **counts,
        "settings_version": practice.settings_version,
        "versions": [(v.version, v.body) for v in versions],
        "audit": audit,
        "roles": roles,
    }


def test_the_in_process_setup_writes_the_rows_the_api_writes(
    http: httpx.Client, stack: Stack, clock: ManualClock
) -> None:
    through_api = set_up_practice(http, "viaapi", clinicians=2, clients=3, lead_hours=336)
    (direct,) = seed_practices(stack.db, clock, ["direct"], clinicians=2, clients=3, lead_hours=336)

    assert _rows(stack, direct.id) == _rows(stack, through_api.id)
    assert [c.email for c in direct.clients] == [
        c.email.replace("viaapi", "direct") for c in through_api.clients
    ]
    # What the replay uses works: the API key for the scheduling system, the owner's session.
    assert http.get("/api/v1/clients", headers={"X-API-Key": direct.api_key}).status_code == 200
    owner = {"Authorization": f"Bearer {direct.owner_token}"}
    settings = http.get("/api/v1/settings", headers=owner)
    assert settings.status_code == 200
    assert settings.json()["settings"]["timing"]["alert_lead_hours"] == 336
