"""Prometheus metrics move when work happens: the API's requests by route template, the
workers' messages by outcome, the scheduler's ticks and items, and the safety figures (what is
waiting, read across practices with the application's clock)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from services.bootstrap import Stack
from services.metrics.safety import SAFETY
from services.worker.scheduler import tick
from shared.alerts.service import EVALUATION_SWEEP_AFTER
from shared.appointments.service import SCHEDULE_INVITATION
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Nudge
from shared.notifications.queue import DELIVER_NOTIFICATION, SWEEP_AFTER
from shared.settings import Settings
from shared.survey.responses import EVALUATE_RESPONSE
from tests.conftest import START
from tests.support.answers import LOW, answer_a_survey, complete_and_send
from tests.support.failing import UNPARSABLE_RULES, dead_letter_after_one_retry, store_settings_body
from tests.support.inspection import everything
from tests.support.links import survey_path
from tests.support.loop import Nowhere, addressed_to, settle, tick_and_settle
from tests.support.practice import create_practice

TOKEN = "metrics-token-for-the-tests-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": TOKEN})


@pytest.fixture
def figures(stack: Stack) -> Iterator[None]:
    """What the scheduler's process does on start (Stack.start_scheduler), without its
    thread: the test ticks by hand."""
    SAFETY.watch(stack.db, stack.clock)
    yield
    SAFETY.forget(stack.db)


def scrape(http: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


def registry() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """What the worker's and scheduler's ops port serves: the default registry."""
    return samples(generate_latest(REGISTRY).decode())


def test_metrics_are_for_the_bearer_of_the_token_only(http: httpx.Client) -> None:
    assert http.get("/metrics").status_code == 401
    wrong = http.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    assert wrong.status_code == 401
    assert "attune_http" not in wrong.text
    posted = http.post("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert posted.status_code == 405
    assert (
        "attune_http_requests_total"
        in http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    )


def test_without_a_token_the_api_serves_no_metrics(stack: Stack) -> None:
    from tests.support.server import serving

    stack.settings = stack.settings.model_copy(update={"metrics_token": None})
    with serving(stack.api()) as base_url, httpx.Client(base_url=base_url) as client:
        answer = client.get("/metrics", headers={"Authorization": "Bearer None"})
        assert answer.status_code == 404
        assert "attune_" not in answer.text


def test_requests_are_counted_by_route_template_and_status_never_by_path(
    http: httpx.Client,
) -> None:
    before = scrape(http)
    survey_token = "a-survey-token-that-is-a-credential"
    for _ in range(3):
        assert http.get(f"/s/{survey_token}").status_code == 404
    assert http.get("/api/v1/clients").status_code == 401
    assert http.get("/no/such/page").status_code == 404
    assert http.request("PROPFIND", "/api/v1/clients").status_code in (401, 405)
    after = scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    survey = {"route": "/s/{token}", "method": "GET"}
    assert moved("attune_http_requests_total", **survey, status="404") == 3
    assert moved("attune_http_request_duration_seconds_count", **survey) == 3
    assert moved("attune_http_request_duration_seconds_sum", **survey) > 0
    assert (
        moved("attune_http_requests_total", route="/api/v1/clients", method="GET", status="401")
        == 1
    )
    assert moved("attune_http_requests_total", route="unmatched", method="GET", status="404") == 1
    # A method of the client's choosing is one label value, not a series of its own.
    assert (
        sum(
            count - value(before, name, **dict(labels))
            for (name, labels), count in after.items()
            if name == "attune_http_requests_total" and ("method", "OTHER") in labels
        )
        == 1
    )
    assert "PROPFIND" not in http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    # The scrape itself is counted like any route.
    assert value(after, "attune_http_requests_total", route="/metrics", method="GET", status="200")
    text = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert survey_token not in text
    assert "/no/such/page" not in text


def test_messages_are_counted_by_actor_and_outcome(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    before = registry()
    practice = create_practice(http)
    complete_and_send(stack, clock, practice, "visit-1")
    [survey] = addressed_to(sink, practice.client["email"])
    processed = registry()

    def moved(now: dict, actor: str, outcome: str) -> float:
        labels = {"actor": actor, "outcome": outcome}
        return value(now, "attune_worker_messages_total", **labels) - value(
            before, "attune_worker_messages_total", **labels
        )

    assert moved(processed, SCHEDULE_INVITATION, "processed") >= 1
    assert moved(processed, DELIVER_NOTIFICATION, "processed") >= 1
    assert moved(processed, DELIVER_NOTIFICATION, "failed") == 0
    duration = "attune_worker_message_duration_seconds_count"
    assert value(processed, duration, actor=DELIVER_NOTIFICATION) > value(
        before, duration, actor=DELIVER_NOTIFICATION
    )

    # Every try of the answer's evaluation raises: one retry, then the broker gives up.
    dead_letter_after_one_retry(stack)
    assert http.post(survey_path(survey), data=LOW).status_code == 200
    store_settings_body(stack, practice.practice_id, UNPARSABLE_RULES)
    settle(stack)
    failing = registry()
    assert moved(failing, EVALUATE_RESPONSE, "failed") == 2
    assert moved(failing, EVALUATE_RESPONSE, "retried") == 1
    assert moved(failing, EVALUATE_RESPONSE, "dead_lettered") == 1
    assert moved(failing, EVALUATE_RESPONSE, "processed") == 0


def test_ticks_and_their_items_are_counted_by_kind(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    before = registry()
    practice = create_practice(http)
    practice.book("visit-1", clock.now() - timedelta(hours=1))
    practice.complete("visit-1")
    settle(stack)
    clock.advance(timedelta(minutes=61))
    assert tick(stack.db, clock, stack.publisher).invitations_sent == 1
    after = registry()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("attune_scheduler_tick_seconds_count") == 1
    assert moved("attune_scheduler_items_total", kind="send_invitation", outcome="found") == 1
    assert moved("attune_scheduler_items_total", kind="send_invitation", outcome="done") == 1
    assert moved("attune_scheduler_items_total", kind="send_invitation", outcome="failed") == 0
    # Every job's series exists from its first tick, at zero when it found nothing.
    assert (
        "attune_scheduler_items_total",
        frozenset({"kind": "send_nudge", "outcome": "found"}.items()),
    ) in after
    assert value(after, "attune_scheduler_last_tick_timestamp_seconds") > 0


def test_a_due_item_that_raises_is_counted_as_failed(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    # The answer's message is lost, and the practice's settings stop parsing, so the sweep's
    # evaluation raises.
    answer_a_survey(practice, stack, sink, clock, visit="visit-1", evaluate=False)
    store_settings_body(stack, practice.practice_id, UNPARSABLE_RULES)
    clock.advance(EVALUATION_SWEEP_AFTER + timedelta(seconds=1))
    before = registry()
    assert tick(stack.db, clock, Nowhere()).items_failed == 1
    after = registry()
    labels = {"kind": "evaluate_late_response", "outcome": "failed"}
    assert (
        value(after, "attune_scheduler_items_total", **labels)
        - value(before, "attune_scheduler_items_total", **labels)
        == 1
    )


def test_safety_figures_follow_what_is_waiting(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, figures: None
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", START - timedelta(hours=1))
    practice.book("visit-2", START + timedelta(days=7))
    practice.complete("visit-1")
    scraped = scrape(http)
    assert value(scraped, "attune_safety_figures_up") == 1
    # The completed session's event is committed and waits for the relay.
    assert value(scraped, "attune_outbox_backlog") >= 1
    clock.advance(timedelta(minutes=10))
    assert value(scrape(http), "attune_outbox_oldest_age_seconds") >= 600
    settle(stack)
    scraped = scrape(http)
    assert value(scraped, "attune_outbox_backlog") == 0
    assert value(scraped, "attune_outbox_oldest_age_seconds") == 0

    # The survey's email is queued, and its message lost: it waits, past its send time.
    clock.advance(timedelta(minutes=51))
    assert tick(stack.db, clock, Nowhere()).invitations_sent == 1
    assert value(scrape(http), "attune_emails", state="pending") == 1
    # Its next attempt is the sweep's, SWEEP_AFTER on; with no tick since, it is overdue.
    clock.advance(SWEEP_AFTER)
    assert value(scrape(http), "attune_emails_overdue_oldest_age_seconds") == 0
    clock.advance(timedelta(minutes=2))
    assert value(scrape(http), "attune_emails_overdue_oldest_age_seconds") == 120
    tick_and_settle(stack)  # the sweep sends it again
    scraped = scrape(http)
    assert value(scraped, "attune_emails", state="pending") == 0
    assert value(scraped, "attune_emails_overdue_oldest_age_seconds") == 0
    assert ("attune_emails", frozenset({"state": "sent"}.items())) not in scraped

    # An answer whose evaluation message is lost waits, and its age grows with the clock.
    [survey] = addressed_to(sink, practice.client["email"])
    assert http.post(survey_path(survey), data=LOW).status_code == 200
    tick(stack.db, clock, Nowhere())
    clock.advance(timedelta(minutes=3))
    scraped = scrape(http)
    assert value(scraped, "attune_answers_unevaluated") == 1
    assert value(scraped, "attune_answers_unevaluated_oldest_age_seconds") == 180
    clock.advance(EVALUATION_SWEEP_AFTER)
    tick_and_settle(stack)  # the sweep evaluates it, and the dip becomes a nudge
    scraped = scrape(http)
    assert value(scraped, "attune_answers_unevaluated") == 0
    assert value(scraped, "attune_answers_unevaluated_oldest_age_seconds") == 0

    with everything(stack) as session:
        due_at = session.exec(select(Nudge.due_at)).one()
    assert value(scraped, "attune_nudges_due_next_hour_unsent") == 0
    clock.set(due_at - timedelta(minutes=30))
    scraped = scrape(http)
    assert value(scraped, "attune_nudges_due_next_hour_unsent") == 1
    assert value(scraped, "attune_nudges_overdue_oldest_age_seconds") == 0
    # Past its due time with no tick (a stopped scheduler): it is overdue, and ages.
    clock.set(due_at + timedelta(minutes=20))
    scraped = scrape(http)
    assert value(scraped, "attune_nudges_due_next_hour_unsent") == 1
    assert value(scraped, "attune_nudges_overdue_oldest_age_seconds") == 1200
    tick_and_settle(stack)
    scraped = scrape(http)
    assert value(scraped, "attune_nudges_due_next_hour_unsent") == 0
    assert value(scraped, "attune_nudges_overdue_oldest_age_seconds") == 0
    assert len(addressed_to(sink, "casey@harbour.example.com")) == 1


def test_a_failed_read_reports_the_figures_down_and_the_rest_still_scrapes(
    stack: Stack, http: httpx.Client, figures: None
) -> None:
    class Unreachable:
        def across_practices(self) -> object:
            raise ConnectionError("database away")

    assert http.get("/no/such/page").status_code == 404
    SAFETY.watch(Unreachable(), stack.clock)  # type: ignore[arg-type]
    try:
        scraped = scrape(http)
    finally:
        SAFETY.watch(stack.db, stack.clock)
    assert value(scraped, "attune_safety_figures_up") == 0
    assert ("attune_outbox_backlog", frozenset()) not in scraped
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(scraped, "attune_http_requests_total", **unmatched) >= 1


def test_only_the_process_running_the_scheduler_reports_the_safety_figures(
    stack: Stack, http: httpx.Client
) -> None:
    assert ("attune_outbox_backlog", frozenset()) not in scrape(http)
    stack.start_scheduler()
    assert ("attune_outbox_backlog", frozenset()) in scrape(http)
