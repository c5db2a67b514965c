"""Request ids: which supplied ids are kept, and how the id of the work at hand is bound."""

from __future__ import annotations

import pytest
import structlog

from shared.logging import current_request_id, following, request_id_for


@pytest.mark.parametrize("supplied", ["abcd1234", "answer-trace.0042", "a:b_c-d.e" + "f" * 55])
def test_a_plain_token_is_kept(supplied: str) -> None:
    assert request_id_for(supplied) == supplied


@pytest.mark.parametrize(
    "supplied",
    [None, "", "short", "x" * 65, "has spaces in it", "semi;colon1", "new\nline-id", "ünïcödé-id"],
)
def test_anything_else_is_replaced_by_a_new_id(supplied: str | None) -> None:
    generated = request_id_for(supplied)
    assert generated != supplied and len(generated) == 32
    assert request_id_for(supplied) != generated, "each request gets its own"


def test_following_binds_an_id_for_its_block_and_restores_the_one_around_it() -> None:
    structlog.contextvars.clear_contextvars()
    with following("outer-work-01"):
        with following("inner-work-02"):
            assert current_request_id() == "inner-work-02"
        with following(None):
            assert current_request_id() is None
            assert "request_id" not in structlog.contextvars.get_contextvars()
        assert current_request_id() == "outer-work-01"
    assert current_request_id() is None


def test_an_unfit_bound_value_is_not_passed_on() -> None:
    with structlog.contextvars.bound_contextvars(request_id="not fit to store"):
        assert current_request_id() is None
