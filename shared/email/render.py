"""Turns an email's content into its subject, plain text, HTML and extra headers.

Templates live next to this module; the only values they see are the content dataclasses, so
what an email can say is decided by those types, not by the templates. Each email is a pair,
<name>.txt and <name>.html; files starting with "_" are shared parts. The HTML's styles are
written once in _layout.html's <style> block and inlined into every element here, since many
mail clients drop <style> blocks.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from shared.email.content import (
    AccountLinkEmail,
    DigestEmail,
    NudgeEmail,
    RenderedEmail,
    SurveyInvitationEmail,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    # HTML escapes every value (a practice may be called "A & B <Clinic>"); plain text must not.
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    # A misspelt field should fail a test, not send an email with a hole in it.
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    # Templates ship with the code and never change under a running process.
    auto_reload=False,
)

# Never fetch a stylesheet named in a template: an email renders from what it carries.
_inliner = css_inline.CSSInliner(
    keep_style_tags=False, keep_link_tags=False, load_remote_stylesheets=False
)

# Characters that would break a URL out of an href attribute, a line of plain text, or the
# angle brackets of a List-Unsubscribe header.
_URL_FORBIDDEN = frozenset(" \t\r\n<>\"'`\\")
# An absolute http(s) URL of printable ASCII without those characters or brackets (which
# urlsplit reads as an IPv6 host), with a host: every link Attune makes.
_PLAINLY_SAFE_URL = re.compile(r"(?i:https?)://[!$-&(-.0-;=@-Z^_a-z{-~][!#-&(-;=?-Z^_a-z{-~]*")


def render_survey_invitation(email: SurveyInvitationEmail) -> RenderedEmail:
    if not email.choices:
        raise ValueError("a survey invitation needs the first question's choices")
    _check_urls(
        [choice.url for choice in email.choices] + [email.survey_url, email.unsubscribe_url]
    )
    rendered = _render_survey(email)
    return RenderedEmail(
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        # RFC 8058: mail providers show their own unsubscribe button and POST to this URL.
        headers={
            "List-Unsubscribe": f"<{email.unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )


def render_nudge(email: NudgeEmail) -> RenderedEmail:
    if not email.points:
        raise ValueError("a nudge needs at least one suggested move")
    _check_urls([email.alert_url, email.dashboard_url])
    return _render("nudge", email)


def render_digest(email: DigestEmail) -> RenderedEmail:
    if not email.entries or any(not entry.points for entry in email.entries):
        raise ValueError("a digest needs at least one appointment, each with a suggested move")
    _check_urls([entry.alert_url for entry in email.entries] + [email.dashboard_url])
    return _render("digest", email)


def render_account_link(email: AccountLinkEmail, template: str) -> RenderedEmail:
    """`template` is "password_reset" or "clinician_invitation"."""
    _check_urls([email.action_url])
    return _render(template, email)


def email_names() -> list[str]:
    """Every email the templates folder holds (each a .txt and .html pair)."""
    return sorted(
        path.stem
        for path in TEMPLATES_DIR.glob("*.html")
        if not path.name.startswith("_") and path.with_suffix(".txt").exists()
    )


def render_template(name: str, subject: str, context: dict[str, Any]) -> RenderedEmail:
    """Render one email's pair of templates, with its CSS inlined into the HTML."""
    # Subjects are chosen by the practice; a line break there would end up as a header break.
    subject = " ".join(subject.split())
    context = {**context, "subject": subject}
    return RenderedEmail(
        subject=subject,
        text=_env.get_template(f"{name}.txt").render(context),
        # The inliner re-serializes the document and drops the final line break, which a
        # MIME part would add back (the round trip would then not be exact).
        html=_inliner.inline(_env.get_template(f"{name}.html").render(context)).rstrip("\n") + "\n",
    )


def _render(
    name: str, email: SurveyInvitationEmail | NudgeEmail | DigestEmail | AccountLinkEmail
) -> RenderedEmail:
    return render_template(name, email.subject, {"email": email})


# A survey email differs from the next one of the same practice and settings only in its links
# (their tokens), its closing day and its address. So it is rendered and inlined once with a
# slot in place of each (Jinja and the inliner were most of its rendering), and each email
# fills the slots: the same text as a full render whenever the values are ones that escaping
# and the inliner's serializing leave as they are (printable ASCII without & < > " '), and a
# full render otherwise. The cache holds only what the practice's settings say, never a
# recipient's values; bounded as the parsed settings are.
_SLOT = f"slot{secrets.token_hex(6)}n"
_SLOT_NUMBER = re.compile(rf"{_SLOT}(\d+)x")
_FILLABLE = re.compile(r"[\x20-\x7e]*")
_UNFILLABLE = frozenset("&<>\"'")
_PIECES_CACHE_SIZE = 1024
# Per template and skeleton: the text and the HTML, each as its literal runs between slots.
_survey_pieces: dict[SurveyInvitationEmail, tuple[list[str | int], list[str | int]]] = {}


def _render_survey(email: SurveyInvitationEmail) -> RenderedEmail:
    own = [
        email.to_address,
        email.survey_url,
        email.unsubscribe_url,
        email.expires_on,
        *(choice.url for choice in email.choices),
    ]
    if not all(_FILLABLE.fullmatch(value) and _UNFILLABLE.isdisjoint(value) for value in own):
        return _render("survey_invitation", email)
    slots = [f"{_SLOT}{number}x" for number in range(len(own))]
    skeleton = replace(
        email,
        to_address=slots[0],
        survey_url=slots[1],
        unsubscribe_url=slots[2],
        expires_on=slots[3],
        choices=tuple(
            replace(choice, url=slot) for choice, slot in zip(email.choices, slots[4:], strict=True)
        ),
    )
    pieces = _survey_pieces.get(skeleton)
    if pieces is None:
        if len(_survey_pieces) >= _PIECES_CACHE_SIZE:
            _survey_pieces.clear()
        rendered = _render("survey_invitation", skeleton)
        pieces = _survey_pieces[skeleton] = (_pieces(rendered.text), _pieces(rendered.html))
    text, html = pieces
    return RenderedEmail(
        subject=" ".join(email.subject.split()), text=_fill(text, own), html=_fill(html, own)
    )


def _pieces(rendered: str) -> list[str | int]:
    """The literal runs of a rendered skeleton, and between them the numbers of its slots."""
    return [
        int(piece) if odd else piece
        for odd, piece in zip(itertools.cycle((False, True)), _SLOT_NUMBER.split(rendered))
    ]


def _fill(pieces: list[str | int], values: list[str]) -> str:
    return "".join(values[piece] if isinstance(piece, int) else piece for piece in pieces)


def _check_urls(urls: Iterable[str]) -> None:
    # Links are built by our own code, so a bad one is a bug upstream: refuse to send it
    # rather than mail a client a javascript: link or a header that splits in two. The URL
    # stays out of the message because it carries a token, and tokens are never logged.
    for url in urls:
        if _PLAINLY_SAFE_URL.fullmatch(url):
            continue  # passes the checks below, found in one step (23 -> 2 us per survey email)
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("email links must be absolute http(s) URLs")
        if not url.isascii() or not _URL_FORBIDDEN.isdisjoint(url):
            raise ValueError("an email link contains characters that need percent-encoding")
