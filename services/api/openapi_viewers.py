"""The API documentation pages at /schema, served entirely by Attune.

Litestar's own viewers load their scripts, styles, fonts and favicon from CDNs, so in a
clinic network that reaches no CDN the documentation is a blank page; and they start the
viewer from an inline script holding the whole schema, which a Content-Security-Policy can
only allow by allowing every inline script. These pages load the viewers vendored under
static/docs (see its README) and point them at /schema/openapi.json, so the policy for
/schema allows scripts from Attune alone."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

DOCS_STATIC = "/static/docs"
# An empty icon: without one the browser asks for /favicon.ico, and Litestar's default
# icon lives on a CDN.
NO_FAVICON = '<link rel="icon" href="data:,">'


def _page(title: str, head: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{NO_FAVICON}\n{head}\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    ).encode()


class SwaggerViewer(OpenAPIRenderPlugin):
    """Swagger UI: every operation with its parameters and examples, and "Try it out" with
    an API key or a bearer token."""

    def __init__(self, *, path: str | list[str] = "/swagger") -> None:
        super().__init__(path=path)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        spec = escape(self.get_openapi_json_route(request), quote=True)
        return _page(
            f"{openapi_schema['info']['title']} API",
            f'<link rel="stylesheet" href="{DOCS_STATIC}/swagger-ui/swagger-ui.css">\n'
            f'<script src="{DOCS_STATIC}/swagger-ui/swagger-ui-bundle.js" defer></script>\n'
            f'<script src="{DOCS_STATIC}/swagger-init.js" defer></script>',
            f'<div id="swagger-ui" data-spec="{spec}"></div>',
        )


class RedocViewer(OpenAPIRenderPlugin):
    """Redoc: the same schema as one long, readable reference page."""

    def __init__(self, *, path: str | list[str] = "/redoc") -> None:
        super().__init__(path=path)

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        spec = escape(self.get_openapi_json_route(request), quote=True)
        # redoc.standalone.js starts itself on a <redoc spec-url> element: no inline script.
        return _page(
            f"{openapi_schema['info']['title']} API reference",
            f'<script src="{DOCS_STATIC}/redoc/redoc.standalone.js" defer></script>',
            f'<redoc spec-url="{spec}"></redoc>',
        )


def viewers() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at /schema and /schema/swagger, Redoc at /schema/redoc; the schema itself
    is at /schema/openapi.json."""
    return [SwaggerViewer(path=["/", "/swagger"]), RedocViewer()]
