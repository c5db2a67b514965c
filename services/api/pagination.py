"""Paged list answers: every list route takes `cursor` and `page_size` and answers with a JSON
array of at most `page_size` items (100 unless asked), in a fixed order. When there is more,
the answer carries the next page's cursor twice: in `X-Next-Cursor`, and as a
`Link: <...>; rel="next"` header (RFC 8288) holding the same request with that cursor. No
such header means the last page. The cursor is opaque; a cursor that was not given out is a
422 naming `cursor`.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.params import Parameter

from shared.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest

NEXT_CURSOR_HEADER = "X-Next-Cursor"
PAGE_HEADERS = [
    ResponseHeader(
        name=NEXT_CURSOR_HEADER,
        description="The cursor of the next page; absent on the last page. Pass it back as "
        "`cursor` to get the next page.",
        documentation_only=True,
        required=False,
    ),
    ResponseHeader(
        name="Link",
        description='`<the same request with the next cursor>; rel="next"`; absent on the last '
        "page.",
        documentation_only=True,
        required=False,
    ),
]


def provide_page(
    cursor: Annotated[
        str | None,
        Parameter(
            description="The X-Next-Cursor of the previous page; leave out for the first.",
            max_length=512,
        ),
    ] = None,
    page_size: Annotated[
        int,
        Parameter(
            ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (default {DEFAULT_PAGE_SIZE})."
        ),
    ] = DEFAULT_PAGE_SIZE,
) -> PageRequest:
    return PageRequest(size=page_size, cursor=cursor)


def paged(request: Request, page: Page[Any], items: list[Any]) -> Response[list[Any]]:
    headers: dict[str, str] = {}
    if page.next_cursor is not None:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
        query.append(("cursor", page.next_cursor))
        headers[NEXT_CURSOR_HEADER] = page.next_cursor
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return Response(items, headers=headers)
