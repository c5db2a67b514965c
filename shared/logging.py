"""Structured JSON logs. Callers log ids and outcomes, never an email address, a name or a
comment: those stay in the database.

One request id follows a piece of work: the API binds it for a request (X-Request-Id or a new
one), the outbox stores it with every event emitted while it is bound, the relay puts it on the
broker message, the worker binds it again while handling that message, and the scheduler binds
the one stored on the due work it picks up (a nudge). So `grep <id>` over every process's logs
shows an answer's whole path, up to the email that carries its nudge.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

REQUEST_ID = "request_id"
MAX_REQUEST_ID = 64
# A supplied id is written to logs and the database as is, so only plain tokens are taken.
_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:-]{{8,{MAX_REQUEST_ID}}}")


def valid_request_id(value: object) -> str | None:
    return value if isinstance(value, str) and _REQUEST_ID.fullmatch(value) else None


def request_id_for(supplied: str | None) -> str:
    """The caller's id when it is a plain token of 8 to 64 characters, else a new one."""
    return valid_request_id(supplied) or uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the work at hand: what `emit` stores with an event and the relay sends on."""
    return valid_request_id(structlog.contextvars.get_contextvars().get(REQUEST_ID))


@contextmanager
def following(request_id: str | None) -> Iterator[None]:
    """Every log line inside, and every event emitted, carries this id; None carries none
    (rather than the id of whatever work surrounds this)."""
    previous = structlog.contextvars.get_contextvars().get(REQUEST_ID)
    bind_request_id(request_id)
    try:
        yield
    finally:
        bind_request_id(previous)


def bind_request_id(request_id: str | None) -> None:
    """For hooks that cannot wrap the work in `following` (a broker middleware)."""
    structlog.contextvars.unbind_contextvars(REQUEST_ID)
    if valid := valid_request_id(request_id):
        structlog.contextvars.bind_contextvars(**{REQUEST_ID: valid})


_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """structlog and the standard library (uvicorn, dramatiq, alembic) both write JSON lines."""
    stream = stream or sys.stdout
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*_SHARED, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # These log envelope addresses (aiosmtpd, the embedded sink), full URLs, which can
    # carry survey tokens (httpx), or every statement with its parameters: answers and
    # comments (aiosqlite, the embedded mode's async driver), below WARNING.
    for noisy in ("mail.log", "httpx", "httpcore", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
