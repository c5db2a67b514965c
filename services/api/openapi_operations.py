"""What Litestar leaves wrong on an operation in /schema, set right from its handler.

- An operation anyone may call (opt public: sign-up, sign-in, a password reset, the survey
  and unsubscribe links, the health probes) says `security: []`. Without it the document's
  default (a bearer token or an API key) applies to it, and the viewers show it as needing
  one. Litestar leaves an empty list out, so its operation class writes it.
- A request body the handler lets a caller leave out (its `data` is Optional) is
  `required: false`; Litestar marks every body required.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Operation, RequestBody
from litestar.routes import HTTPRoute


@dataclass
class HandlerOperation(Operation):
    """An Operation that writes what its handler's subclass says (see operation_class)."""

    public: ClassVar[bool] = False
    optional_body: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.public:
            self.security = []
        if self.optional_body and isinstance(self.request_body, RequestBody):
            self.request_body.required = False


def is_public(handler: HTTPRouteHandler) -> bool:
    return bool(handler.opt.get("public"))


def body_is_optional(handler: HTTPRouteHandler) -> bool:
    data = handler.parsed_fn_signature.parameters.get("data")
    return data is not None and data.is_optional


def operation_class(handler: HTTPRouteHandler) -> type[Operation]:
    public, optional_body = is_public(handler), body_is_optional(handler)
    if not (public or optional_body):
        return handler.operation_class
    return type(
        f"{handler.handler_name}Operation",
        (HandlerOperation,),
        {"public": public, "optional_body": optional_body},
    )


def document_access_and_bodies(app: Litestar) -> None:
    """Call once the app is built, before /schema is first asked for (Litestar builds the
    document then)."""
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler, _ in route.route_handler_map.values():
                handler.operation_class = operation_class(handler)
