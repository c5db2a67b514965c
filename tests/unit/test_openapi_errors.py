"""The error answers an operation documents follow from its handler alone: a tiny app, no
database, shows each fact and the answer it brings."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from litestar import Controller, Litestar, get, post
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect, Template
from pydantic import BaseModel

from services.api.openapi_errors import document_error_answers
from shared.errors import Conflict, Gone


def everyone(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Applied to every route."""


def chiefs_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Only a chief can do this."""


class Link(BaseModel):
    thing_id: UUID


class Things(Controller):
    path = "/things"

    @get("/{thing_id:uuid}", sync_to_thread=False)
    def read(self, thing_id: UUID) -> dict[str, str]:
        return {}

    @post("/", sync_to_thread=False, guards=[chiefs_only], opt={"raises": (Conflict,)})
    def add(self, data: dict[str, str]) -> dict[str, str]:
        return data

    @post("/links", sync_to_thread=False)
    def link(self, data: Link) -> dict[str, str]:
        return {}

    @get("/", sync_to_thread=False, opt={"public": True, "rate_limit": "look"})
    def search(self, q: str = "") -> list[str]:
        return []


class LinkPage(Controller):
    path = "/l"
    opt = {"public": True, "exclude_from_csrf": True, "raises": (Gone,)}

    @post("/{token:str}", sync_to_thread=False, status_code=200)
    def use(self, token: str) -> Template | Redirect:
        return Template(template_str="ok")


def schema(*handlers: Any) -> dict[str, Any]:
    app = Litestar(list(handlers), guards=[everyone], csrf_config=CSRFConfig(secret="s" * 32))
    document_error_answers(app)
    return app.openapi_schema.to_schema()


def responses(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method]["responses"]  # type: ignore[no-any-return]


def test_each_fact_about_a_handler_brings_its_answer() -> None:
    document = schema(Things)
    read = responses(document, "get", "/things/{thing_id}")
    # Signed in, so 401 and the API-key refusal; a path parameter, so 404; no input to check.
    assert set(read) == {"200", "400", "401", "403", "404", "503"}
    assert "thing_id" in read["404"]["description"]

    add = responses(document, "post", "/things")
    assert set(add) == {"201", "400", "401", "403", "409", "413", "422", "503"}
    refusals = add["403"]["description"]
    assert "Only a chief" in refusals and "X-CSRF-Token" in refusals
    assert "Applied to every route" not in refusals

    # The body names a thing by its id: it may not be there.
    assert "404" in responses(document, "post", "/things/links")

    search = responses(document, "get", "/things")
    assert set(search) == {"200", "400", "422", "429", "503"}
    for listed in (read, add, search):
        for status, answer in listed.items():
            if int(status) >= 400:
                schema_of = answer["content"]["application/json"]["schema"]
                assert schema_of == {"$ref": "#/components/schemas/ErrorBody"}, status


def test_a_link_page_answers_its_links_state_with_a_page() -> None:
    use = responses(schema(LinkPage), "post", "/l/{token}")
    # Its return type says page or redirect: Litestar alone would say JSON and no 303.
    assert set(use) == {"200", "303", "400", "404", "410", "503"}
    for status in ("200", "404", "410"):
        assert set(use[status]["content"]) == {"text/html"}
    assert set(use["400"]["content"]) == {"application/json"}


def test_a_handler_may_declare_only_domain_errors() -> None:
    @post("/odd", opt={"public": True, "raises": (ValueError,)}, sync_to_thread=False)
    def odd() -> None:
        return None

    with pytest.raises(TypeError, match="not a DomainError"):
        schema(odd)
