"""Refuse text with the NUL character before any route sees it.

PostgreSQL cannot store U+0000 in a text or JSONB column (the insert fails after the request
was accepted), and SQLite would store it; no name, wording or comment needs it. Refusing it
at the door gives the same clear 400 on both databases, for every route present and future.

It wraps the whole application, so it checks the path, the query string and JSON or form
bodies (the body is read whole first; Litestar reads it whole anyway).
"""

from __future__ import annotations

import json
import re

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Receive,
    ReceiveMessage,
    Scope,
    Send,
)

DETAIL = "Text may not contain the NUL character (\\u0000 or %00); remove it and send again."
_CHECKED_BODIES = (b"application/json", b"application/x-www-form-urlencoded", b"text/")
# A JSON escape \u0000 counts only when its backslash is not itself escaped ("\\u0000" is
# the six characters \u0000 as text).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_PERCENT_NUL = b"%00"
# Litestar's own limit on a request body (request_max_body_size).
MAX_CHECKED_BODY = 10_000_000


def _carries_nul(raw: bytes, content_type: bytes) -> bool:
    if b"\x00" in raw:
        return True
    if content_type.startswith(b"application/x-www-form-urlencoded"):
        return _PERCENT_NUL in raw
    return _JSON_NUL.search(raw) is not None


async def _refuse(send: Send) -> None:
    body = json.dumps({"status_code": 400, "detail": DETAIL}).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 400,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    whole: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(whole)


def refuse_nul_text(inner: ASGIApp) -> ASGIApp:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await inner(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or _PERCENT_NUL in scope.get("query_string", b""):
            await _refuse(send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").lower()
        if scope["method"] in {"GET", "HEAD", "OPTIONS"} or not content_type.startswith(
            _CHECKED_BODIES
        ):
            await inner(scope, receive, send)
            return
        read: list[ReceiveMessage] = []
        size = 0
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
            size += len(message.get("body", b""))
            if size > MAX_CHECKED_BODY:
                # Past what Litestar accepts at all: let it refuse the size (413).
                await inner(scope, _replay(read, then=receive), send)
                return
        raw = b"".join(m.get("body", b"") for m in read if m["type"] == "http.request")
        if _carries_nul(raw, content_type):
            await _refuse(send)
            return
        await inner(scope, _replay(read, then=receive), send)

    return handler


def _replay(messages: list[ReceiveMessage], *, then: Receive) -> Receive:
    """What was read already, then the server's own messages (e.g. a disconnect)."""
    pending = list(messages)

    async def receive() -> ReceiveMessage:
        if pending:
            return pending.pop(0)
        return await then()

    return receive
