"""The health rules without a database: how checks add up, how the schema is judged, how
a hanging probe is cut short, and that no reason carries an address or a password."""

from __future__ import annotations

import threading
import time

from sqlalchemy.exc import OperationalError

from shared.health import Check, ProcessHealth, Report
from shared.health.deadline import Deadline, NoAnswer
from shared.health.pulse import Pulse, loop_check, threads_check
from shared.health.readiness import SchemaHistory, schema_check, unreachable

HISTORY = SchemaHistory(heads=frozenset({"0011"}), known=frozenset({"0009", "0010", "0011"}))


def test_a_report_is_ok_only_when_every_check_is() -> None:
    fine = Report((Check("database", True), Check("redis", True)))
    assert fine.ok and fine.status_code == 200
    assert fine.body() == {
        "status": "ok",
        "failing": [],
        "checks": {"database": {"ok": True}, "redis": {"ok": True}},
    }

    broken = fine + Report((Check("schema", False, "behind"),))
    assert not broken.ok and broken.status_code == 503
    assert broken.body()["status"] == "unavailable"
    assert broken.body()["failing"] == ["schema"]
    assert broken.body()["checks"]["schema"] == {"ok": False, "reason": "behind"}


def test_no_checks_is_ok() -> None:
    # The API's liveness: it answers, and it watches no loop of its own.
    assert Report().status_code == 200


def test_the_schema_is_ready_at_head_only() -> None:
    assert schema_check(frozenset({"0011"}), HISTORY) == Check("schema", True)

    behind = schema_check(frozenset({"0010"}), HISTORY)
    assert not behind.ok
    assert "0010" in behind.reason and "0011" in behind.reason
    assert "attune db upgrade" in behind.reason

    for unreadable in (None, frozenset()):
        found = schema_check(unreadable, HISTORY)
        assert not found.ok and "attune db upgrade" in found.reason


def test_a_schema_newer_than_the_code_still_serves() -> None:
    # A rolling upgrade: the new release migrated, this one still runs beside it.
    newer = schema_check(frozenset({"0012"}), HISTORY)
    assert newer.ok
    assert "newer" in newer.reason


def test_a_reason_names_the_failure_never_its_message() -> None:
    error = OperationalError(
        "connect", {}, Exception("postgresql://attune_app:hunter2@db.internal:5432 refused")
    )
    check = unreachable("database", error)
    assert not check.ok
    assert check.reason == "unreachable (OperationalError)"
    assert "hunter2" not in str(Report((check,)).body())
    assert unreachable("redis", NoAnswer()).reason.startswith("no answer within")


def test_a_loop_is_live_while_it_comes_round() -> None:
    now = [100.0]
    pulse = Pulse(clock=lambda: now[0])
    now[0] += 59
    assert loop_check("scheduler", pulse.age(), 60).ok
    now[0] += 2
    stalled = loop_check("scheduler", pulse.age(), 60)
    assert not stalled.ok and "61 s" in stalled.reason
    pulse.beat()
    assert loop_check("scheduler", pulse.age(), 60).ok


def test_dead_threads_fail_liveness() -> None:
    finished = threading.Thread(target=lambda: None)
    finished.start()
    finished.join()
    hold = threading.Event()
    running = threading.Thread(target=hold.wait, daemon=True)
    running.start()
    try:
        assert threads_check("workers", [running]).ok
        dead = threads_check("workers", [running, finished])
        assert not dead.ok and dead.reason == "1 of 2 threads have died"
        assert not threads_check("workers", []).ok
    finally:
        hold.set()


def test_a_hanging_probe_is_cut_short_and_not_started_twice() -> None:
    release = threading.Event()
    calls = []

    def hangs() -> str:
        calls.append(1)
        release.wait(10)
        return "answered"

    deadline = Deadline(0.2)
    started = time.monotonic()
    first = deadline.gather({"database": hangs, "redis": lambda: "pong"})
    assert isinstance(first["database"], NoAnswer)
    assert first["redis"] == "pong"
    assert time.monotonic() - started < 2
    # Still hanging: waited on again, not started again.
    assert isinstance(deadline.gather({"database": hangs})["database"], NoAnswer)
    assert len(calls) == 1

    release.set()
    assert deadline.gather({"database": hangs})["database"] == "answered"


def test_a_probe_that_raises_reports_its_exception() -> None:
    def refuses() -> None:
        raise ConnectionRefusedError

    assert isinstance(Deadline(1).gather({"redis": refuses})["redis"], ConnectionRefusedError)


class _Fixed:
    def __init__(self, *checks: Check) -> None:
        self.checks = checks

    def report(self) -> Report:
        return Report(self.checks)


def test_ready_is_false_when_not_live() -> None:
    loops = [Check("workers", False, "1 of 4 threads have died")]
    health = ProcessHealth(_Fixed(Check("database", True)), lambda: loops)  # type: ignore[arg-type]
    assert health.live().failing == ["workers"]
    assert health.ready().failing == ["workers"]
    loops[:] = [Check("workers", True)]
    assert health.ready().ok
