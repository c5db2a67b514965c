"""Input at the edges, and every answer dressed alike, over real HTTP on both databases.

Deep nesting, numbers where moments belong, out-of-range moments and text with NUL each get a
4xx that says what is wrong and store nothing. OPTIONS on every route answers without a 5xx,
signed in or not. 401, 404, 405 and 500 answers carry the security headers and the request id
of a 200, and the request log records each with its real status.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from services.bootstrap import Stack
from shared.logging import configure_logging
from tests.conftest import START
from tests.integration.test_bad_input import problem, unchanged
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture

SECURITY_HEADERS = (
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
    "x-request-id",
)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    configure_logging("WARNING")


def request_lines(stream: io.StringIO) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == "request"]


def every_route(stack: Stack) -> list[tuple[str, set[str]]]:
    """Every path the app serves (path parameters filled in), with its methods."""
    app = stack.api()
    routes = []
    for route in app.routes:
        path = re.sub(r"\{[^}:]+:uuid\}", str(uuid.uuid4()), route.path)
        path = re.sub(r"\{[^}]+\}", "x" * 20, path)
        routes.append((path, set(route.methods)))  # type: ignore[attr-defined]
    return routes


def test_json_nested_ten_thousand_deep_is_a_400(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    with unchanged(stack):
        for method, path, body in (
            ("POST", "/api/v1/clients", '{"name": ' + deep + "}"),
            ("PUT", "/api/v1/settings", '{"rules": ' + deep + "}"),
            ("PATCH", "/api/v1/settings", deep),
            ("POST", "/api/v1/auth/login", deep),
            ("POST", "/api/v1/practices", '{"b": ' * 5_000 + "1" + "}" * 5_000),
        ):
            response = http.request(
                method,
                path,
                content=body,
                headers={**practice.as_owner(), "content-type": "application/json"},
            )
            assert "nested too deeply" in problem(response, 400)["detail"], (method, path)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("starts_at", 12345, "not int 12345"),
        ("ends_at", 1e10, "not float"),
        ("starts_at", "9999-12-31T23:59:59+00:00", "out of range"),
        ("ends_at", "0001-01-01T00:00:00+05:00", "out of range"),
        ("starts_at", True, "not bool"),
        ("starts_at", "2026-03-09T10:00:00", "timezone"),
    ],
)
def test_a_moment_must_be_zoned_text_within_range(
    stack: Stack,
    http: httpx.Client,
    practice: PracticeFixture,
    field: str,
    value: object,
    words: str,
) -> None:
    body: dict[str, object] = {
        "client_id": practice.client["id"],
        "starts_at": (START + timedelta(days=7)).isoformat(),
        "ends_at": (START + timedelta(days=7, minutes=50)).isoformat(),
    }
    body[field] = value
    with unchanged(stack):
        response = http.put(
            "/api/v1/appointments/external/edge-1", json=body, headers=practice.as_scheduler()
        )
        answer = problem(response, 422)
    assert any(e["field"] == field for e in answer["errors"]), answer
    assert words in answer["detail"], answer


def test_text_with_nul_is_refused_on_every_kind_of_input(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    settings = http.get("/api/v1/settings", headers=practice.as_owner()).json()["settings"]
    with unchanged(stack):
        for response in (
            http.post(
                "/api/v1/practices",
                json={
                    "practice_name": "Null\x00 Counselling",
                    "owner_name": "Nia",
                    "owner_email": "nia@null.example.com",
                    "password": "correct horse battery",
                    "timezone": "UTC",
                },
            ),
            http.put(
                "/api/v1/settings",
                json={**settings, "crisis_line": "Call 988\x00 any time"},
                headers=practice.as_owner(),
            ),
            http.patch(
                "/api/v1/settings",
                json={"sender": {"display_name": "Feed\x00back"}},
                headers=practice.as_owner(),
            ),
            http.post(
                "/api/v1/auth/login", json={"email": "a@b.example.com", "password": "x\x00y"}
            ),
            http.get("/api/v1/clients?reference=RC%00", headers=practice.as_owner()),
            http.post("/s/" + "t" * 20, data={"honest": "4", "comment": "hello\x00there"}),
        ):
            assert "NUL" in problem(response, 400)["detail"]
    # Written as text, the six characters \u0000 are not a NUL and are kept as written.
    kept = http.patch(
        "/api/v1/settings",
        json={"sender": {"display_name": "Feedback \\u0000"}},
        headers=practice.as_owner(),
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["settings"]["sender"]["display_name"] == "Feedback \\u0000"


def test_a_survey_comment_with_nul_stores_nothing_and_the_link_still_works(
    stack: Stack, http: httpx.Client, practice: PracticeFixture, sink: object, clock: object
) -> None:
    practice.book("nul-1", START - timedelta(hours=1))
    practice.complete("nul-1")
    clock.advance(timedelta(minutes=61))  # type: ignore[attr-defined]
    tick_and_settle(stack)
    email = addressed_to(sink, "robin.client@harbour.example.com")[0]  # type: ignore[arg-type]
    path = next(link for link in links(email) if "/s/" in link and "?" not in link)
    path = path.removeprefix("http://attune.test")
    answers = {"honest": "4", "disagree": "4", "respected": "5", "input": "4", "pace": "4"}
    with unchanged(stack):
        problem(http.post(path, data={**answers, "comment": "a\x00b"}), 400)
    assert http.post(path, data={**answers, "comment": "ab"}).status_code == 200


def test_options_on_every_route_never_fails(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    routes = every_route(stack)
    assert len(routes) > 30
    for path, methods in routes:
        for headers in ({}, practice.as_owner(), practice.as_clinician(), practice.as_scheduler()):
            response = http.options(path, headers=headers)
            assert response.status_code == 204, (path, headers, response.text)
            allowed = set(response.headers["allow"].split(", "))
            assert methods - {"HEAD"} <= allowed, (path, allowed, methods)
            for name in SECURITY_HEADERS:
                assert name in response.headers, (path, name)
    assert http.options("/no/such/route").status_code == 404


def test_every_error_answer_is_dressed_and_logged_like_a_success(
    captured_logs: io.StringIO, http: httpx.Client, practice: PracticeFixture
) -> None:
    ok = http.get("/api/v1/me", headers=practice.as_owner())
    assert ok.status_code == 200
    answers = {
        401: http.get("/api/v1/me"),
        403: http.get("/api/v1/api-keys", headers=practice.as_clinician()),
        404: http.get("/api/v1/no-such-thing", headers=practice.as_owner()),
        405: http.delete("/api/v1/me", headers=practice.as_owner()),
        400: http.post(
            "/api/v1/clients",
            content="{",
            headers={**practice.as_owner(), "content-type": "application/json"},
        ),
        422: http.patch(
            "/api/v1/settings", json={"timezone": "Mars/Olympus"}, headers=practice.as_owner()
        ),
    }
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        for name in SECURITY_HEADERS:
            assert response.headers.get(name) == ok.headers.get(name) or name == "x-request-id", (
                status,
                name,
                response.headers,
            )
            assert name in response.headers, (status, name)
        assert response.headers["cache-control"] == "no-store"
    logged = {line["request_id"]: line for line in request_lines(captured_logs)}
    for status, response in answers.items():
        line = logged[response.headers["x-request-id"]]
        assert line["status"] == status, line
    assert logged[answers[404].headers["x-request-id"]]["route"] == "unmatched"
    assert logged[answers[401].headers["x-request-id"]]["route"] == "/api/v1/me"


@pytest.mark.parametrize(
    ("first_day", "last_day", "field"),
    [("2026-01-01", "9999-12-31", "last_day"), ("0001-01-01", "0001-01-02", "first_day")],
)
def test_a_day_out_of_range_is_a_422_on_figures(
    http: httpx.Client, practice: PracticeFixture, first_day: str, last_day: str, field: str
) -> None:
    response = http.get(
        "/api/v1/figures",
        params={"first_day": first_day, "last_day": last_day},
        headers=practice.as_owner(),
    )
    body = problem(response, 422)
    assert body["field"] == field and "out of range" in body["detail"]
