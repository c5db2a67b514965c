"""`attune serve` as a real process: the loop, restarts, duplicate deliveries and kills.

Each test runs the real command on a SQLite file of its own, with the real SMTP server of the
suite (or one that holds DATA), and looks at what arrived and at the file itself. The process
runs on the real clock, so each test waits on outcomes (bounded), never on a schedule: the
practice sends surveys at once and a next session booked within the lead time makes the
nudge due at once.
"""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from shared.db import create_database
from shared.email.sink import MailSink
from tests.support.answers import LOW
from tests.support.held_smtp import HeldMailServer
from tests.support.links import survey_path
from tests.support.loop import addressed_to, messages
from tests.support.processes import ATTUNE, REPO, poll
from tests.support.serve import ServeProcess, book_and_complete, practice_from_the_shell
from tests.support.serve import serving_process as serving_attune

FIVE = {"honest": "5", "disagree": "5", "respected": "5", "input": "5", "pace": "5"}


def _rows(database: Path, query: str) -> list[tuple[object, ...]]:
    """Read the file directly, as an operator with sqlite3 would (WAL: beside the server)."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    try:
        return list(connection.execute(query))
    finally:
        connection.close()


def _count(database: Path, table: str, where: str = "1=1") -> int:
    return int(_rows(database, f"SELECT count(*) FROM {table} WHERE {where}")[0][0])


def test_serve_refuses_settings_it_cannot_run(tmp_path: Path) -> None:
    server = ServeProcess(database=tmp_path / "a.db", smtp_port=1, logs=tmp_path)
    cases = {
        "ATTUNE_REDIS_URL": ("redis://127.0.0.1:6379/14", "ATTUNE_REDIS_URL"),
        "ATTUNE_DATABASE_URL": ("postgresql+psycopg://x@127.0.0.1/x", "SQLite file"),
        "ATTUNE_SECRET_KEY": ("dev-only-secret-change-me", "ATTUNE_SECRET_KEY"),
    }
    for variable, (value, said) in cases.items():
        refused = subprocess.run(
            [*ATTUNE, "serve", "--port", "1"],
            env={**server.env(), variable: value},
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert refused.returncode != 0, variable
        assert said in refused.stderr, refused.stderr
    assert not (tmp_path / "a.db").exists()


def test_the_sqlite_file_is_opened_in_wal_mode_with_foreign_keys_and_a_busy_timeout(
    tmp_path: Path,
) -> None:
    db = create_database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with db.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 30000
    finally:
        db.dispose()


def test_the_loop_through_attune_serve_survives_restarts_without_repeating_anything(
    sink: MailSink, tmp_path: Path
) -> None:
    database = tmp_path / "attune.db"
    with (
        serving_attune(database, sink.port, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        practice, (client,) = practice_from_the_shell(server, http)
        clinician_email = practice.clinician["email"]
        # The next session is within the nudge's lead time, so a dip's nudge is due at once.
        next_start = datetime.now(UTC) + timedelta(hours=2)
        practice.book("visit-2", next_start)
        book_and_complete(practice, client, "visit-1")

        assert poll(lambda: addressed_to(sink, client["email"]), seconds=120), server.log_text()
        (survey,) = addressed_to(sink, client["email"])
        path = survey_path(survey, server.base_url)
        assert http.get(path).status_code == 200
        stored = http.post(path, data={**LOW, "comment": "felt rushed"})
        assert stored.status_code == 200, stored.text
        assert http.post(path, data=LOW).status_code == 409  # a second answer changes nothing

        assert poll(lambda: addressed_to(sink, clinician_email), seconds=120), server.log_text()
        alerts = http.get("/api/v1/alerts", headers=practice.as_clinician()).json()
        assert len(alerts) == 1
        (nudge,) = addressed_to(sink, clinician_email)
        assert "RC-1000" in nudge.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

        # A clean stop, then a start: the data is in the file; the replay of the last day's
        # events (every actor runs again) changes nothing.
        assert server.stop() == 0
        server.start()
        (_first_start, second) = server.started_lines()
        assert second["events_replayed"] >= 2, second
        still = http.get("/api/v1/alerts", headers=practice.as_clinician())
        assert still.status_code == 200  # the sign-in itself survived the restart
        assert [a["id"] for a in still.json()] == [alerts[0]["id"]]

        # A stop without warning, then a start; then one more session, whose survey arrives
        # after the replayed messages were worked through (one queue, in order).
        server.kill()
        server.start()
        practice.book("visit-3", datetime.now(UTC) - timedelta(hours=1))
        practice.complete("visit-3")
        assert poll(lambda: len(addressed_to(sink, client["email"])) >= 2, seconds=120)

        assert len(addressed_to(sink, client["email"])) == 2
        assert len(addressed_to(sink, clinician_email)) == 1
        assert _count(database, "alert") == 1
        assert _count(database, "nudge") == 1
        assert _count(database, "invitation") == 2
        assert _count(database, "response") == 1
        assert _count(database, "notification", "status = 'sent'") == 3
        assert _count(database, "notification") == 3
        assert server.stop() == 0
    assert "felt rushed" not in server.log_text()
    assert client["email"] not in server.log_text()


def test_killed_mid_burst_every_email_arrives_once_within_the_window(
    sink: MailSink, tmp_path: Path
) -> None:
    burst = 120
    database = tmp_path / "attune.db"
    with (
        serving_attune(database, sink.port, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        practice, clients = practice_from_the_shell(server, http, clients=burst)
        held = datetime.now(UTC) - timedelta(hours=1)

        def complete_all() -> None:
            """The scheduling system reports every session; the first refused connection (the
            kill) ends its run."""
            with httpx.Client(base_url=server.base_url, timeout=30) as reporting:
                reporter = replace(practice, http=reporting)
                for number, client in enumerate(clients):
                    try:
                        book_and_complete(reporter, client, f"burst-{number}", held)
                    except httpx.TransportError:
                        return

        reporting = threading.Thread(target=complete_all)
        reporting.start()
        assert poll(lambda: len(sink.list_messages()) >= 10, seconds=180), server.log_text()
        server.kill()
        reporting.join(timeout=60)
        arrived_before = len(sink.list_messages())
        assert arrived_before < burst, "the burst was over before the kill"
        # The at-least-once window: emails claimed and not recorded when the process died.
        in_window = {
            str(row[0])
            for row in _rows(database, "SELECT id FROM notification WHERE status = 'sending'")
        }

        server.start()
        # The scheduling system tries again with everything it has (the same calls as before,
        # for sessions it reported and for those it could not): nothing doubles.
        for number, client in enumerate(clients):
            book_and_complete(practice, client, f"burst-{number}", held)

        def all_sent() -> bool:
            return _count(database, "notification", "status = 'sent'") == burst

        assert poll(all_sent, seconds=300), server.log_text()
        assert _count(database, "invitation") == burst
        assert _count(database, "notification") == burst
        received = messages(sink)
        per_address = Counter(str(m["To"]) for m in received)
        assert len(per_address) == burst  # none lost
        twice = {address for address, count in per_address.items() if count > 1}
        assert all(per_address[address] == 2 for address in twice)
        duplicated_ids = {str(m["Message-ID"]) for m in received if str(m["To"]) in twice}
        assert len(duplicated_ids) == len(twice)  # a repeat carries the same Message-ID
        windows = {
            str(row[1])
            for row in _rows(database, "SELECT id, message_id FROM notification")
            if str(row[0]) in in_window
        }
        assert duplicated_ids <= windows, (duplicated_ids, windows)
        assert len(twice) <= len(in_window)


@pytest.fixture
def held() -> HeldMailServer:
    with HeldMailServer() as running:
        yield running  # type: ignore[misc]


def test_killed_while_the_relay_holds_the_message_it_goes_once_after_restart(
    held: HeldMailServer, tmp_path: Path
) -> None:
    database = tmp_path / "attune.db"
    with (
        serving_attune(database, held.port, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        practice, (client,) = practice_from_the_shell(server, http)
        book_and_complete(practice, client, "held-1")
        assert poll(held.holding.is_set, seconds=120), server.log_text()
        server.kill()
        held.release.set()
        assert _rows(database, "SELECT status, attempts FROM notification") == [("sending", 1)]
        assert held.accepted_messages() == []

        server.start()  # no waiting for a sweep: the lock proves the claim is an orphan
        assert poll(lambda: held.accepted_messages(), seconds=120), server.log_text()
        assert server.started_lines()[-1]["claims_released"] == 1
        (accepted,) = held.accepted_messages()
        assert held.held is not None
        assert accepted["Message-ID"] == held.held["Message-ID"]
        assert client["email"] in str(accepted["To"])
        assert _rows(database, "SELECT status, attempts FROM notification") == [("sent", 2)]


def test_backup_under_write_load_restores_every_acknowledged_answer(
    sink: MailSink, tmp_path: Path
) -> None:
    surveys = 40
    database = tmp_path / "attune.db"
    backup = tmp_path / "backups" / "attune-backup.db"
    with (
        serving_attune(database, sink.port, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        practice, clients = practice_from_the_shell(server, http, clients=surveys)
        for number, client in enumerate(clients):
            book_and_complete(practice, client, f"load-{number}")
        assert poll(lambda: len(sink.list_messages()) == surveys, seconds=180)
        paths = {
            client["id"]: survey_path(addressed_to(sink, client["email"])[0], server.base_url)
            for client in clients
        }

        acknowledged: list[tuple[datetime, str]] = []  # (when the 200 came, client id)
        failures: list[str] = []

        def answer_all() -> None:
            with httpx.Client(base_url=server.base_url, timeout=30) as answering:
                for client_id, path in paths.items():
                    stored = answering.post(path, data=FIVE)
                    if stored.status_code != 200:
                        failures.append(f"{stored.status_code} {stored.text[:200]}")
                    else:
                        acknowledged.append((datetime.now(UTC), client_id))

        writer = threading.Thread(target=answer_all)
        writer.start()
        assert poll(lambda: len(acknowledged) >= 10, seconds=180)
        backup_started = datetime.now(UTC)
        made = server.run("backup", str(backup))
        writer.join(timeout=120)
        assert made.returncode == 0, made.stderr
        assert "integrity check ok" in made.stdout
        assert failures == []
        assert len(acknowledged) == surveys

        refused = server.run("restore", str(backup))
        assert refused.returncode != 0
        assert "stop it first" in refused.stderr
        assert server.stop() == 0

    restored = ServeProcess(database=database, smtp_port=sink.port, logs=tmp_path / "logs")
    put_back = restored.run("restore", str(backup))
    assert put_back.returncode == 0, put_back.stderr
    assert _rows(database, "PRAGMA integrity_check") == [("ok",)]
    in_backup = {
        str(uuid.UUID(str(row[0]))) for row in _rows(database, "SELECT client_id FROM response")
    }
    before_backup = {client_id for at, client_id in acknowledged if at < backup_started}
    assert len(before_backup) >= 10
    assert before_backup <= in_backup
    # Not a copy of the live file at the end: answers after the backup began may be missing.
    assert len(in_backup) <= surveys
    kept = list(database.parent.glob("attune.db.before-restore-*"))
    assert len(kept) == 1
    assert _rows(kept[0], "SELECT count(*) FROM response") == [(surveys,)]

    # The restored file serves: the owner signs in.
    restored.start()
    try:
        with httpx.Client(base_url=restored.base_url, timeout=30) as http:
            login = http.post(
                "/api/v1/auth/login",
                json={"email": practice.owner["email"], "password": "correct horse battery"},
            )
            assert login.status_code == 200, login.text
    finally:
        restored.end()


def test_restore_refuses_a_file_that_is_not_an_attune_backup(tmp_path: Path) -> None:
    server = ServeProcess(database=tmp_path / "attune.db", smtp_port=1, logs=tmp_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    refused = server.run("restore", str(junk))
    assert refused.returncode != 0
    assert "junk.db" in refused.stderr
    assert not (tmp_path / "attune.db").exists()
