"""Migration 0006 carries existing client summaries over: per-item sums and the decline
streak's start, folded from the answers already evaluated, equal to what the worker keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.db import create_database
from shared.db.migrations import downgrade, upgrade
from shared.models import Account, Client, ClientHistory, Role
from shared.practice.service import sign_up
from tests.integration.test_migrations import _scratch_database
from tests.support.history import FIVE, answered_session

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
ANSWERS = [
    FIVE,
    FIVE | {"pace": 3},
    FIVE | {"pace": 4, "honest": 4},
    FIVE | {"pace": 2},  # 4.4 then 4.0: two falls in a row from 4.6
    FIVE | {"pace": 1, "input": 3},
]


def test_item_sums_and_streak_start_survive_the_downgrade_and_the_upgrade(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = _scratch_database(tmp_path_factory)
    upgrade(url)
    db = create_database(url)
    practice_id, clinician_id, client_id = uuid4(), uuid4(), uuid4()
    with db.transaction(practice_id) as session:
        sign_up(
            session,
            practice_id=practice_id,
            practice_name="Migration Practice",
            owner_email="owner@migration.example.com",
            owner_name="Owner",
            password="a long migration password",
            timezone="UTC",
            now=START,
        )
        session.add(
            Account(
                id=clinician_id,
                practice_id=practice_id,
                email="clinician@migration.example.com",
                name="Clinician",
                role=Role.CLINICIAN,
                created_at=START,
            )
        )
        session.flush()
        session.add(
            Client(
                id=client_id,
                practice_id=practice_id,
                clinician_id=clinician_id,
                reference="MC-1",
                email="client@migration.example.com",
                created_at=START,
            )
        )
    for week, scores in enumerate(ANSWERS):
        answered_session(
            db,
            practice_id,
            client_id,
            clinician_id,
            at=START + timedelta(weeks=week),
            scores=scores,
        )

    def summary() -> tuple[dict[str, list[int]] | None, float | None, int]:
        with db.transaction(practice_id) as session:
            row = session.get(ClientHistory, client_id)
            assert row is not None
            return row.item_sums, row.streak_from, row.decline_streak

    kept_by_worker = summary()
    item_sums, streak_from, streak = kept_by_worker
    assert item_sums is not None and item_sums["pace"] == [5, 15, 55]
    assert (streak_from, streak) == (pytest.approx(4.6), 2)
    db.engine.dispose()

    downgrade(url, "0009")
    engine = create_engine(url)
    with engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM client_history")).keys()
        assert "item_sums" not in columns and "streak_from" not in columns
    engine.dispose()
    upgrade(url)
    db = create_database(url)
    assert summary() == kept_by_worker
    db.engine.dispose()

    if url.startswith("postgresql"):
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{target.database}" WITH (FORCE)'))
        admin.dispose()
