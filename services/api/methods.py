"""OPTIONS and HEAD, answered the same way for every route, present and future.

These wrap the whole application (outside Litestar's routing and guards), so a route added
later needs nothing to get them:

- OPTIONS (what a browser's preflight sends, without credentials) is answered 204 with the
  route's methods in `Allow`, before authentication and guards run: it reveals nothing a
  404/405 would not, and a guard that reads the signed-in user has no user to read.
- HEAD on a route that only has a GET runs the GET and sends its status and headers without
  the body. A GET never changes anything here (mail scanners follow every link), so neither
  does a HEAD.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Message,
    Receive,
    Scope,
    Send,
)
from litestar.utils.path import normalize_path

if TYPE_CHECKING:
    from litestar import Litestar

# A method no route has: routing it makes the router name the methods the path does have.
_PROBE = "ATTUNE-PROBE"


def routed_methods(app: Litestar, path: str) -> set[str] | None:
    """The methods the routes of a path have, or None if no route has the path."""
    try:
        app.asgi_router.handle_routing(path=normalize_path(path), method=_PROBE)
    except MethodNotAllowedException as not_allowed:
        named = (not_allowed.headers or {}).get("allow", "")
        methods = {m.strip().upper() for m in named.split(",") if m.strip()}
    except NotFoundException:
        return None
    except Exception:
        # Anything else the router refuses (a malformed path): let the app answer it.
        return None
    else:  # pragma: no cover - no route takes the probe method
        return None
    return methods


def options_and_head(app: Litestar, inner: ASGIApp) -> ASGIApp:
    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in {"OPTIONS", "HEAD"}:
            await inner(scope, receive, send)
            return
        methods = routed_methods(app, scope["path"])
        if methods is None or (
            scope["method"] == "HEAD" and ("HEAD" in methods or "GET" not in methods)
        ):
            await inner(scope, receive, send)  # the app's own answer (404, 405, a HEAD route)
            return
        if scope["method"] == "OPTIONS":
            allow = methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())
            start: HTTPResponseStartEvent = {
                "type": "http.response.start",
                "status": 204,
                "headers": [(b"allow", ", ".join(sorted(allow)).encode())],
            }
            await send(start)
            empty: HTTPResponseBodyEvent = {
                "type": "http.response.body",
                "body": b"",
                "more_body": False,
            }
            await send(empty)
            return
        # HEAD: the GET's answer without its body. The GET runs on a copy of the scope, so
        # the server still knows it answers a HEAD.
        as_get: HTTPScope = {**scope, "method": "GET"}

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await inner(as_get, receive, without_body)
        finally:
            if "path_template" in as_get:
                scope["path_template"] = as_get["path_template"]

    return handler
