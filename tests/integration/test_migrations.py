"""Alembic owns the schema on both databases."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import shared.models  # noqa: F401
from shared.db.migrations import downgrade, upgrade


def _scratch_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("ATTUNE_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('migrations') / 'scratch.db'}"
    target = make_url(url)
    name = f"attune_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return target.set(database=name).render_as_string(hide_password=False)


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(tmp_path_factory: pytest.TempPathFactory) -> None:
    url = _scratch_database(tmp_path_factory)
    upgrade(url)
    assert _tables(url) == set(SQLModel.metadata.tables)
    downgrade(url)
    assert _tables(url) == set()
    upgrade(url)
    assert _tables(url) == set(SQLModel.metadata.tables)
    if url.startswith("postgresql"):
        target = make_url(url)
        admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{target.database}" WITH (FORCE)'))
        admin.dispose()
