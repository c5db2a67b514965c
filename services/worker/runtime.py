"""What an actor needs at hand, installed once per worker process."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from shared.clock import Clock
from shared.db import Database
from shared.notifications.delivery import Mailer
from shared.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    mailer: Mailer
    # This process's heartbeat row (shared.work.heartbeats): its claims name it.
    worker_id: UUID | None = None


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("the worker runtime is not installed")
    return _current
