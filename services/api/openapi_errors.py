"""Every operation's error answers in the OpenAPI document, worked out from what its handler is.

Why derived rather than listed: a list kept by hand goes stale the day someone adds a guard,
a path parameter or a rate limit, and a client then meets answers the document never
mentioned (schemathesis found 53). The facts that decide which errors an operation can give
are already on its handler, so the document is computed from them when the app is built:

- 401 unless the handler is public (opt public); a page sends the visitor to sign in (303);
- 403 from its own guards (their docstrings say why), from the API-key guard on every
  signed-in route an API key may not use, and from the CSRF check on a state-changing
  request signed in by cookie (unless the handler is excluded from it);
- 404 when the path names something (a path parameter) that may not exist, or not be yours;
- 422 when it reads a body or query parameters;
- 400 always (a malformed body, a missing parameter, the NUL character anywhere), 413 when it
  reads a body, 429 with opt rate_limit, 503 always (the database briefly unreachable).

Only what the domain decides cannot be seen from outside: a handler (or its controller)
declares the domain errors it lets through with opt={"raises": (Conflict, Gone, ...)}.

Every JSON error has the body services/api/errors.py builds (errors.ErrorBody). A page (opt
page) gets its errors as HTML pages; a link page (a handler answering with HTML) answers its
domain errors itself with a page, while the checks before it (validation, rate limit) answer
in JSON. A handler that answers a page or a redirect is documented so (Attune redirects only
with 303 See Other), where its return type leaves Litestar guessing JSON.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Redirect, Template
from litestar.routes import HTTPRoute

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
REDIRECT = "Done: on to the page in the Location header (303 See Other)."


def error_answers(
    handler: HTTPRouteHandler,
    *,
    path_parameters: Iterable[str],
    reads_body: bool,
    reads_query: bool,
    body_names_ids: bool,
    csrf: CSRFConfig | None,
) -> dict[int, list[str]]:
    """The error statuses one operation can answer with, each with the reasons it would."""
    opt = handler.opt
    raises = declared_raises(handler)
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
    # Past the app's own guards (every route's: the API-key and rate-limit answers here).
    for layer in handler.ownership_layers[1:]:
        for guard in layer.guards or ():
            add(403, (guard.__doc__ or "This account may not do this.").strip())
    if (
        csrf is not None
        and not set(handler.http_methods) <= set(csrf.safe_methods)
        and not opt.get(csrf.exclude_from_csrf_key)
    ):
        add(403, CSRF_REFUSAL)
    names = list(path_parameters)
    if names:
        add(404, f"No such {', '.join(names)}: it does not exist, or is not yours to see.")
    if body_names_ids:
        add(404, DOMAIN_REASONS[NotFound])
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


def declared_raises(handler: HTTPRouteHandler) -> tuple[type[DomainError], ...]:
    raises = tuple(handler.opt.get("raises", ()))
    for error in raises:
        if not (isinstance(error, type) and issubclass(error, DomainError)):
            raise TypeError(f"opt raises of {handler} lists {error!r}, not a DomainError")
    return raises


def _returns(handler: HTTPRouteHandler, kind: type) -> bool:
    returned = handler.parsed_fn_signature.return_type
    return any(each.is_subclass_of(kind) for each in (returned, *returned.inner_types))


def _answers_in_html(handler: HTTPRouteHandler, status: int) -> bool:
    if handler.opt.get("page"):
        return True
    # A link page (a public handler whose own answer is a page) turns what the domain says
    # about its link into a page itself; checks before it answer in JSON.
    domain_statuses = {404} | {error.status_code for error in declared_raises(handler)}
    return status in domain_statuses and _returns(handler, Template)


def response_specs(
    handler: HTTPRouteHandler, answers: dict[int, list[str]]
) -> dict[int, ResponseSpec]:
    specs: dict[int, ResponseSpec] = {}
    for status, reasons in sorted(answers.items()):
        description = reasons[0] if len(reasons) == 1 else "\n".join(f"- {r}" for r in reasons)
        if status == 303:
            specs[status] = ResponseSpec(data_container=None, description=description)
        elif _answers_in_html(handler, status):
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


def page_or_redirect_specs(handler: HTTPRouteHandler) -> dict[int, ResponseSpec]:
    """A handler answering a page or a redirect (Template | Redirect): Litestar documents its
    success as JSON and leaves the redirect out."""
    if not (_returns(handler, Template) and _returns(handler, Redirect)):
        return {}
    return {
        handler.status_code: ResponseSpec(
            data_container=str, media_type=MediaType.HTML, description="A page."
        ),
        303: ResponseSpec(data_container=None, description=REDIRECT),
    }


def _csrf_of(app: Litestar) -> CSRFConfig | None:
    if app.csrf_config is not None:
        return app.csrf_config
    for defined in app.middleware:
        if isinstance(defined, DefineMiddleware) and issubclass(
            defined.middleware,  # type: ignore[arg-type]
            CSRFMiddleware,
        ):
            config: CSRFConfig = defined.kwargs["config"]
            return config
    return None


def _names_ids(handler: HTTPRouteHandler) -> bool:
    """A body with a field naming another object by its id (`*_id`), which may not exist."""
    data = handler.parsed_fn_signature.parameters.get("data")
    fields: Collection[str] = getattr(data.annotation, "model_fields", {}) if data else {}
    return any(name.endswith("_id") for name in fields)


def document_error_answers(app: Litestar) -> None:
    """Gives every route handler of the app the answers it can give, in /schema. Call it once
    the app is built and before anyone asks for /schema: Litestar builds the document on the
    first request for it."""
    csrf = _csrf_of(app)
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
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
                body_names_ids=_names_ids(handler),
                csrf=csrf,
            )
            # What the handler documents itself (its success answer, a redirect) stands.
            documented = {
                **response_specs(handler, answers),
                **page_or_redirect_specs(handler),
                **(handler.responses or {}),
            }
            handler.responses = dict(sorted(documented.items()))
