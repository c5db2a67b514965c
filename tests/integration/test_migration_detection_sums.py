"""Migration 0004 carries existing client summaries over to exact sums, and back."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared.db.migrations import downgrade, upgrade
from shared.detection.history import History
from tests.integration.test_migrations import _scratch_database


def test_client_summaries_survive_the_upgrade_and_the_downgrade(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = _scratch_database(tmp_path_factory)
    upgrade(url, "0001")
    history = History().with_answer(4.0).with_answer(5.0).with_answer(3.8)
    practice, client, clinician = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_engine(url)
    m2 = history.sd**2 * (history.answered - 1)
    with engine.begin() as connection:
        ids = {"p": practice.hex, "c": client.hex, "a": clinician.hex}
        if url.startswith("postgresql"):
            ids = {key: str(uuid.UUID(value)) for key, value in ids.items()}
        connection.execute(
            text("INSERT INTO practice VALUES (:p, 'P', 1, '2026-01-01 00:00:00+00')"), ids
        )
        connection.execute(
            text(
                "INSERT INTO account (id, practice_id, email, name, role, timezone, created_at) "
                "VALUES (:a, :p, 'a@example.com', 'A', 'clinician', 'UTC', "
                "'2026-01-01 00:00:00+00')"
            ),
            ids,
        )
        connection.execute(
            text(
                "INSERT INTO client (id, practice_id, clinician_id, reference, email, timezone, "
                "created_at) VALUES (:c, :p, :a, 'RC-1', 'c@example.com', 'UTC', "
                "'2026-01-01 00:00:00+00')"
            ),
            ids,
        )
        connection.execute(
            text("INSERT INTO client_history VALUES (:c, :p, 3, :mean, :m2, 3.8, 1, 0)"),
            ids | {"mean": history.mean, "m2": m2},
        )
    engine.dispose()

    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT answered, total, total_sq FROM client_history"))
        assert tuple(row.one()) == (3, history.total, history.total_sq)
    engine.dispose()

    downgrade(url, "0001")
    engine = create_engine(url)
    with engine.connect() as connection:
        mean, m2_back = connection.execute(text("SELECT mean, m2 FROM client_history")).one()
    engine.dispose()
    assert mean == pytest.approx(history.mean)
    assert m2_back == pytest.approx(m2)

    if url.startswith("postgresql"):
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{target.database}" WITH (FORCE)'))
        admin.dispose()
