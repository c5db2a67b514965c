"""The API documentation teaches: it loads with no internet access, every operation says
what it does, and every field of every schema (requests, responses, the settings document)
says what it means."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from services.bootstrap import Stack

VIEWERS = ["/schema", "/schema/swagger", "/schema/redoc"]
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}


class _References(HTMLParser):
    """Every address a page makes the browser fetch or run: src, href and data-spec (the
    schema Swagger UI loads) and redoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "data-spec", "spec-url"} and value:
                self.urls.append((tag, value))


def _references(html: str) -> list[tuple[str, str]]:
    parser = _References()
    parser.feed(html)
    return parser.urls


@pytest.fixture
def document(stack: Stack, http: httpx.Client) -> dict[str, Any]:
    return http.get("/schema/openapi.json").json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", VIEWERS)
def test_the_docs_pages_need_no_other_host(stack: Stack, http: httpx.Client, path: str) -> None:
    page = http.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # No address of another host anywhere in the page, not only in the tags parsed below.
    assert not re.findall(r"(?:https?:)?//[\w.-]+", page.text.replace("<!DOCTYPE", "")), (
        "the page names another host"
    )
    references = _references(page.text)
    scripts = [url for tag, url in references if tag == "script"]
    assert scripts, "the page loads its viewer"
    for _tag, url in references:
        if url.startswith("data:"):
            continue
        target = urljoin(str(http.base_url) + path, url)
        assert urlsplit(target).netloc == urlsplit(str(http.base_url)).netloc, url
        fetched = http.get(target)
        assert fetched.status_code == 200, (url, fetched.status_code)
        kind = fetched.headers["content-type"]
        if url.endswith(".js"):
            assert "javascript" in kind, (url, kind)
        elif url.endswith(".css"):
            assert kind.startswith("text/css"), (url, kind)
        else:
            assert "json" in kind, (url, kind)


@pytest.mark.parametrize("path", VIEWERS)
def test_the_docs_pages_run_only_attunes_scripts(
    stack: Stack, http: httpx.Client, path: str
) -> None:
    """Scripts from Attune only and none inline: the viewers start from their own files."""
    page = http.get(path)
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["default-src"] == "'none'"
    assert "<script>" not in page.text
    assert all(url.startswith("/") for tag, url in _references(page.text) if tag == "script")


