"""The scheduler's tick: how long it takes, when it last ended, and what each job found.

A job's kind is its name (services.worker.scheduler.jobs: send_nudge, evaluate_late_response,
...). Outcomes: found (due items its finder returned), done (acts that did something),
failed (acts that raised: held back, or marked failed), find_failed (ticks the finder raised
and the job was skipped), passed (ticks the job was skipped because another scheduler was
running it: shared.db.due.job_turn).

Every process imports the scheduler (services.bootstrap wires all of them), and a metric
without labels is exported from its creation, so the API and the worker would report a tick
count of 0 and a last tick in 1970 beside the scheduler's real ones. The two are therefore
registered by the first tick: only a process that ticks exports them.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

TICK = Histogram(
    "attune_scheduler_tick_seconds",
    "Duration of one scheduler tick: every job, housekeeping and the outbox relay",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=None,
)
LAST_TICK = Gauge(
    "attune_scheduler_last_tick_timestamp_seconds",
    "Wall-clock time the last tick ended, finished or failed (a stalled loop stops moving it)",
    registry=None,
)
_registered = threading.Event()
_registering = threading.Lock()
ITEMS = Counter(
    "attune_scheduler_items",
    "Due items by job kind and outcome (found, done, failed, find_failed, passed)",
    ["kind", "outcome"],
)


def count_items(kind: str, outcome: str, amount: int = 1) -> None:
    # Zero too: the series exists from the first tick, so rate() sees its first increase.
    ITEMS.labels(kind=kind, outcome=outcome).inc(amount)


P = ParamSpec("P")
R = TypeVar("R")


def timed_tick(tick: Callable[P, R]) -> Callable[P, R]:
    """Times every tick, the ones that fail halfway (the broker away) too."""

    @functools.wraps(tick)
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        _register_once()
        started = time.perf_counter()
        try:
            return tick(*args, **kwargs)
        finally:
            TICK.observe(time.perf_counter() - started)
            LAST_TICK.set(time.time())

    return timed


def _register_once() -> None:
    if _registered.is_set():
        return
    with _registering:
        if not _registered.is_set():
            REGISTRY.register(TICK)
            REGISTRY.register(LAST_TICK)
            _registered.set()
