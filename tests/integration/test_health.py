"""/health/live and /health/ready, from the API, the worker, the scheduler and `attune serve`:
ready turns false naming what is away (the database, Redis, a schema behind the code) and
true again once it is back, without a restart.

What goes away is real: PostgreSQL behind a TCP proxy this test owns, and a private
redis-server this test stops and starts, never the shared servers.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.api.app import create_app
from services.api.context import ApiContext
from services.bootstrap import Stack
from services.ops_http import OpsServer
from shared.clock import ManualClock
from shared.db import Database, create_database
from shared.db.migrations import history, upgrade
from shared.email.sink import MailSink, free_port
from shared.health.readiness import Readiness
from shared.settings import Settings
from tests.conftest import make_stack
from tests.support.processes import environment, poll, processes
from tests.support.proxy import TcpProxy
from tests.support.redis_server import PrivateRedis
from tests.support.serve import serving_process
from tests.support.server import serving

# What a probe waits at most (shared.health.readiness.TIMEOUT_SECONDS), with room for a
# loaded machine: an outage must show as a prompt 503, not as a hanging probe.
PROMPT_SECONDS = 5


def _ready(http: httpx.Client) -> httpx.Response:
    started = time.monotonic()
    answer = http.get("/health/ready")
    assert time.monotonic() - started < PROMPT_SECONDS
    return answer


def _failing(answer: httpx.Response) -> list[str]:
    return list(answer.json()["failing"])


def _is_ready(http: httpx.Client) -> bool:
    try:
        return http.get("/health/ready").status_code == 200
    except httpx.TransportError:
        return False


def test_the_api_answers_live_and_ready_without_signing_in(
    http: httpx.Client, settings: Settings
) -> None:
    live = http.get("/health/live")
    assert live.status_code == 200, live.text
    assert live.json()["status"] == "ok"
    assert live.headers["cache-control"] == "no-store"

    ready = _ready(http)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    expected = {"database", "schema"}
    if settings.redis_url:
        expected.add("redis")
    assert expected <= set(checks)
    assert all(check["ok"] for check in checks.values())
    # The old probe still answers, as ready does.
    assert http.get("/health").json()["checks"] == checks
    # Nothing in the answer says where the database or Redis is.
    for secret in (make_url(settings.database_url).host or "", "postgresql", "redis://"):
        if secret:
            assert secret not in ready.text


def test_one_handler_answers_ready_and_the_older_probe_path(
    stack: Stack, http: httpx.Client
) -> None:
    """/health and /health/ready cannot drift apart: the same handler answers both, and
    each path keeps its documented operation."""
    app = stack.api()
    handlers = {
        path: route.route_handler_map["GET"][0].fn  # type: ignore[attr-defined]
        for route in app.routes
        for path in ("/health", "/health/ready")
        if route.path == path
    }
    assert set(handlers) == {"/health", "/health/ready"}
    assert handlers["/health"] is handlers["/health/ready"]
    document = http.get("/schema/openapi.json").json()["paths"]
    ids = {path: document[path]["get"]["operationId"] for path in ("/health", "/health/ready")}
    assert ids == {"/health": "checkHealth", "/health/ready": "checkReady"}
    for path in ids:
        operation = document[path]["get"]
        assert "503" in operation["responses"] and operation["summary"], path
        assert "/health answers the same" in operation["description"], path


def test_the_ops_port_answers_live_ready_and_metrics(stack: Stack) -> None:
    server = OpsServer(live=stack.health().live, ready=stack.health().ready).start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            assert http.get("/health/live").json()["checks"]["workers"] == {"ok": True}
            ready = _ready(http)
            assert ready.status_code == 200, ready.text
            assert {"database", "schema", "heartbeat", "workers"} <= set(ready.json()["checks"])
            metrics = http.get("/metrics")
            assert metrics.status_code == 200
            assert metrics.headers["content-type"].startswith("text/plain")
            assert "# TYPE" in metrics.text
            assert http.get("/nothing-here").status_code == 404
    finally:
        server.stop()


def test_a_dead_worker_thread_fails_liveness(stack: Stack) -> None:
    health = stack.health()
    assert health.live().ok
    thread = stack.workers[0].workers[0]
    thread.stop()
    thread.join(timeout=10)
    live = health.live()
    assert live.failing == ["workers"]
    assert "1 of" in live.body()["checks"]["workers"]["reason"]
    assert health.ready().status_code == 503


def test_a_database_and_redis_that_never_answer_make_ready_answer_503_promptly() -> None:
    """A dropped route, not a refused connection: the kernel takes the connection and
    nobody ever speaks, so without a deadline the probe would wait minutes for TCP."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    port = hole.getsockname()[1]
    db = create_database(f"postgresql+psycopg://attune_app@127.0.0.1:{port}/attune")
    readiness = Readiness(db, redis_url=f"redis://127.0.0.1:{port}/0", history=history())
    try:
        for _ in range(2):
            started = time.monotonic()
            report = readiness.report()
            assert time.monotonic() - started < PROMPT_SECONDS
            assert report.status_code == 503
            assert {"database", "redis"} <= set(report.failing)
            assert report.body()["checks"]["database"]["reason"].startswith("no answer within")
        # The first probe still hangs; the second waited on it rather than starting another.
        assert sum(t.name == "health-database" for t in threading.enumerate()) == 1
    finally:
        hole.close()
        db.dispose()


@pytest.fixture
def behind_head(owner_database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own, migrated to the revision before the code's head."""
    if owner_database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'behind.db'}"
    else:
        url = _scratch_postgres(owner_database_url)
    (head,) = history().heads
    from alembic.script import ScriptDirectory

    from shared.db.migrations import alembic_config

    previous = ScriptDirectory.from_config(alembic_config(url)).get_revision(head).down_revision
    upgrade(url, str(previous))
    yield url
    if url.startswith("postgresql"):
        _drop_postgres(url)


