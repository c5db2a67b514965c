"""The dev mail page shows every email with its live links: embedded mode only."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient

from services.api.app import create_app
from services.api.context import ApiContext
from shared.clock import ManualClock
from shared.db import Database
from shared.settings import Settings
from tests.conftest import START


def test_production_mode_refuses_to_serve_the_dev_mail_page(
    tmp_path: Path, session_db: Database
) -> None:
    production = Settings(
        database_url="postgresql+psycopg://attune@db.invalid/attune",
        redis_url="redis://redis.invalid:6379/0",
    )
    context = ApiContext(settings=production, db=session_db, clock=ManualClock(START))
    with pytest.raises(ValueError, match="embedded mode"):
        create_app(context, dev_mail_dir=str(tmp_path))
    # Without the page the app starts, and the path is simply not there.
    with TestClient(create_app(context)) as http:
        assert http.get("/dev/mail").status_code == 404


def test_embedded_mode_serves_it_when_asked(tmp_path: Path, session_db: Database) -> None:
    embedded = Settings(database_url="sqlite:///unused.db", redis_url=None)
    assert embedded.embedded
    (tmp_path / "mail").mkdir()
    context = ApiContext(settings=embedded, db=session_db, clock=ManualClock(START))
    with TestClient(create_app(context, dev_mail_dir=str(tmp_path / "mail"))) as http:
        assert http.get("/dev/mail").status_code == 200
