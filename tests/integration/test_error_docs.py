"""Every operation lists the error answers it can give, worked out from its handler
(services/api/openapi_errors.py), and what the app really answers is what the document says.
tests/integration/test_fuzz.py checks the same from the outside with schemathesis; these
tests pin the derivation and walk the link pages, whose real tokens the fuzzer never has."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from services.bootstrap import Stack
from shared.email.sink import MailSink
from tests.integration.test_accounts import _only_link
from tests.support.practice import PracticeFixture

ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture
def document(http: httpx.Client) -> dict[str, Any]:
    return http.get("/schema/openapi.json").json()  # type: ignore[no-any-return]


def answers(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method]["responses"]  # type: ignore[no-any-return]


def media(document: dict[str, Any], method: str, path: str, status: int) -> set[str]:
    return set(answers(document, method, path)[str(status)].get("content") or {})


def assert_documented(
    document: dict[str, Any], method: str, path: str, response: httpx.Response
) -> None:
    listed = answers(document, method, path)
    status = str(response.status_code)
    assert status in listed, f"{method.upper()} {path} answered {status}: not in {sorted(listed)}"
    content_type = response.headers.get("content-type", "").split(";")[0]
    if response.content:
        assert content_type in (listed[status].get("content") or {}), (
            f"{method.upper()} {path} {status} answered {content_type}"
        )


def test_every_operation_lists_its_error_answers_with_the_error_body(
    document: dict[str, Any],
) -> None:
    body = document["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"status_code", "detail"}
    assert set(body["properties"]) == {"status_code", "detail", "field", "errors", "extra"}
    for name in ("ErrorBody", "FieldProblem"):
        for field, definition in document["components"]["schemas"][name]["properties"].items():
            assert definition.get("description"), (name, field)
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 30
    for method, path, operation in operations:
        listed = operation["responses"]
        # A health probe's 503 is its own report (which checks failed), not an error body.
        probe = path.startswith("/health")
        if probe:
            assert "503" in listed and listed["503"]["description"], (method, path)
        for status in ("400",) if probe else ("400", "503"):
            assert listed[status]["content"]["application/json"]["schema"] == ERROR_BODY, (
                method,
                path,
                status,
            )
        # Every operation but those anyone may call (security: []) can answer 401.
        if operation.get("security") != []:
            assert listed["401"]["content"]["application/json"]["schema"] == ERROR_BODY
        if "{" in path:
            assert "404" in listed, (method, path)


def test_each_answer_comes_from_a_fact_about_the_handler(document: dict[str, Any]) -> None:
    me = answers(document, "get", "/api/v1/me")
    # Signed in, no API key, nothing looked up, nothing read: no 404, 422, 429.
    assert {"401", "403"} <= set(me) and not {"404", "409", "422", "429"} & set(me)
    assert "API key" in me["403"]["description"]

    # A scheduling system may list clients, and a read needs no CSRF token: nothing to refuse.
    assert "403" not in answers(document, "get", "/api/v1/clients")
    erase = answers(document, "delete", "/api/v1/clients/{client_id}")
    assert "Only the practice owner" in erase["403"]["description"]
    assert "client_id" in erase["404"]["description"]

    # Public and rate limited; a wrong password is the domain's 401; no CSRF on a first login
    # without a cookie, but one with the cookie needs it.
    login = answers(document, "post", "/api/v1/auth/login")
    assert {"401", "403", "413", "422", "429"} <= set(login)
    assert "password" in login["401"]["description"]

    # Declared by the handler: the domain's conflicts and the lookups of what the body names.
    assert {"404", "409"} <= set(answers(document, "post", "/api/v1/clients"))
    assert "409" in answers(document, "post", "/api/v1/clinicians")

    # A link page answers its link's state with a page; the checks before it in JSON.
    for method in ("get", "post"):
        for status in (404, 409, 410):
            assert media(document, method, "/s/{token}", status) == {"text/html"}
        assert media(document, method, "/s/{token}", 429) == {"application/json"}
        assert "401" not in answers(document, method, "/s/{token}")
    assert media(document, "post", "/account/join/{token}", 200) == {"text/html"}
    assert "303" in answers(document, "post", "/account/join/{token}")


def test_the_link_pages_answer_as_the_document_says(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    document: dict[str, Any],
    practice: PracticeFixture,
) -> None:
    http.post("/api/v1/auth/password-reset", json={"email": practice.owner["email"]})
    reset, _ = _only_link(stack, sink, practice.owner["email"], "reset")
    new_password = {"password": "a new long secret", "confirm": "a new long secret"}
    walk = [
        ("get", "/account/reset/{token}", lambda: http.get(reset), 200),
        (
            "post",
            "/account/reset/{token}",
            lambda: http.post(reset, data={"password": "a", "confirm": "b"}),
            422,
        ),
        ("post", "/account/reset/{token}", lambda: http.post(reset, data=new_password), 200),
        ("post", "/account/reset/{token}", lambda: http.post(reset, data=new_password), 410),
        ("get", "/account/reset/{token}", lambda: http.get(reset), 410),
        ("get", "/account/join/{token}", lambda: http.get("/account/join/nothing"), 404),
    ]
    added = http.post(
        "/api/v1/clinicians",
        json={"email": "jo@harbour.example.com", "name": "Jo Newhire", "timezone": "UTC"},
        headers=practice.as_owner(),
    )
    assert added.status_code == 201, added.text
    join, _ = _only_link(stack, sink, "jo@harbour.example.com", "join")
    walk.append(("post", "/account/join/{token}", lambda: http.post(join, data=new_password), 303))
    for method, path, send, status in walk:
        response = send()
        assert response.status_code == status, (method, path, response.text)
        assert_documented(document, method, path, response)
