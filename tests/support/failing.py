"""Making a practice's work fail on purpose, as the fault, retry and metrics tests do."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import update
from sqlmodel import col, select

from services.bootstrap import Stack
from shared.models import PracticeSettingsVersion
from shared.survey.responses import EVALUATE_RESPONSE
from tests.support.inspection import everything

# Stored settings whose rules no longer parse: every evaluation of the practice's answers raises.
UNPARSABLE_RULES: dict[str, Any] = {"rules": "not rules"}


def stored_settings_body(stack: Stack, practice_id: UUID | str) -> dict[str, Any]:
    with everything(stack) as session:
        body: dict[str, Any] = session.exec(
            select(PracticeSettingsVersion.body).where(
                PracticeSettingsVersion.practice_id == UUID(str(practice_id))
            )
        ).one()
        return body


def store_settings_body(stack: Stack, practice_id: UUID | str, body: dict[str, Any]) -> None:
    """Write the practice's stored settings document past the API's checks (as the owner),
    as a settings change that later stopped parsing would have left it."""
    with everything(stack) as session:
        session.execute(
            update(PracticeSettingsVersion)
            .where(col(PracticeSettingsVersion.practice_id) == UUID(str(practice_id)))
            .values(body=body)
        )


def dead_letter_after_one_retry(stack: Stack, actor: str = EVALUATE_RESPONSE) -> None:
    """`actor`'s messages are retried once, soon, and then dead-lettered; the embedded
    broker's join does not re-raise the dead letter's error (in production nothing does)."""
    stack.broker.get_actor(actor).options.update(max_retries=1, min_backoff=10, max_backoff=20)
    stack.broker.fail_fast_default = False  # type: ignore[attr-defined]
