"""Logs are JSON with a request id and the practice id, and never carry a person's details."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.logging import configure_logging
from tests.conftest import START
from tests.support.loop import addressed_to, links, tick_and_settle
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
