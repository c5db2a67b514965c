"""PostgreSQL stays away longer than the whole retry backoff of the answers' evaluate messages:
the broker gives up on every one (dead letters, logged), and still every answer is evaluated,
by the scheduler's sweep, and every alert is raised once.

The outage is the TCP proxy of test_database_outage; the messages' backoff is shortened (two
retries, 0.1-0.2 s) so the test is bounded, and the outage outlasts all of it: the test waits
for the broker's dead-letter queue to hold every message before PostgreSQL comes back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import func, select

from services.worker.actors import QUEUE
from services.worker.scheduler import TickReport, tick
from shared.alerts.service import EVALUATION_SWEEP_AFTER
from shared.clock import ManualClock
from shared.db import Database
from shared.email.sink import MailSink
from shared.models import Alert, Response
from shared.outbox import relay
from shared.settings import Settings
from shared.survey.responses import EVALUATE_RESPONSE
from tests.conftest import START, make_stack
from tests.support.answers import LOW
from tests.support.caseload import held_and_upcoming
from tests.support.links import survey_path
from tests.support.loop import addressed_to, tick_and_settle
from tests.support.practice import create_practice
from tests.support.processes import poll
from tests.support.proxy import TcpProxy
from tests.support.server import serving

pytestmark = pytest.mark.postgres
CLIENTS = 4


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    target = make_url(database_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as running:
        yield running


class Holding:
    """Takes the relay's messages and keeps them, to hand to the broker at a chosen moment."""

    def __init__(self) -> None:
        self.held: list[tuple[str, Sequence[object]]] = []

    def publish(self, actor: str, args: Sequence[object]) -> None:
        self.held.append((actor, args))


def _count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _tick_through_reconnects(run: object) -> TickReport:
    """The first statements after the outage meet the pool's dead connections: a tick may end
    early on one (run_forever logs it and goes on); the next connects afresh."""
    last: Exception | None = None
    for _ in range(5):
        try:
            return run()  # type: ignore[operator,no-any-return]
        except Exception as error:
            last = error
    raise AssertionError(f"the tick never came through: {last!r}")


def test_answers_whose_messages_died_in_an_outage_are_evaluated_by_the_sweep(
    settings: Settings,
    db: Database,
    owner_db: Database,
    clock: ManualClock,
    sink: MailSink,
    proxy: TcpProxy,
    capfd: pytest.CaptureFixture[str],
) -> None:
    def through_proxy(url: str | None) -> str | None:
        if url is None:
            return None
        return make_url(url).set(port=proxy.port).render_as_string(hide_password=False)

    stack = make_stack(
        settings.model_copy(
            update={
                "database_url": through_proxy(settings.database_url),
                "system_database_url": through_proxy(settings.system_database_url),
            }
        ),
        clock,
    )
    evaluate = stack.broker.get_actor(EVALUATE_RESPONSE)
    evaluate.options.update(max_retries=2, min_backoff=100, max_backoff=200)
    try:
        with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            practice = create_practice(http)
            clients = held_and_upcoming(
                practice,
                CLIENTS,
                held_at=START - timedelta(hours=1),
                upcoming_at=START + timedelta(days=7),
            )
            clock.advance(timedelta(minutes=61))
            tick_and_settle(stack)
            for client in clients:
                [survey] = addressed_to(sink, client.email)
                answered = http.post(survey_path(survey), data=LOW)
                assert answered.status_code == 200, answered.text

        holding = Holding()
        assert relay(stack.db, holding, clock) == CLIENTS
        proxy.down()
        for actor, args in holding.held:
            stack.publisher.publish(actor, args)
        dead_letters = f"{stack.broker.namespace}:{QUEUE}.XQ"  # type: ignore[attr-defined]
        assert poll(lambda: stack.broker.client.zcard(dead_letters) == CLIENTS, seconds=30)  # type: ignore[attr-defined]
        proxy.up()

        assert _count(owner_db, Alert) == 0
        assert _count(owner_db, Response) == CLIENTS
        # Not yet "a few minutes": the sweep leaves answers to their messages.
        clock.advance(EVALUATION_SWEEP_AFTER - timedelta(minutes=1))
        early = _tick_through_reconnects(lambda: tick(stack.db, clock, stack.publisher))
        assert early.answers_evaluated_late == 0
        assert _count(owner_db, Alert) == 0

        clock.advance(timedelta(minutes=1, seconds=1))
        swept = _tick_through_reconnects(lambda: tick(stack.db, clock, stack.publisher))
        assert swept.answers_evaluated_late == CLIENTS
        stack.settle()
        again = tick(stack.db, clock, stack.publisher)
        assert again.answers_evaluated_late == 0

        with owner_db.transaction() as session:
            alerts = session.exec(select(Alert)).all()
            assert len(alerts) == CLIENTS
            assert len({alert.source_key for alert in alerts}) == CLIENTS
            assert {str(alert.client_id) for alert in alerts} == {c.id for c in clients}
            unevaluated = session.exec(
                select(func.count()).select_from(Response).where(Response.evaluated_at.is_(None))  # type: ignore[union-attr]
            ).one()
            assert unevaluated == 0
        # Every dead letter was said out loud, though the database could not keep it then.
        logged = capfd.readouterr().out
        assert logged.count("message.dead_lettered") == CLIENTS
    finally:
        stack.stop()
