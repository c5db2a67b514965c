"""Every operation's error answers in the OpenAPI document, worked out from what its handler is.

Why derived rather than listed: a list kept by hand goes stale the day someone adds a guard,
a path parameter or a rate limit, and a client then meets answers the document never
mentioned (schemathesis found 53). The facts that decide which errors an operation can give
are already on its handler, so the document is computed from them when the app is built:

- 401 unless the handler is public (opt public); a page sends the visitor to sign in (303);
- 403 from its guards (their docstrings say why), from the API-key guard on every signed-in
  route an API key may not use, and from the CSRF check on a state-changing request signed
  in by cookie (unless opt exclude_from_csrf);
- 404 when the path names something (a path parameter) that may not exist, or not be yours;
- 422 when it reads a body or query parameters;
- 400 always (a malformed body, a missing parameter, the NUL character anywhere), 413 when it
  reads a body, 429 with opt rate_limit, 503 always (the database briefly unreachable).

Only what the domain decides cannot be seen from outside: a handler (or its controller)
declares the domain errors it lets through with opt={"raises": (Conflict, Gone, ...)}.

Every JSON error has the body services/api/errors.py builds (errors.ErrorBody). A page (opt
page) gets its errors as HTML pages; a link page (a public handler answering with HTML) answers
its domain errors itself with a page, while the checks before it (validation, rate limit)
answer in JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins import ReceiveRoutePlugin
from litestar.response import Template
from litestar.routes import BaseRoute, HTTPRoute

from services.api.errors import ErrorBody
from shared.errors import Conflict, DomainError, Forbidden, Gone, Invalid, NotFound

DOMAIN_REASONS: dict[type[DomainError], str] = {
    NotFound: "Something the request names does not exist, or is not yours to see.",
    Forbidden: "The practice's rules do not let this account do this.",
    Conflict: (
        "The request conflicts with the current state: it exists already, was already "
        "done, or is not in a state that allows it; the answer says which."
    ),
    Gone: "The link has expired or was already used.",
}
INVALID = (
    "The input is well-formed but breaks a rule (a type, a length, a format, or the "
    "practice's rules); the answer says which field and why."
)

DESCRIPTIONS: dict[int, str] = {
    400: (
        "The request could not be read: a body that is not valid JSON or form data, a "
        "missing required parameter, or text with the NUL character."
    ),
    401: (
        "Not signed in: send `Authorization: Bearer <token>` (from /api/v1/auth/login), "
        "an `X-API-Key` where allowed, or the session cookie. An expired token gets this too."
    ),
    413: "The request body is larger than the service accepts.",
    429: (
        "Too many requests from this address: the `Retry-After` header says how many "
        "seconds to wait."
    ),
    503: (
        "The service is briefly unavailable (its database is unreachable): try again "
        "after the seconds in `Retry-After`."
    ),
}

API_KEY_REFUSAL = "An API key can only report clients and appointments."
CSRF_REFUSAL = (
    "A state-changing request signed in by the session cookie must carry the X-CSRF-Token "
    "header (a page's form, its hidden _csrf_token field)."
)
PAGE_SIGN_IN = "Not signed in: the page sends the visitor to /login, and back afterwards."


def error_answers(
    handler: HTTPRouteHandler,
    *,
    path_parameters: Iterable[str],
    reads_body: bool,
    reads_query: bool,
    app_guards: Iterable[Callable[..., Any]],
    safe_methods: Iterable[str],
) -> dict[int, list[str]]:
    """The error statuses one operation can answer with, each with the reasons it would."""
    opt = handler.opt
    raises: tuple[type[DomainError], ...] = tuple(opt.get("raises", ()))
    for error in raises:
        if not (isinstance(error, type) and issubclass(error, DomainError)):
            raise TypeError(f"opt raises of {handler} lists {error!r}, not a DomainError")
    answers: dict[int, list[str]] = {400: [DESCRIPTIONS[400]], 503: [DESCRIPTIONS[503]]}

    def add(status: int, reason: str) -> None:
        if reason not in answers.setdefault(status, []):
            answers[status].append(reason)

    if not opt.get("public"):
        if opt.get("page"):
            add(303, PAGE_SIGN_IN)
        else:
            add(401, DESCRIPTIONS[401])
        if not opt.get("api_key"):
            add(403, API_KEY_REFUSAL)
    shared = set(app_guards)
    for guard in (guard for layer in handler.ownership_layers for guard in layer.guards or ()):
        if guard not in shared:
            add(403, (guard.__doc__ or "This account may not do this.").strip())
    if not set(handler.http_methods) <= set(safe_methods) and not opt.get("exclude_from_csrf"):
        add(403, CSRF_REFUSAL)
    names = list(path_parameters)
    if names:
        add(404, f"No such {', '.join(names)}: it does not exist, or is not yours to see.")
    if reads_body or reads_query:
        add(422, INVALID)
    if reads_body:
        add(413, DESCRIPTIONS[413])
    if opt.get("rate_limit"):
        add(429, DESCRIPTIONS[429])
    for error in raises:
        reason = INVALID if issubclass(error, Invalid) else DOMAIN_REASONS.get(error)
        add(error.status_code, reason or (error.__doc__ or error.__name__).strip())
    return answers


def _answers_in_html(
    handler: HTTPRouteHandler, status: int, raises: Iterable[type[DomainError]]
) -> bool:
    if handler.opt.get("page"):
        return True
    # A link page (a public handler whose own answer is a page) turns what the domain says
    # about its link into a page itself; checks before it answer in JSON.
    domain_statuses = {404} | {error.status_code for error in raises}
    return status in domain_statuses and answers_with_pages(handler)


def answers_with_pages(handler: HTTPRouteHandler) -> bool:
    returned = handler.parsed_fn_signature.return_type
    return handler.media_type == MediaType.HTML or any(
        kind.is_subclass_of(Template) for kind in (returned, *returned.inner_types)
    )


def response_specs(handler: HTTPRouteHandler, answers: dict[int, list[str]]) -> dict[int, Any]:
    raises = handler.opt.get("raises", ())
    specs: dict[int, ResponseSpec] = {}
    for status, reasons in sorted(answers.items()):
        description = reasons[0] if len(reasons) == 1 else "\n".join(f"- {r}" for r in reasons)
        if status == 303:
            specs[status] = ResponseSpec(data_container=None, description=description)
        elif _answers_in_html(handler, status, raises):
            specs[status] = ResponseSpec(
                data_container=str,
                media_type=MediaType.HTML,
                description=description,
                generate_examples=False,
            )
        else:
            specs[status] = ResponseSpec(
                data_container=ErrorBody, description=description, generate_examples=False
            )
    return specs


class DocumentedErrors(ReceiveRoutePlugin):
    """Gives every route handler, as it is registered, the error answers it can give."""

    def __init__(
        self, *, app_guards: Iterable[Callable[..., Any]], safe_methods: Iterable[str]
    ) -> None:
        self.app_guards = tuple(app_guards)
        self.safe_methods = frozenset(safe_methods)

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        names = list(route.path_parameters)
        for handler, kwargs in {
            id(h): (h, k) for h, k in route.route_handler_map.values()
        }.values():
            answers = error_answers(
                handler,
                path_parameters=names,
                reads_body=kwargs.expected_form_data is not None
                or kwargs.expected_msgpack_data is not None
                or "data" in kwargs.expected_reserved_kwargs,
                reads_query=bool(kwargs.expected_query_params),
                app_guards=self.app_guards,
                safe_methods=self.safe_methods,
            )
            # What the handler documents itself (its success answer, a redirect) stands.
            documented = {**response_specs(handler, answers), **(handler.responses or {})}
            handler.responses = dict(sorted(documented.items()))
