"""Each real process scraped as Prometheus would: `attune serve` at its /metrics, and in the
production mode `attune api` at /metrics, `attune worker` and `attune scheduler` on their ops
ports. A survey goes through, and the series of each process move; only the scheduler's
process reports the safety figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.appointments.service import SCHEDULE_INVITATION
from shared.db import Database
from shared.email.sink import MailSink, free_port
from shared.notifications.queue import DELIVER_NOTIFICATION
from shared.settings import Settings
from tests.integration.test_metrics import TOKEN, samples, value
from tests.support.practice import create_practice
from tests.support.processes import environment, logs_of, poll, processes
from tests.support.serve import book_and_complete, practice_from_the_shell, serving_process

AS_PROMETHEUS = {"Authorization": f"Bearer {TOKEN}"}
COMPLETE = {"route": "/api/v1/appointments/external/{external_id}/{action}", "method": "POST"}


def _scrape(http: httpx.Client, path: str = "/metrics", **headers: str) -> dict:
    answer = http.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    return samples(answer.text)


def _arrived(sink: MailSink, address: str) -> bool:
    return any(address in message.recipients for message in sink.list_messages())


def test_attune_serve_reports_requests_messages_ticks_and_safety_figures(
    tmp_path: Path, sink: MailSink
) -> None:
    with (
        serving_process(
            tmp_path / "serve.db", sink.port, tmp_path / "logs", ATTUNE_METRICS_TOKEN=TOKEN
        ) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        assert http.get("/metrics").status_code == 401
        practice, [client] = practice_from_the_shell(server, http)
        book_and_complete(practice, client, "serve-1")
        assert poll(lambda: _arrived(sink, client["email"]), seconds=60), server.log_text()

        def survey_counted() -> bool:
            scraped = _scrape(http, **AS_PROMETHEUS)
            labels = {"actor": DELIVER_NOTIFICATION, "outcome": "processed"}
            return value(scraped, "attune_worker_messages_total", **labels) == 1

        # The message is counted once the actor returns, just after the relay took the email.
        assert poll(survey_counted, seconds=10)
        scraped = _scrape(http, **AS_PROMETHEUS)
        # One process, one registry: the API's, the workers' and the scheduler's series.
        assert value(scraped, "attune_http_requests_total", **COMPLETE, status="200") == 1
        for actor in (SCHEDULE_INVITATION, DELIVER_NOTIFICATION):
            labels = {"actor": actor, "outcome": "processed"}
            assert value(scraped, "attune_worker_messages_total", **labels) >= 1, actor
        assert value(scraped, "attune_scheduler_tick_seconds_count") >= 1
        found = {"kind": "send_invitation", "outcome": "found"}
        assert value(scraped, "attune_scheduler_items_total", **found) == 1
        assert value(scraped, "attune_safety_figures_up") == 1
        assert value(scraped, "attune_outbox_backlog") == 0
        assert value(scraped, "attune_emails", state="pending") == 0


@pytest.mark.postgres
def test_api_worker_and_scheduler_are_each_scraped_for_their_own_work(
    settings: Settings, db: Database, sink: MailSink, tmp_path: Path
) -> None:
    port, worker_port, scheduler_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(settings, ATTUNE_BASE_URL=base, ATTUNE_METRICS_TOKEN=TOKEN)
    commands = [
        ["api", "--port", str(port)],
        ["worker", "--threads", "2", "--ops-port", str(worker_port)],
        ["scheduler", "--ops-port", str(scheduler_port)],
    ]
    with (
        processes(commands, env, tmp_path),
        httpx.Client(base_url=base, timeout=10) as api,
        httpx.Client(base_url=f"http://127.0.0.1:{worker_port}", timeout=10) as worker,
        httpx.Client(base_url=f"http://127.0.0.1:{scheduler_port}", timeout=10) as scheduler,
    ):

        def everyone_up() -> bool:
            try:
                return all(
                    http.get("/health/live").status_code == 200 for http in (api, worker, scheduler)
                )
            except httpx.TransportError:
                return False

        assert poll(everyone_up, seconds=60), logs_of(tmp_path)
        before = {
            "api": _scrape(api, **AS_PROMETHEUS),
            "worker": _scrape(worker),
            "scheduler": _scrape(scheduler),
        }
        practice = create_practice(api, slug="scraped")
        body = api.get("/api/v1/settings", headers=practice.as_owner()).json()["settings"]
        body["timing"]["survey_delay_minutes"] = 0
        body["timing"]["quiet_hours"] = None
        updated = api.put("/api/v1/settings", json=body, headers=practice.as_owner())
        assert updated.status_code == 200, updated.text
        practice.book("scraped-1", datetime.now(UTC) - timedelta(hours=1))
        practice.complete("scraped-1")
        address = practice.client["email"]
        assert poll(lambda: _arrived(sink, address), seconds=60), logs_of(tmp_path)

        def delivery_counted() -> bool:
            labels = {"actor": DELIVER_NOTIFICATION, "outcome": "processed"}
            return value(_scrape(worker), "attune_worker_messages_total", **labels) >= 1

        assert poll(delivery_counted, seconds=10)
        after = {
            "api": _scrape(api, **AS_PROMETHEUS),
            "worker": _scrape(worker),
            "scheduler": _scrape(scheduler),
        }

    def moved(process: str, name: str, **labels: str) -> float:
        return value(after[process], name, **labels) - value(before[process], name, **labels)

    assert moved("api", "attune_http_requests_total", **COMPLETE, status="200") == 1
    assert moved("api", "attune_http_request_duration_seconds_count", **COMPLETE) == 1
    # Each process reports only its own work.
    assert not any(name.startswith("attune_worker") for name, _ in after["api"])
    processed = {"actor": SCHEDULE_INVITATION, "outcome": "processed"}
    assert moved("worker", "attune_worker_messages_total", **processed) >= 1
    assert moved("scheduler", "attune_scheduler_tick_seconds_count") >= 1
    found = {"kind": "send_invitation", "outcome": "found"}
    assert moved("scheduler", "attune_scheduler_items_total", **found) >= 1
    # The safety figures come from the scheduler alone, so Prometheus holds one series each.
    assert value(after["scheduler"], "attune_safety_figures_up") == 1
    assert ("attune_emails", frozenset({"state": "pending"}.items())) in after["scheduler"]
    for process in ("api", "worker"):
        assert ("attune_safety_figures_up", frozenset()) not in after[process], process
        # Nor a tick count of 0 and a last tick in 1970 beside the scheduler's real ones.
        assert not any(name.startswith("attune_scheduler") for name, _ in after[process])
