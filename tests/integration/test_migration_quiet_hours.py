"""Migration 0013 rewrites quiet hours stored with a zone (accepted before quiet hours became
local wall-clock times) to their wall-clock digits: before it, such a practice's settings
cannot be read at all; after it, they read as the times the owner typed."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from shared.db import Database, create_database
from shared.db.migrations import upgrade
from shared.models import PracticeSettingsVersion
from shared.practice.service import current_settings, sign_up
from tests.integration.test_migrations import _scratch_database

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
# What the earlier code stored for "22:00+01:00", "07:30Z" and the number 12345.
ZONED = {"start": "22:00:00+01:00", "end": "07:30:00Z"}
NUMBER = {"start": "03:25:45Z", "end": "08:00:00"}


def _practice(db: Database, n: int, quiet_hours: dict[str, Any] | None) -> UUID:
    practice_id = uuid4()
    with db.transaction(practice_id) as session:
        sign_up(
            session,
            practice_id=practice_id,
            practice_name=f"Migration Practice {n}",
            owner_email=f"owner{n}@migration.example.com",
            owner_name="Owner",
            password="a long migration password",
            timezone="Europe/London",
            now=START,
        )
    if quiet_hours is not None:
        with db.transaction(practice_id) as session:
            body = session.exec(
                select(PracticeSettingsVersion.body).where(
                    PracticeSettingsVersion.practice_id == practice_id
                )
            ).one()
            body = {**body, "timing": {**body["timing"], "quiet_hours": quiet_hours}}
            session.exec(
                update(PracticeSettingsVersion)
                .where(col(PracticeSettingsVersion.practice_id) == practice_id)
                .values(body=body)
            )
    return practice_id


def _bodies(db: Database, practice_id: UUID) -> list[dict[str, Any]]:
    with db.transaction(practice_id) as session:
        return list(
            session.exec(
                select(PracticeSettingsVersion.body).where(
                    PracticeSettingsVersion.practice_id == practice_id
                )
            ).all()
        )


def test_zoned_quiet_hours_are_rewritten_as_wall_clock_times(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = _scratch_database(tmp_path_factory)
    upgrade(url, "0012")
    db = create_database(url)
    zoned = _practice(db, 1, ZONED)
    number = _practice(db, 2, NUMBER)
    already = _practice(db, 3, {"start": "20:00:00", "end": "07:30:00"})
    none = _practice(db, 4, None)
    off = _practice(db, 5, {})
    untouched = {pid: _bodies(db, pid) for pid in (already, none)}

    # Not harmless: today's code cannot read such a practice's settings at all (evaluation,
    # scheduling and the settings page all start there).
    for practice_id in (zoned, number):
        with db.transaction(practice_id) as session, pytest.raises(ValidationError):
            current_settings(session, practice_id)
    db.engine.dispose()

    upgrade(url)
    db = create_database(url)

    def quiet(practice_id: UUID) -> tuple[time, time] | None:
        with db.transaction(practice_id) as session:
            hours = current_settings(session, practice_id).settings.timing.quiet_hours
            return None if hours is None else (hours.start, hours.end)

    assert quiet(zoned) == (time(22, 0), time(7, 30))
    assert quiet(number) == (time(3, 25, 45), time(8, 0))
    assert quiet(already) == (time(20, 0), time(7, 30))
    assert quiet(off) == (time(21, 0), time(8, 0))  # {} took the defaults before and after
    [stored] = _bodies(db, zoned)
    assert stored["timing"]["quiet_hours"] == {"start": "22:00:00", "end": "07:30:00"}
    for practice_id, bodies in untouched.items():
        assert _bodies(db, practice_id) == bodies
    db.engine.dispose()

    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.connect() as connection:
            forced = connection.execute(
                text(
                    "SELECT relforcerowsecurity FROM pg_class "
                    "WHERE relname = 'practice_settings_version'"
                )
            ).scalar_one()
        engine.dispose()
        assert forced  # the policy is back on for the owner too
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{target.database}" WITH (FORCE)'))
        admin.dispose()
