"""The actors: each reads its ids, calls one domain function, and returns.

Every side effect behind them is idempotent (conditional claims, unique keys), so dramatiq's
at-least-once delivery, retries and a second worker change nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import dramatiq
import structlog
from dramatiq import Broker
from dramatiq.worker import WorkerThread

from services.metrics.messages import MessageMetrics
from services.worker.runtime import current
from shared.alerts import service as alerts
from shared.appointments.service import SCHEDULE_INVITATION
from shared.logging import bind_request_id
from shared.notifications.delivery import deliver
from shared.notifications.queue import DELIVER_NOTIFICATION
from shared.survey import invitations
from shared.survey.responses import EVALUATE_RESPONSE
from shared.work.failures import record_failure

log = structlog.get_logger("attune.worker")
QUEUE = "attune"
# The message option that carries the request id of the work that emitted it (shared.logging).
REQUEST_ID_OPTION = "request_id"


def schedule_invitation(practice_id: str, appointment_id: str) -> None:
    runtime = current()
    with runtime.db.transaction(UUID(practice_id)) as session:
        created = invitations.schedule_invitation(
            session, UUID(appointment_id), now=runtime.clock.now()
        )
    log.info("invitation.scheduled", appointment_id=appointment_id, created=created)


def evaluate_response(practice_id: str, response_id: str) -> None:
    runtime = current()
    with runtime.db.transaction(UUID(practice_id)) as session:
        alerted = alerts.evaluate_response(session, UUID(response_id), now=runtime.clock.now())
    log.info("response.evaluated", response_id=response_id, alerted=alerted)


def deliver_notification(practice_id: str, notification_id: str) -> None:
    runtime = current()
    outcome = deliver(
        runtime.db,
        runtime.clock,
        runtime.mailer,
        runtime.settings,
        UUID(practice_id),
        UUID(notification_id),
        worker_id=runtime.worker_id,
    )
    log.info("notification.delivery", notification_id=notification_id, outcome=outcome.value)


def _hours(hours: float) -> int:
    return int(timedelta(hours=hours).total_seconds() * 1000)


# Retries cover unexpected errors (a database hiccup); SMTP trouble is retried through the
# database with its own backoff, so a failing mail server does not pile up broker retries.
# Age limits drop messages that can no longer matter; the sweeper re-queues what still does.
ACTORS: dict[str, tuple[Callable[..., None], dict[str, Any]]] = {
    SCHEDULE_INVITATION: (schedule_invitation, {"max_retries": 10, "max_age": _hours(24)}),
    EVALUATE_RESPONSE: (evaluate_response, {"max_retries": 10, "max_age": _hours(24)}),
    DELIVER_NOTIFICATION: (deliver_notification, {"max_retries": 3, "max_age": _hours(6)}),
}


def _in_practice(function: Callable[..., None]) -> Callable[..., None]:
    """Every log line of a message names its practice (an id, never a person)."""

    @functools.wraps(function)
    def run(practice_id: str, *ids: str) -> None:
        with structlog.contextvars.bound_contextvars(practice_id=practice_id):
            function(practice_id, *ids)

    return run


class RequestIds(dramatiq.Middleware):
    """Binds the request id a message carries for the whole of its handling, so every log line
    (dramatiq's own included) and every event the actor emits carries it. Worker threads are
    reused: the id is replaced at the start of each message and dropped at its end."""

    def before_process_message(self, broker: Broker, message: dramatiq.MessageProxy) -> None:
        bind_request_id(message.options.get(REQUEST_ID_OPTION))

    def after_process_message(
        self,
        broker: Broker,
        message: dramatiq.MessageProxy,
        *,
        result: object = None,
        exception: BaseException | None = None,
    ) -> None:
        bind_request_id(None)

    def after_skip_message(self, broker: Broker, message: dramatiq.MessageProxy) -> None:
        bind_request_id(None)


class DeadLetters(dramatiq.Middleware):
    """A message the broker gives up on (retries or age limit spent) is logged and recorded as
    a failed piece of work (shared.work.failures, job "message:<actor>"), so it is counted
    (`attune work-failures`) instead of vanishing into the broker's dead-letter queue. When the
    database is what failed, the record fails too and the log line is what remains; the
    scheduler's sweeps bring the work itself back (answers: alerts.unevaluated_responses,
    emails: delivery.due_notifications)."""

    def after_nack(self, broker: Broker, message: dramatiq.MessageProxy) -> None:
        args = [str(a) for a in message.args]
        facts = {
            "actor": message.actor_name,
            "message_id": message.message_id,
            "retries": message.options.get("retries", 0),
        }
        # Nacks run on the consumer thread, outside RequestIds' binding.
        if request_id := message.options.get(REQUEST_ID_OPTION):
            facts[REQUEST_ID_OPTION] = request_id
        try:
            practice_id, item_id = UUID(args[0]), UUID(args[-1])
        except (IndexError, ValueError):
            log.error("message.dead_lettered", **facts, recorded=False)
            return
        try:
            runtime = current()
            record_failure(
                runtime.db,
                practice_id,
                f"message:{message.actor_name}",
                item_id,
                _GaveUp(),
                now=runtime.clock.now(),
                final=True,
            )
        except Exception:
            log.error("message.dead_lettered", **facts, item_id=str(item_id), recorded=False)
            return
        log.error("message.dead_lettered", **facts, item_id=str(item_id), recorded=True)


class MailConnections(dramatiq.Middleware):
    """Each worker thread keeps its own SMTP connection open between emails (SmtpMailer);
    it is closed with a QUIT as the thread ends, not left for the relay to time out."""

    def before_worker_thread_shutdown(self, broker: Broker, thread: WorkerThread) -> None:
        try:
            runtime = current()
        except RuntimeError:  # a broker whose process never started workers
            return
        runtime.mailer.close()


class _GaveUp(Exception):
    """What a dead letter's failure row names: the broker ran out of retries."""


def declare_actors(broker: Broker) -> dict[str, dramatiq.Actor[Any, Any]]:
    # First in line, so the age limit's and the retries' log lines carry the id too.
    first = type(broker.middleware[0]) if broker.middleware else None
    broker.add_middleware(RequestIds(), before=first)
    broker.add_middleware(DeadLetters())
    broker.add_middleware(MessageMetrics())
    broker.add_middleware(MailConnections())
    return {
        name: dramatiq.actor(
            broker=broker,
            actor_name=name,
            queue_name=QUEUE,
            min_backoff=500,
            max_backoff=60_000,
            **options,
        )(_in_practice(function))
        for name, (function, options) in ACTORS.items()
    }
