"""What handlers reach for: the database, the clock, the settings, the relay."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from litestar import Request
from sqlmodel import Session

from shared.access import Principal
from shared.clock import Clock
from shared.db import Database
from shared.outbox import emitted
from shared.settings import Settings


class Waker(Protocol):
    def wake(self) -> None: ...


@dataclass
class ApiContext:
    settings: Settings
    db: Database
    clock: Clock
    relay: Waker | None = None

    @contextmanager
    def transaction(self, principal: Principal | None = None) -> Iterator[Session]:
        with self.db.transaction(principal.practice_id if principal else None) as session:
            yield session
        # Events committed with the change: let the relay publish them without waiting for
        # the scheduler's next tick. A transaction that wrote none leaves the relay asleep.
        if self.relay is not None and emitted(session):
            self.relay.wake()


def context_of(request: Request) -> ApiContext:
    return request.app.state.context  # type: ignore[no-any-return]


def provide_context(request: Request) -> ApiContext:
    return context_of(request)


def provide_principal(request: Request) -> Principal:
    return request.user  # type: ignore[no-any-return]
