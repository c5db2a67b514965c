"""Reading the whole database from a test, across practices."""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager
from typing import Any

from sqlmodel import Session, func, select

from services.bootstrap import Stack
from shared.db import Database, create_database
from shared.models import Client


@functools.cache
def _owner(url: str) -> Database:
    return create_database(url, pool_size=2)


def everything(stack: Stack) -> AbstractContextManager[Session]:
    """Every practice's rows, read as the owner (exempt from row-level security). The app
    never reads this way: on PostgreSQL stack.db in no practice sees nothing."""
    settings = stack.settings
    return _owner(settings.migration_database_url or settings.database_url).transaction()


def count(stack: Stack, model: type, *where: Any) -> int:
    """Rows of `model` matching `where`, in every practice."""
    with everything(stack) as session:
        query = select(func.count()).select_from(model)
        for condition in where:
            query = query.where(condition)
        return session.exec(query).one()


def client_row(stack: Stack) -> Client:
    """The one client there is (create_practice's)."""
    with everything(stack) as session:
        return Client.model_validate(session.exec(select(Client)).one())
