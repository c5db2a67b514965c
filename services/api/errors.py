"""Every failure becomes a clear JSON error: what is wrong, and which field, never a trace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import (
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)
from litestar.types import ExceptionHandler, ExceptionHandlersMap
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.errors import DomainError

log = structlog.get_logger("attune.api")


class FieldProblem(BaseModel):
    """One input field that is not right, and what is wrong with it."""

    field: str = Field(description="The field, dotted for a nested one (e.g. rules.floor).")
    message: str = Field(description="What is wrong with it, in words.")


class ErrorBody(BaseModel):
    """Every JSON error answer: its status again, what is wrong in words, and where it helps,
    the field at fault. The OpenAPI document describes error answers with this model
    (services/api/openapi_errors.py), and every JSON error is built from it."""

    status_code: int = Field(description="The HTTP status, again.")
    detail: str = Field(description="What is wrong, in words a person can act on.")
    field: str | None = Field(default=None, description="The one input field at fault.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Each invalid field and its problem (422 only)."
    )
    extra: dict[str, Any] | list[Any] | None = Field(
        default=None, description="Whatever else the refusal adds."
    )


def _body(
    status: int,
    detail: str,
    *,
    field: str | None = None,
    errors: list[FieldProblem] | None = None,
    extra: dict[str, Any] | list[Any] | None = None,
) -> Response[dict[str, Any]]:
    body = ErrorBody(
        status_code=status, detail=detail, field=field or None, errors=errors, extra=extra or None
    )
    # Keys left out rather than null: a client tests for the key.
    return Response(
        body.model_dump(exclude_none=True), status_code=status, media_type=MediaType.JSON
    )


def on_domain_error(_: Request, exc: DomainError) -> Response[dict[str, Any]]:
    return _body(exc.status_code, exc.message, field=exc.field)


def _invalid(fields: list[tuple[str, str]]) -> Response[dict[str, Any]]:
    # Pydantic prefixes a validator's own words with "Value error, ": keep only the words.
    problems = [
        FieldProblem(field=field, message=message.removeprefix("Value error, "))
        for field, message in fields
    ]
    summary = "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)
    return _body(HTTP_422_UNPROCESSABLE_ENTITY, f"Invalid input. {summary}", errors=problems)


def on_validation_error(request: Request, exc: ValidationException) -> Response[dict[str, Any]]:
    errors = exc.extra if isinstance(exc.extra, list) else []
    if not errors:
        if exc.detail.startswith("Missing required"):
            # "Missing required query parameter 'x' for path ...": already says what is wrong.
            return _body(400, exc.detail.split(" for path")[0] + ".")
        # Nothing field-level: the body itself could not be read (malformed JSON and the like).
        return _body(400, "The request body is not valid JSON or form data.")
    if any(isinstance(e, dict) and e.get("message") == "'data'" for e in errors):
        # Litestar reports a missing body as the bare key "'data'".
        return _body(400, "The request body is empty: send a JSON object.")
    return _invalid(
        [
            (str(error.get("key", "")), str(error.get("message", "")))
            for error in errors
            if isinstance(error, dict)
        ]
    )


def on_pydantic_error(_: Request, exc: ValidationError) -> Response[dict[str, Any]]:
    return _invalid(
        [(".".join(str(part) for part in error["loc"]), error["msg"]) for error in exc.errors()]
    )


def on_http_exception(_: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(exc.__cause__, SerializationException):
        # Litestar passes on the parser's bare words ("Input data was truncated"): say what.
        return _body(400, f"The request body is not valid JSON or form data: {exc.detail}")
    response = _body(exc.status_code, exc.detail, extra=exc.extra)
    # e.g. Retry-After on a 429: the client needs it to know when to come back.
    response.headers.update(exc.headers or {})
    return response


def on_database_unavailable(_: Request, exc: Exception) -> Response[dict[str, Any]]:
    if (
        isinstance(exc, DBAPIError)
        and not exc.connection_invalidated
        and not isinstance(exc, OperationalError)
    ):
        return on_unexpected(_, exc)
    log.warning("database.unavailable", error=type(exc).__name__)
    response = _body(
        HTTP_503_SERVICE_UNAVAILABLE, "The service is briefly unavailable. Please try again."
    )
    response.headers["Retry-After"] = "5"
    return response


def on_recursion(request: Request, exc: RecursionError) -> Response[dict[str, Any]]:
    # The JSON decoder (msgspec) refuses to go deeper than Python's recursion limit, with these
    # words; no body of ours nests more than a handful of levels.
    if "deserializ" in str(exc):
        return _body(
            400, "The request body is nested too deeply: no Attune request nests that far."
        )
    return on_unexpected(request, exc)


def on_unexpected(_: Request, exc: Exception) -> Response[dict[str, Any]]:
    log.error("request.failed", error=type(exc).__name__, exc_info=exc)
    return _body(HTTP_500_INTERNAL_SERVER_ERROR, "Something went wrong on our side.")


def wants_page(request: Request) -> bool:
    """A clinician's or owner's page (its handler's opt says so), or a browser asking for a
    page that does not exist: the answer is a page, not JSON."""
    handler = request.scope.get("route_handler")
    if handler is not None and getattr(handler, "opt", {}).get("page"):
        return True
    if handler is None and not request.scope.get("path", "").startswith("/api/"):
        return "text/html" in request.headers.get("accept", "")
    return False


PAGE_TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Already done",
    410: "No longer available",
    422: "Please check what you entered",
    429: "Too many attempts",
    503: "Briefly unavailable",
}


def as_page(request: Request, response: Response[dict[str, Any]]) -> Response[Any]:
    """The same error, told to a person: a signed-out visitor goes to the sign-in page and
    comes back afterwards; anything else is a page in words, never JSON."""
    # Every handler here names its status; the fallback only satisfies Response's optional one.
    status = response.status_code or HTTP_500_INTERNAL_SERVER_ERROR
    if status == 401:
        target = request.scope.get("path", "/")
        if request.scope.get("query_string"):
            target += "?" + request.scope["query_string"].decode("latin-1")
        redirect: Response[Any] = Redirect(f"/login?next={quote(target, safe='')}", status_code=303)
        return redirect
    detail = response.content.get("detail", "") if isinstance(response.content, dict) else ""
    page: Response[Any] = Template(
        template_name="pages/error.html",
        context={
            "title": PAGE_TITLES.get(status, "Something went wrong"),
            "message": detail,
            "nav": (),
        },
        status_code=status,
        headers={**response.headers, "Cache-Control": "no-store"},
    )
    return page


# An error handler that answers in JSON; _page_aware makes it answer a person with a page.
JsonErrorHandler = Callable[[Request, Any], Response[dict[str, Any]]]


def _page_aware(handler: JsonErrorHandler) -> ExceptionHandler:
    def handle(request: Request, exc: Exception) -> Response[Any]:
        response = handler(request, exc)
        return as_page(request, response) if wants_page(request) else response

    return handle


_JSON_HANDLERS: dict[type[Exception], JsonErrorHandler] = {
    DomainError: on_domain_error,
    ValidationException: on_validation_error,
    ValidationError: on_pydantic_error,
    HTTPException: on_http_exception,
    DBAPIError: on_database_unavailable,
    # Every pooled connection busy for the pool's whole timeout: as unavailable as a database away.
    PoolTimeout: on_database_unavailable,
    RecursionError: on_recursion,
    Exception: on_unexpected,
}
EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    error: _page_aware(handler) for error, handler in _JSON_HANDLERS.items()
}
