"""What the onboarding pages share: reading a posted form, the time zone choices, moments in
a reader's time zone, and the fixed notices a redirect may name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from litestar.enums import RequestEncodingType
from litestar.params import Body

FORM = Body(media_type=RequestEncodingType.URL_ENCODED)


@cache
def time_zones() -> tuple[str, ...]:
    """Every zone a person may pick, listed once per process (the listing walks a tree)."""
    return tuple(sorted(available_timezones() | {"UTC"}))


def text(data: dict[str, Any], name: str, limit: int = 500) -> str:
    """One posted field as text, cut to a sane length (the body model says what is valid)."""
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)[:limit]


def moments(zone_name: str) -> Callable[[datetime | None], str]:
    """A formatter for the templates: a moment as the reader's wall-clock time."""
    zone = ZoneInfo(zone_name)

    def when(moment: datetime | None) -> str:
        if moment is None:
            return ""
        local = moment.astimezone(zone)
        return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"

    return when


def notice_of(key: str | None, notices: dict[str, str]) -> str | None:
    """A redirect names its notice by key: the page shows only words it wrote itself."""
    return notices.get(key or "")
