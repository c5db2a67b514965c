"""Logs are JSON with a request id and the practice id, and never carry a person's details;
one request id follows a piece of work from the API through the outbox to the workers."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from services.bootstrap import Stack
from services.worker.relay import RelayThread
from shared.appointments.service import SCHEDULE_INVITATION
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.logging import configure_logging
from shared.models import OutboxEvent
from shared.survey.responses import EVALUATE_RESPONSE
from tests.conftest import START
from tests.support.answers import answer_a_survey
from tests.support.failing import UNPARSABLE_RULES, dead_letter_after_one_retry, store_settings_body
from tests.support.loop import addressed_to, links, settle, tick_and_settle
from tests.support.practice import create_practice


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    configure_logging("WARNING")


def test_logs_are_structured_and_carry_no_personal_details(
    captured_logs: io.StringIO,
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", START - timedelta(hours=1))
    practice.book("visit-2", START + timedelta(days=7))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    survey = addressed_to(sink, "robin.client@harbour.example.com")[0]
    survey_link = next(link for link in links(survey) if "/s/" in link and "?" not in link)
    token = survey_link.rsplit("/", 1)[-1]
    comment = "my sister's divorce came up again"
    answers = {"honest": "1", "disagree": "2", "respected": "2", "input": "3", "pace": "1"}
    http.post(survey_link.removeprefix("http://attune.test"), data={**answers, "comment": comment})
    tick_and_settle(stack)
    clock.set(START + timedelta(days=6, minutes=1))
    tick_and_settle(stack)
    tick_and_settle(stack)
    assert addressed_to(sink, "casey@harbour.example.com"), "the loop should have run"

    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [line for line in lines if line.get("event") == "request"]
    assert requests, "every request is logged"
    assert all(len(line["request_id"]) >= 8 for line in requests)
    authenticated = [line for line in requests if line["route"] == "/api/v1/clients"]
    assert authenticated and all(
        line["practice_id"] == practice.practice_id for line in authenticated
    )
    worker_lines = [line for line in lines if line.get("event") == "response.evaluated"]
    assert worker_lines and worker_lines[0]["practice_id"] == practice.practice_id

    for secret in (
        "robin.client@harbour.example.com",
        "casey@harbour.example.com",
        "owner@harbour.example.com",
        "Casey Clinician",
        "Olive Owner",
        comment,
        token,
        "correct horse battery",
    ):
        assert secret not in text, f"{secret!r} leaked into the logs"


def _lines(captured: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]


def test_one_request_id_follows_an_answer_to_its_nudge_email(
    captured_logs: io.StringIO,
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", START - timedelta(hours=1))
    practice.book("visit-2", START + timedelta(days=7))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    survey = addressed_to(sink, "robin.client@harbour.example.com")[0]
    survey_link = next(link for link in links(survey) if "/s/" in link and "?" not in link)
    comment = "the homework felt pointless"
    answers = {"honest": "1", "disagree": "2", "respected": "2", "input": "3", "pace": "1"}
    request_id = "answer-trace.0042"
    answered = http.post(
        survey_link.removeprefix("http://attune.test"),
        data={**answers, "comment": comment},
        headers={"X-Request-Id": request_id},
    )
    assert answered.status_code < 400 and answered.headers["x-request-id"] == request_id
    tick_and_settle(stack)
    # The nudge falls due before visit-2, days after the answer, found by the scheduler.
    clock.set(START + timedelta(days=6, minutes=1))
    tick_and_settle(stack)
    tick_and_settle(stack)
    assert addressed_to(sink, "casey@harbour.example.com"), "the nudge should have gone out"

    text = captured_logs.getvalue()
    followed = [json.loads(line) for line in text.splitlines() if request_id in line]
    assert all(line["request_id"] == request_id for line in followed)
    path = {
        (line["event"], line.get("method") or line.get("actor") or line.get("job")): line
        for line in followed
    }
    steps = [
        ("request", "POST"),  # the answer
        ("outbox.published", "evaluate_response"),
        ("response.evaluated", None),
        ("alert.raised", None),
        ("nudge.aimed", None),
        ("scheduler.acted", "send_nudge"),
        ("outbox.published", "deliver_notification"),
        ("notification.delivery", None),
    ]
    for step in steps:
        assert step in path, f"{step} is not on the answer's path: {sorted(map(str, path))}"
    # After the survey page (no sign-in), every step also names the practice.
    assert all(path[step]["practice_id"] == practice.practice_id for step in steps[1:])
    evaluated = [line for line in followed if line["event"] == "response.evaluated"]
    assert [line["alerted"] for line in evaluated] == [True]
    # One email on the path, the nudge's: the survey went out under another id.
    sent = [line for line in followed if line["event"] == "notification.delivery"]
    assert [line["outcome"] for line in sent] == ["sent"]

    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.-]+", text), "an email address was logged"
    assert comment not in text


@pytest.mark.parametrize(
    "supplied",
    [None, "x" * 65, "has spaces in it", 'quote"d-value', "short"],
    ids=["none", "too-long", "spaces", "quote", "too-short"],
)
def test_a_generated_request_id_follows_the_work_when_none_fit_is_supplied(
    captured_logs: io.StringIO, stack: Stack, http: httpx.Client, supplied: str | None
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", START - timedelta(hours=1))
    headers = practice.as_scheduler() | ({"X-Request-Id": supplied} if supplied else {})
    completed = http.post("/api/v1/appointments/external/visit-1/complete", headers=headers)
    assert completed.status_code == 200, completed.text
    request_id = completed.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    settle(stack)

    with stack.db.across_practices() as session:
        stored = session.exec(
            select(OutboxEvent.request_id).where(OutboxEvent.actor == SCHEDULE_INVITATION)
        ).all()
    assert stored == [request_id]
    scheduled = [line for line in _lines(captured_logs) if line["event"] == "invitation.scheduled"]
    assert [line["request_id"] for line in scheduled] == [request_id]
    if supplied:
        assert supplied not in captured_logs.getvalue()


def test_a_failing_message_logs_its_retries_and_dead_letter_under_the_request_id(
    captured_logs: io.StringIO,
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
) -> None:
    dead_letter_after_one_retry(stack)
    practice = create_practice(http)
    request_id = "doomed-answer-0001"
    answer_a_survey(
        practice,
        stack,
        sink,
        clock,
        visit="visit-1",
        evaluate=False,
        headers={"X-Request-Id": request_id},
    )
    # Stored settings that no longer parse: every try of the evaluation raises.
    store_settings_body(stack, practice.practice_id, UNPARSABLE_RULES)
    settle(stack)

    followed = [line for line in _lines(captured_logs) if line.get("request_id") == request_id]
    retried = [line for line in followed if str(line["event"]).startswith("Retrying message")]
    dead = [line for line in followed if line["event"] == "message.dead_lettered"]
    assert len(retried) == 1, "the broker's own retry line carries the id"
    assert len(dead) == 1 and dead[0]["actor"] == EVALUATE_RESPONSE


class _BrokerAway:
    """A broker that refuses every message, and quotes the message in its error: the worst a
    broker's or a driver's error text could carry."""

    def __init__(self) -> None:
        self.refused = threading.Event()

    def publish(self, actor: str, args: Sequence[object]) -> None:
        self.refused.set()
        raise ConnectionError(f"Connection refused while sending {actor}{tuple(args)!r}")


def test_a_failing_relay_logs_its_traceback_and_nothing_of_a_person(
    captured_logs: io.StringIO,
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
) -> None:
    """relay.failed keeps the traceback (what an operator needs) because nothing in it can
    name anyone: the relay reads and publishes outbox rows, which hold actor names and ids
    only (shared.outbox.emit), so neither the database's error text (its statement, parameters
    or DETAIL row) nor the broker's has an address, a name or a comment to carry."""
    practice = create_practice(http)
    comment = "my sister's divorce came up again"
    answer_a_survey(practice, stack, sink, clock, visit="visit-1", comment=comment, evaluate=False)
    broker = _BrokerAway()
    relay_thread = RelayThread(stack.db, broker, clock, interval=60)
    relay_thread.start()
    relay_thread.wake()
    try:
        assert broker.refused.wait(30), "the relay never tried to publish"
    finally:
        relay_thread.stop()  # joins the thread: the failed pass has been logged by then
    [failed, *_] = [line for line in _lines(captured_logs) if line["event"] == "relay.failed"]
    assert "ConnectionError" in str(failed["exception"])
    text = captured_logs.getvalue()
    for private in (practice.client["email"], practice.clinician["email"], comment):
        assert private not in text
