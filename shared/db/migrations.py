"""Schema migrations (alembic), run as `attune db upgrade` and by the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from shared.health.readiness import SchemaHistory


def _alembic_ini() -> Path:
    # From a checkout, infra/ sits beside shared/; in the container image it is copied to the
    # working directory.
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        candidate = root / "infra" / "alembic.ini"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "infra/alembic.ini not found beside the code or in the working directory"
    )


def alembic_config(database_url: str) -> Config:
    config = Config(str(_alembic_ini()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def history() -> SchemaHistory:
    """The revisions this code ships: its head, which readiness expects the database at, and
    every one it knows (a revision it does not know is a newer release's)."""
    scripts = ScriptDirectory.from_config(Config(str(_alembic_ini())))
    return SchemaHistory(
        heads=frozenset(scripts.get_heads()),
        known=frozenset(script.revision for script in scripts.walk_revisions()),
    )
