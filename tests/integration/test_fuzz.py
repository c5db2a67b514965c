"""Schemathesis fuzzes every operation of the OpenAPI schema against the running app, signed in
as the practice's owner, its clinician or its scheduling system's API key: no input may cause
a 500, and every answer must be one the schema documents for that operation (status code,
content type and body)."""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, strategies
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from services.api.errors import ErrorBody
from services.bootstrap import Stack
from shared.settings import Settings
from tests.support.practice import PracticeFixture, create_practice

# Bounded so the suite stays quick; ATTUNE_FUZZ_EXAMPLES=200 for a deeper run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("ATTUNE_FUZZ_EXAMPLES", "8"))
ERROR_BODY_KEYS = set(ErrorBody.model_fields)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The fuzzer is one address sending hundreds of requests: let the public limits through
    # (they are tested in test_rate_limits).
    generous = {
        bucket: (100_000, 60)
        for bucket in (
            "login",
            "login_account",
            "password_reset",
            "account_link",
            "sign_up",
            "survey",
        )
    }
    return settings.model_copy(update={"rate_limits": generous})


@pytest.fixture
def owner(http: httpx.Client) -> PracticeFixture:
    return create_practice(http)


@pytest.fixture
def api_schema(stack: Stack, http: httpx.Client) -> Any:
    document = http.get("/schema/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=str(http.base_url))
    # Logging out would end the session the rest of the run signs in with.
    return schema.exclude(path="/api/v1/auth/logout")


# In production mode the broker's and Redis client's threads draw from `random` while
# Hypothesis builds a case; that is not the strategy's own randomness.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
def test_no_input_breaks_the_api(api_schema: Any, owner: PracticeFixture) -> None:
    """Each operation gets its own bounded, derandomized Hypothesis run (driven here rather
    than through schemathesis' pytest plugin, which does not support pytest 9 yet); every
    failure is collected, so one run shows all of them. Each case is sent by one of the
    practice's real callers, so guards refuse some of them: those refusals must be
    documented too."""
    callers = strategies.sampled_from(
        [owner.as_owner(), owner.as_clinician(), owner.as_scheduler()]
    )
    failures: dict[str, str] = {}
    operations = 0
    sent = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        # Valid input and invalid input: invalid must be refused with a 4xx, never a 500.
        # And valid input aimed at objects that exist, so the fuzzer gets past the lookup.
        known = {
            name: value
            for name, value in (
                ("client_id", owner.client["id"]),
                ("clinician_id", owner.clinician["id"]),
            )
            if "{" + name + "}" in operation.path
        }
        cases = strategies.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
            *(
                [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=known)]
                if known
                else []
            ),
        )

        @given(case=cases, caller=callers)
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any, caller: dict[str, str]) -> None:
            nonlocal sent
            sent += 1
            response = case.call_and_validate(headers=caller, checks=CHECKS)
            if response.status_code >= 400 and _is_json(response.headers):
                # The schema leaves ErrorBody open; the body must not grow keys it lacks.
                assert set(response.json()) <= ERROR_BODY_KEYS, response.text

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as failure:  # reported together below
            failures[operation.label] = str(failure)[:1500]
    assert operations >= 30
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert sent >= operations * 2, "the fuzzer should have sent several requests per operation"


def _is_json(headers: dict[str, list[str]]) -> bool:
    return any(value.startswith("application/json") for value in headers.get("content-type", []))
