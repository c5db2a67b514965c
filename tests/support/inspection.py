"""Reading the whole database from a test, across practices."""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager

from sqlmodel import Session

from services.bootstrap import Stack
from shared.db import Database, create_database


@functools.cache
def _owner(url: str) -> Database:
    return create_database(url, pool_size=2)


def everything(stack: Stack) -> AbstractContextManager[Session]:
    """Every practice's rows, read as the owner (exempt from row-level security). The app
    never reads this way: on PostgreSQL stack.db in no practice sees nothing."""
    settings = stack.settings
    return _owner(settings.migration_database_url or settings.database_url).transaction()