def test_ready_is_false_while_the_schema_is_behind_the_code(
    behind_head: str, settings: Settings, clock: ManualClock
) -> None:
    db = create_database(behind_head)
    # Without Redis: the schema is what this test is about.
    embedded = settings.model_copy(update={"database_url": behind_head, "redis_url": None})
    app = create_app(ApiContext(settings=embedded, db=db, clock=clock))
    try:
        with TestClient(app) as client:
            behind = client.get("/health/ready")
            assert behind.status_code == 503
            assert behind.json()["failing"] == ["schema"]
            assert "attune db upgrade" in behind.json()["checks"]["schema"]["reason"]
            assert client.get("/health/live").status_code == 200

            upgrade(behind_head)
            assert client.get("/health/ready").status_code == 200
    finally:
        db.dispose()


def _scratch_postgres(url: str) -> str:
    target = make_url(url)
    name = f"{target.database}_behind_{uuid.uuid4().hex[:6]}"
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return target.set(database=name).render_as_string(hide_password=False)


def _drop_postgres(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{target.database}" WITH (FORCE)'))
    admin.dispose()


def test_attune_serve_answers_live_and_ready(tmp_path: Path, sink: MailSink) -> None:
    with (
        serving_process(tmp_path / "serve.db", sink.port, tmp_path / "logs") as server,
        httpx.Client(base_url=server.base_url, timeout=10) as http,
    ):
        assert http.get("/health/live").status_code == 200
        ready = _ready(http)
        assert ready.status_code == 200, ready.text
        # One process: its own workers and scheduler are what live watches; no Redis.
        assert set(ready.json()["checks"]) == {
            "heartbeat",
            "workers",
            "scheduler",
            "database",
            "schema",
        }


# PostgreSQL + Redis: taking the database or Redis away.


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    target = make_url(database_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as running:
        yield running


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path) as running:
        yield running


def _through(proxy: TcpProxy, settings: Settings) -> Settings:
    def proxied(url: str | None) -> str | None:
        if url is None:
            return None
        return make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)

    return settings.model_copy(
        update={
            "database_url": proxied(settings.database_url),
            "system_database_url": proxied(settings.system_database_url),
        }
    )


@pytest.mark.postgres
def test_api_ready_turns_false_while_the_database_is_away_and_back_after(
    settings: Settings, db: Database, clock: ManualClock, proxy: TcpProxy
) -> None:
    stack = make_stack(_through(proxy, settings), clock)
    try:
        with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            assert _ready(http).status_code == 200

            proxy.down()
            away = _ready(http)
            assert away.status_code == 503
            assert "database" in _failing(away)
            assert away.json()["checks"]["database"]["reason"]
            # Alive all the same: restarting the API would not bring the database back.
            assert http.get("/health/live").status_code == 200

            proxy.up()
            assert poll(lambda: _is_ready(http), seconds=20), http.get("/health/ready").text
    finally:
        stack.stop()


@pytest.mark.postgres
def test_api_ready_turns_false_while_redis_is_away_and_back_after(
    settings: Settings, db: Database, clock: ManualClock, redis_server: PrivateRedis
) -> None:
    stack = make_stack(settings.model_copy(update={"redis_url": redis_server.url}), clock)
    try:
        with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            assert _ready(http).status_code == 200

            redis_server.stop()
            away = _ready(http)
            assert away.status_code == 503
            assert _failing(away) == ["redis"]
            assert http.get("/health/live").status_code == 200

            redis_server.start()
            assert poll(lambda: _is_ready(http), seconds=20), http.get("/health/ready").text
    finally:
        stack.stop()


@pytest.mark.postgres
def test_worker_and_scheduler_ready_follow_the_database_and_redis(
    settings: Settings,
    db: Database,
    sink: MailSink,
    proxy: TcpProxy,
    redis_server: PrivateRedis,
    tmp_path: Path,
) -> None:
    through = _through(proxy, settings).model_copy(update={"redis_url": redis_server.url})
    ports = {"worker": free_port(), "scheduler": free_port()}
    commands = [[name, "--ops-port", str(port)] for name, port in ports.items()]
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=10) for p in ports.values()]
    logs = tmp_path / "logs"
    logs.mkdir()

    def everyone_ready() -> bool:
        return all(_is_ready(http) for http in clients)

    with processes(commands, environment(through), logs):
        assert poll(everyone_ready, seconds=60), _logs(logs)
        for http in clients:
            assert http.get("/metrics").status_code == 200

        proxy.down()
        for http in clients:
            away = _ready(http)
            assert away.status_code == 503, away.text
            assert "database" in _failing(away)
            assert http.get("/health/live").status_code == 200
        proxy.up()
        assert poll(everyone_ready, seconds=30), _logs(logs)

        redis_server.stop()
        for http in clients:
            away = _ready(http)
            assert away.status_code == 503, away.text
            assert _failing(away) == ["redis"]
            assert http.get("/health/live").status_code == 200
        redis_server.start()
        assert poll(everyone_ready, seconds=30), _logs(logs)
    for http in clients:
        http.close()


def _logs(directory: Path) -> str:
    return "\n".join(p.read_text()[-3000:] for p in sorted(directory.glob("*.log")))


@pytest.mark.postgres
def test_a_taken_ops_port_stops_the_worker_with_words_that_say_so(
    settings: Settings, db: Database, sink: MailSink
) -> None:
    import subprocess

    from tests.support.processes import ATTUNE, REPO

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        run = subprocess.run(
            [*ATTUNE, "worker", "--ops-port", str(port)],
            env=environment(settings),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert run.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr
    assert "--ops-port" in run.stderr