def _undescribed_operations(document: dict[str, Any]) -> list[str]:
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            for part in ("summary", "description", "operationId"):
                if not str(operation.get(part, "")).strip():
                    missing.append(f"{method.upper()} {path}: no {part}")
    return missing


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a reference (or Litestar's one-reference allOf) stands for."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        elif len(schema.get("allOf", [])) == 1:
            schema = schema["allOf"][0]
        else:
            return schema


def _undescribed_properties(document: dict[str, Any], names: set[str]) -> list[str]:
    missing = []
    for name in sorted(names):
        schema = _resolve(document, document["components"]["schemas"][name])
        if not str(schema.get("description", "")).strip():
            missing.append(f"{name}: no description")
        for field, definition in schema.get("properties", {}).items():
            if not str(definition.get("description", "")).strip():
                missing.append(f"{name}.{field}: no description")
    return missing


def test_every_operation_has_a_summary_and_a_description(document: dict[str, Any]) -> None:
    missing = _undescribed_operations(document)
    assert not missing, "\n".join(missing)


def test_operation_ids_are_unique_and_readable(document: dict[str, Any]) -> None:
    ids = [
        operation["operationId"]
        for operations in document["paths"].values()
        for method, operation in operations.items()
        if method in METHODS
    ]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    unreadable = [i for i in ids if not re.fullmatch(r"[a-z][A-Za-z]{2,40}", i)]
    assert not unreadable, unreadable


def test_every_schema_and_field_says_what_it_means(document: dict[str, Any]) -> None:
    """Every component: request and response bodies, the settings document and its parts,
    the enumerations."""
    names = set(document["components"]["schemas"])
    assert {"PracticeSettings", "DipRules", "FloorRule", "Timing", "NewAppointment"} <= names
    missing = _undescribed_properties(document, names)
    assert not missing, "\n".join(missing)


def test_the_checks_find_what_is_missing() -> None:
    """The two checks above would catch a gap: a bare operation and a bare field."""
    document = {
        "paths": {"/x": {"get": {"operationId": "readX", "summary": "Read x"}}},
        "components": {
            "schemas": {
                "PracticeSettings": {
                    "description": "The settings.",
                    "properties": {"timezone": {"type": "string"}},
                }
            }
        },
    }
    assert _undescribed_operations(document) == ["GET /x: no description"]
    assert _undescribed_properties(document, {"PracticeSettings"}) == [
        "PracticeSettings.timezone: no description"
    ]


def test_the_settings_fields_give_their_units_and_ranges(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    floor = schemas["FloorRule"]["properties"]["floor"]
    assert (floor["minimum"], floor["maximum"]) == (1, 5)
    assert "1 to 4" in floor["description"]
    timing = schemas["Timing"]["properties"]
    assert "minutes" in timing["survey_delay_minutes"]["description"]
    assert "hours" in timing["alert_lead_hours"]["description"]
    for rule in ("FloorRule", "LowOverallRule", "DropRule", "DeclineStreakRule", "SilenceRule"):
        assert "For example" in schemas[rule]["description"], rule


def test_appointment_actions_and_statuses_are_enumerations(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path in (
        "/api/v1/appointments/{appointment_id}/{action}",
        "/api/v1/appointments/external/{external_id}/{action}",
    ):
        parameters = document["paths"][path]["post"]["parameters"]
        action = next(p for p in parameters if p["name"] == "action")
        assert set(_resolve(document, action["schema"])["enum"]) == {
            "complete",
            "cancel",
            "no-show",
        }
    for schema, field in (("AppointmentOut", "status"), ("AlertOut", "status")):
        assert "enum" in _resolve(document, schemas[schema]["properties"][field]), field
    moves = schemas["AlertOut"]["properties"]["moves"]["items"]
    assert _resolve(document, moves)["enum"] == [
        "invite_feedback",
        "slow_pace",
        "address_relationship",
    ]


def test_the_main_requests_carry_examples(document: dict[str, Any]) -> None:
    for path, method in (
        ("/api/v1/appointments", "post"),
        ("/api/v1/appointments/external/{external_id}", "put"),
        ("/api/v1/settings", "patch"),
        ("/s/{token}", "post"),
        ("/api/v1/alerts/{alert_id}/acknowledge", "post"),
    ):
        content = document["paths"][path][method]["requestBody"]["content"]
        (body,) = content.values()
        assert body.get("examples") or body["schema"].get("examples"), (method, path)


def test_redoc_asks_no_cdn_for_a_logo(stack: Stack, http: httpx.Client) -> None:
    """Redoc's side menu would fetch Redocly's logo from their CDN (refused by the page's
    policy, and reported in the console): the vendored bundle has it taken out (see
    static/docs/README.md), and the schema names no logo (x-logo) for Redoc to fetch."""
    bundle = http.get("/static/docs/redoc/redoc.standalone.js")
    assert bundle.status_code == 200
    assert "cdn.redoc.ly" not in bundle.text
    assert "API docs by Redocly" in bundle.text  # the attribution stays, as a link
    assert "x-logo" not in http.get("/schema/openapi.json").json()["info"]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


# A value for each path parameter: well-formed, naming nothing that exists.
PATH_VALUES = {"action": "complete", "external_id": "nothing-here", "token": "not-a-token"}


def test_operations_that_need_no_credentials_say_so_and_only_they(
    document: dict[str, Any], http: httpx.Client
) -> None:
    """`security: []` on exactly the operations that answer a caller with no credentials
    (with anything but 401), so the viewers stop showing them as needing a token or key."""
    assert document["security"] == [{"bearer": []}, {"apiKey": []}]
    public = set()
    for method, path, operation in _operations(document):
        url = re.sub(
            r"\{(\w+)\}",
            lambda found: PATH_VALUES.get(found[1], "6f1c2a9e-4b7d-4e0a-9a51-2d3c8b7e4f10"),
            path,
        )
        answer = http.request(method.upper(), url, json={} if method != "get" else None)
        needs_credentials = answer.status_code == 401
        if not needs_credentials:
            public.add(f"{method.upper()} {path}")
        assert ("security" in operation and operation["security"] == []) != needs_credentials, (
            method,
            path,
            answer.status_code,
            operation.get("security"),
        )
    assert {
        "POST /api/v1/practices",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/password-reset",
        "GET /s/{token}",
        "POST /u/{token}",
        "GET /health",
        "GET /health/ready",
        "GET /account/reset/{token}",
    } <= public


def test_every_path_parameter_says_what_it_names(document: dict[str, Any]) -> None:
    undescribed = [
        f"{method.upper()} {path}: {parameter['name']}"
        for method, path, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path" and not str(parameter.get("description", "")).strip()
    ]
    assert not undescribed, undescribed
    alert = document["paths"]["/api/v1/alerts/{alert_id}"]["get"]["parameters"]
    assert "alert" in next(p for p in alert if p["name"] == "alert_id")["description"]


def test_a_body_the_handler_lets_you_leave_out_is_not_required(
    document: dict[str, Any],
) -> None:
    acknowledge = document["paths"]["/api/v1/alerts/{alert_id}/acknowledge"]["post"]
    assert acknowledge["requestBody"]["required"] is False
    # Bodies a handler does need stay required.
    booking = document["paths"]["/api/v1/appointments"]["post"]
    assert booking["requestBody"]["required"] is True
