"""Preparing a PostgreSQL server for a test run or a benchmark."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError


def prepare_postgres(url: str) -> None:
    """Create the test database if needed and empty it, so each run starts from nothing."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def ensure_login_role(url: str, role: str) -> None:
    """Roles are shared by every database on the server, and other test runs may create
    them at the same moment: tolerate losing that race."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        for _ in range(3):
            with engine.connect() as connection:
                found = connection.execute(
                    text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :role"), {"role": role}
                ).first()
                if found is not None and found[0]:
                    return
                verb = "ALTER" if found is not None else "CREATE"
                try:
                    connection.execute(text(f"{verb} ROLE {role} LOGIN"))
                except DBAPIError:
                    continue  # someone else created or altered it meanwhile: look again
    finally:
        engine.dispose()


def as_role(url: str, role: str) -> str:
    return make_url(url).set(username=role, password=None).render_as_string(hide_password=False)
