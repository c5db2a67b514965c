"""The links in a client's emails, as the paths a test follows or posts to."""

from __future__ import annotations

import re
from email.message import EmailMessage

from tests.support.loop import body, links

BASE = "http://attune.test"  # the base URL of the tests' settings


def path_of(url: str, base_url: str = BASE) -> str:
    assert url.startswith(base_url), url
    return url.removeprefix(base_url)


def survey_path(message: EmailMessage, base_url: str = BASE) -> str:
    """The survey's own link (not its one-click answers, which carry a query)."""
    return path_of(next(u for u in links(message) if "/s/" in u and "?" not in u), base_url)


def unsubscribe_path(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    return path_of(header.strip("<>"))


def every_url(message: EmailMessage) -> list[str]:
    """Each URL a scanner could find: HTML links, plain-text links, List-Unsubscribe."""
    found = set(links(message))
    found |= set(re.findall(r"https?://\S+", body(message, "plain")))
    found |= set(re.findall(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"])))
    return sorted(url.replace("&amp;", "&") for url in found)
