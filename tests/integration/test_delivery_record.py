"""The record after the relay's 250: when the database connection holding the record's
transaction dies during the send, the email is recorded as sent in a fresh transaction, not
sent again (shared.notifications.delivery._record_sent_again)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text

from services.bootstrap import build_stack
from shared.clock import ManualClock
from shared.db import Database
from shared.email.message import OutgoingEmail
from shared.email.sink import MailSink
from shared.email.smtp import SmtpMailer
from shared.models import NotificationStatus
from shared.settings import Settings
from tests.integration.test_delivery_failures import send_survey, the_notification
from tests.support.loop import messages
from tests.support.practice import create_practice
from tests.support.server import serving

# It ends PostgreSQL sessions; deselected on SQLite like the other PostgreSQL-only tests.
pytestmark = pytest.mark.postgres


class CutOffAtTheRelaysYes(SmtpMailer):
    """Sends for real; at the relay's 250, before Attune records it, ends every session of the
    application's role that sits in an open transaction (the record's, opened before the
    send), as a database restart would."""

    def __init__(self, settings: Settings, owner: Database) -> None:
        base = SmtpMailer.from_settings(settings)
        super().__init__(base.host, base.port, base.security, timeout=base.timeout)
        self.owner = owner
        self.cut = 0

    def send(self, message: OutgoingEmail, *, accepted: Callable[[], None] | None = None) -> None:
        def cut_then_record() -> None:
            with self.owner.transaction() as session:
                self.cut += session.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE usename = 'attune_app' AND state = 'idle in transaction' "
                        "AND datname = current_database()"
                    )
                ).scalar_one()
            if accepted is not None:
                accepted()

        super().send(message, accepted=cut_then_record)


@pytest.mark.usefixtures("db")  # empty tables
def test_an_email_whose_record_lost_its_connection_is_recorded_once(
    settings: Settings, clock: ManualClock, owner_db: Database, sink: MailSink
) -> None:
    stack = build_stack(settings, clock=clock, namespace=f"attune-test-{uuid.uuid4().hex[:8]}")
    if settings.redis_url:
        stack.broker.flush_all()  # type: ignore[attr-defined]
    mailer = CutOffAtTheRelaysYes(settings, owner_db)
    stack.start_workers(mailer)
    try:
        with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            practice = create_practice(http)
            send_survey(stack, clock, practice)
            sent = the_notification(stack)
    finally:
        if settings.redis_url:
            stack.broker.flush_all()  # type: ignore[attr-defined]
        stack.stop()
    assert mailer.cut >= 1
    assert sent.status is NotificationStatus.SENT
    assert sent.attempts == 1
    [received] = messages(sink)
    assert received["Message-ID"] == sent.message_id
