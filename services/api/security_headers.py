"""Headers a browser needs to keep a health-care app's pages and data to itself."""

from __future__ import annotations

from collections.abc import Callable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

BASE_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # Links out of Attune never carry a path (which may hold a token) to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
# Pages are server-rendered without JavaScript, styled by Attune's stylesheets alone (no
# <style> element or style attribute in a template: tests/integration/test_link_pages.py).
PAGE_POLICY = (
    b"default-src 'none'; style-src 'self'; img-src 'self' data:; "
    b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The demo's mail sink (/dev/mail, never in production) shows each email's HTML in a
# sandboxed srcdoc frame, which inherits its page's policy: an email carries its styles
# inline, as mail clients need.
DEV_MAIL_POLICY = PAGE_POLICY.replace(b"style-src 'self'", b"style-src 'self' 'unsafe-inline'")
# The documentation viewers at /schema are scripts, served by Attune (services/api/
# openapi_viewers.py): scripts from Attune only, never inline; they fetch the schema and,
# in Swagger UI's "Try it out", call the API on the same origin. Both viewers set inline
# styles and draw icons from data: URLs; Redoc's search runs in a worker it makes from a
# blob. Nothing else (no fonts, no other host: Redoc's CDN logo is refused).
DOCS_POLICY = (
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; worker-src blob:; "
    b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


def security_headers(*, https: bool) -> Callable[[ASGIApp], ASGIApp]:
    def middleware_factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            path = scope.get("path", "")
            policy = (
                DOCS_POLICY
                if path.startswith("/schema")
                else DEV_MAIL_POLICY
                if path.startswith("/dev/mail")
                else PAGE_POLICY
            )

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    present = {name.lower() for name, _ in headers}
                    extra = [*BASE_HEADERS, (b"content-security-policy", policy)]
                    if https:
                        extra.append(HSTS)
                    if path.startswith("/api/"):
                        # Client data must not linger in a shared browser's or proxy's cache.
                        extra.append((b"cache-control", b"no-store"))
                    headers += [(n, v) for n, v in extra if n not in present]
                    message["headers"] = headers
                await send(message)

            await app(scope, receive, send_with_headers)

        return middleware

    return middleware_factory
