"""Cursor pagination, once, for every list.

A page is at most `size` rows in a fixed order that ends in a unique column, so every row has
one place. The cursor is the last row's sort values, opaque to the caller (base64url JSON);
the next page starts strictly after it (keyset pagination), so rows added or removed between
requests never shift a page, and a deep page costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from sqlalchemy import DateTime, Integer, String, Uuid, and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar
from sqlmodel.sql.sqltypes import AutoString

from shared.db.types import UtcDateTime
from shared.errors import Invalid

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class PageRequest:
    size: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this is the last page


@dataclass(frozen=True)
class Order:
    """One sort key: a mapped column (e.g. col(Alert.created_at)) and its direction."""

    column: Any
    descending: bool = False


def paginate(
    session: Session,
    query: SelectOfScalar[T],
    page: PageRequest,
    order: Sequence[Order],
) -> Page[T]:
    """One page of `query` in `order` (whose last key must be unique), after `page.cursor`."""
    if not 1 <= page.size <= MAX_PAGE_SIZE:
        raise Invalid(f"page_size must be 1 to {MAX_PAGE_SIZE}.", field="page_size")
    if page.cursor is not None:
        query = query.where(_after(order, _decode(page.cursor, order)))
    query = query.order_by(*(o.column.desc() if o.descending else o.column for o in order))
    rows = list(session.exec(query.limit(page.size + 1)).all())
    if len(rows) <= page.size:
        return Page(rows, None)
    items = rows[: page.size]
    last = items[-1]
    return Page(items, _encode([getattr(last, o.column.key) for o in order]))


def every(fetch: Callable[[PageRequest], Page[T]]) -> list[T]:
    """Every item, a page at a time: for a page that shows a whole list a person reads through
    (a practice's clinicians, its API keys, a client's alerts), through the same paged query
    the JSON list uses."""
    items: list[T] = []
    request = PageRequest(size=MAX_PAGE_SIZE)
    while True:
        found = fetch(request)
        items.extend(found.items)
        if found.next_cursor is None:
            return items
        request = PageRequest(size=MAX_PAGE_SIZE, cursor=found.next_cursor)


def _after(order: Sequence[Order], values: list[Any]) -> ColumnElement[bool]:
    # (a, b, c) after (x, y, z), each in its own direction: a beyond x, or a = x and b beyond
    # y, or a = x and b = y and c beyond z.
    alternatives = []
    for index, key in enumerate(order):
        beyond = key.column < values[index] if key.descending else key.column > values[index]
        equal_before = [order[i].column == values[i] for i in range(index)]
        alternatives.append(and_(*equal_before, beyond))
    return or_(*alternatives)


def _encode(values: list[Any]) -> str:
    plain = [
        v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, UUID) else v
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, order: Sequence[Order]) -> list[Any]:
    wrong = Invalid(
        "The cursor is not one this list gave out: pass next_cursor from the previous page "
        "unchanged, or leave it out to start at the first page.",
        field="cursor",
    )
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise wrong from None
    if not isinstance(plain, list) or len(plain) != len(order):
        raise wrong
    try:
        return [_typed(value, key) for value, key in zip(plain, order, strict=True)]
    except (TypeError, ValueError, OverflowError):
        raise wrong from None


def _kind(column_type: Any) -> type:
    if isinstance(column_type, UtcDateTime | DateTime):
        return datetime
    if isinstance(column_type, Uuid):
        return UUID
    if isinstance(column_type, Integer):
        return int
    if isinstance(column_type, String | AutoString):
        return str
    raise NotImplementedError(f"no cursor for a {column_type!r} column")


def _typed(value: Any, key: Order) -> Any:
    """The cursor's value as the column's own type, so a forged cursor can only be refused,
    never compared against a column of another type."""
    kind = _kind(key.column.type)
    if kind is datetime:
        if not isinstance(value, str):
            raise TypeError
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return moment
    if kind is UUID:
        return UUID(str(value))
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise TypeError
