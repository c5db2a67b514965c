"""dramatiq messages by actor and outcome, counted by a small middleware of ours.

Not dramatiq.middleware.prometheus: it starts its own HTTP server and needs a multiprocess
directory (prometheus_multiprocess_dir) shared by forked worker processes, where `attune
worker` runs its workers as threads of one process whose ops port (services/ops_http.py)
already serves the registry; and it counts no retries and no dead letters, which are the
outcomes an operator alerts on.

Outcomes, one count per event:
- processed: an attempt that returned;
- failed: an attempt that raised (each one, retried or not);
- retried: a failed attempt put back on the queue with a delay (dramatiq's Retries);
- dead_lettered: a message the broker gave up on (retries or age limit spent).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dramatiq
from dramatiq import Broker
from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "attune_worker_messages",
    "dramatiq messages by actor and outcome (processed, failed, retried, dead_lettered)",
    ["actor", "outcome"],
)
DURATION = Histogram(
    "attune_worker_message_duration_seconds",
    "Time an actor took on one attempt, by actor",
    ["actor"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


class MessageMetrics(dramatiq.Middleware):
    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def before_process_message(self, broker: Broker, message: dramatiq.MessageProxy) -> None:
        with self._lock:
            self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self,
        broker: Broker,
        message: dramatiq.MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        with self._lock:
            started = self._started.pop(message.message_id, None)
        if started is not None:
            DURATION.labels(actor=message.actor_name).observe(time.perf_counter() - started)
        outcome = "processed" if exception is None else "failed"
        MESSAGES.labels(actor=message.actor_name, outcome=outcome).inc()

    def after_skip_message(self, broker: Broker, message: dramatiq.MessageProxy) -> None:
        with self._lock:
            self._started.pop(message.message_id, None)

    def after_enqueue(self, broker: Broker, message: dramatiq.Message, delay: int | None) -> None:
        # Retries re-enqueues the failed message with its count raised and a backoff delay.
        # A message moving from the delay queue to the work queue is enqueued again without
        # one, and a first send has no retries: neither is a retry.
        if delay and message.options.get("retries", 0) > 0:
            MESSAGES.labels(actor=message.actor_name, outcome="retried").inc()

    def after_nack(self, broker: Broker, message: dramatiq.MessageProxy) -> None:
        MESSAGES.labels(actor=message.actor_name, outcome="dead_lettered").inc()
