"""Production mode: `attune api`, `attune worker` and `attune scheduler` as separate processes.

Embedded runs check that the multi-process commands refuse clearly without Redis; the
PostgreSQL + Redis run starts the three real processes and sends a survey through them.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from shared.db import Database
from shared.email.sink import MailSink, free_port
from shared.settings import Settings
from tests.support.processes import ATTUNE, environment, poll, processes


def test_multi_process_commands(
    settings: Settings, db: Database, sink: MailSink, tmp_path: Path
) -> None:
    if not settings.redis_url:
        refused = subprocess.run(
            [*ATTUNE, "worker"], env=environment(settings), capture_output=True, text=True
        )
        assert refused.returncode != 0
        assert "ATTUNE_REDIS_URL" in refused.stderr
        return

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(settings, ATTUNE_BASE_URL=base)
    commands = [
        ["api", "--port", str(port)],
        ["worker", "--threads", "2", "--ops-port", "0"],
        ["scheduler", "--ops-port", "0"],
    ]
    with processes(commands, env, tmp_path), httpx.Client(base_url=base, timeout=10) as http:

        def api_up() -> bool:
            try:
                return http.get("/health").status_code == 200
            except httpx.TransportError:
                return False

        assert poll(api_up, seconds=30), (tmp_path / "api.log").read_text()
        from tests.support.practice import create_practice

        practice = create_practice(http, slug="processes")
        settings_body = http.get("/api/v1/settings", headers=practice.as_owner()).json()
        body = settings_body["settings"]
        body["timing"]["survey_delay_minutes"] = 0
        body["timing"]["quiet_hours"] = None
        updated = http.put("/api/v1/settings", json=body, headers=practice.as_owner())
        assert updated.status_code == 200, updated.text
        now = datetime.now(UTC)
        practice.book("p-1", now - timedelta(hours=1))
        practice.complete("p-1")

        def survey_arrived() -> bool:
            return any(
                "robin.client@processes.example.com" in m.recipients for m in sink.list_messages()
            )

        arrived = poll(survey_arrived, seconds=30)
        logs = "\n".join(p.read_text() for p in tmp_path.glob("*.log"))
        assert arrived, logs
