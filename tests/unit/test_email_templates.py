"""Every email in the templates folder, found there rather than listed here, so an email added
later is held to the same rules: multipart, parseable, CSS inlined, table layout, nothing
fetched from elsewhere. Plus what clinician-facing emails may carry, by their content types."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any, get_type_hints

import pytest
from jinja2 import meta

from shared.email import content
from shared.email.content import DigestEmail, DigestEntry, NudgeEmail, NudgePoint, Sender
from shared.email.message import build_message, make_message_id
from shared.email.render import TEMPLATES_DIR, _env, email_names, render_digest, render_template

SENDER = Sender(display_name="Harbour", address="feedback@harbour.example", reply_to=None)


class Probe:
    """Stands in for any value a template asks for: every attribute is another probe, it
    iterates as two probes, and prints as a plain URL-safe word."""

    def __init__(self, path: str = "value") -> None:
        self._path = path

    def __getattr__(self, name: str) -> Probe:
        if name.startswith("__"):
            raise AttributeError(name)
        return Probe(f"{self._path}.{name}")

    def __str__(self) -> str:
        if self._path.endswith(("url", "link", "href")):
            return "https://attune.example.org/x"
        return "Sample"

    def __iter__(self) -> Any:
        return iter([Probe(f"{self._path}[0]"), Probe(f"{self._path}[1]")])

    def __len__(self) -> int:
        return 2

    def __bool__(self) -> bool:
        return True


def probe_context(name: str) -> dict[str, Any]:
    """Every top-level name the email's templates use, bound to a probe."""
    names: set[str] = set()
    for source_name in (f"{name}.html", f"{name}.txt", "_layout.html"):
        source = (TEMPLATES_DIR / source_name).read_text()
        names |= meta.find_undeclared_variables(_env.parse(source))
    return {variable: Probe(variable) for variable in names - {"subject"}}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def round_trip(name: str) -> tuple[EmailMessage, str, str]:
    rendered = render_template(name, "A subject", probe_context(name))
    message = build_message(
        rendered,
        sender=SENDER,
        to_address="someone@example.org",
        message_id=make_message_id(f"test:{name}", "harbour.example"),
        sent_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    parsed = BytesParser(policy=policy.default).parsebytes(message.data.replace(b"\r\n", b"\n"))
    assert isinstance(parsed, EmailMessage)
    plain = parsed.get_body(preferencelist=("plain",))
    markup = parsed.get_body(preferencelist=("html",))
    assert plain is not None and markup is not None
    return parsed, plain.get_content(), markup.get_content()


def test_the_folder_holds_the_known_emails() -> None:
    assert {"survey_invitation", "nudge", "digest"} <= set(email_names())
    # Every email is a pair: an .html without its .txt (or the reverse) is a mistake.
    stems = {p.stem for p in TEMPLATES_DIR.glob("*.*") if not p.name.startswith("_")}
    for stem in stems:
        assert (TEMPLATES_DIR / f"{stem}.html").exists(), stem
        assert (TEMPLATES_DIR / f"{stem}.txt").exists(), stem


@pytest.mark.parametrize("name", email_names())
def test_every_email_is_multipart_text_then_html(name: str) -> None:
    message, plain, markup = round_trip(name)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert plain.strip() and "<" not in re.sub(r"<https?://[^>]+>", "", plain)
    assert markup.lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("name", email_names())
def test_every_email_has_its_css_inlined_and_fetches_nothing(name: str) -> None:
    _, _, markup = round_trip(name)
    parser = Tags()
    parser.feed(markup)
    parser.close()
    tags = parser.tags
    lowered = markup.lower()

    for forbidden in ("<style", "<link", "<img", "<script", "<iframe", "@import", "url(", "@font"):
        assert forbidden not in lowered, forbidden
    assert not any("src" in attrs for _, attrs in tags)
    # Every class the layout's stylesheet knows became inline style on its element.
    styled = [attrs for _, attrs in tags if attrs.get("class")]
    assert styled
    assert all(attrs.get("style") for attrs in styled)
    # Layout by tables, each marked as presentation for screen readers.
    tables = [attrs for tag, attrs in tags if tag == "table"]
    assert len(tables) >= 3
    assert all(attrs.get("role") == "presentation" for attrs in tables)
    assert ("html", {"lang": "en"}) in tags
    assert "max-width:560px" in markup.replace(" ", "")
    # Links only to the web, never javascript: or a relative path.
    hrefs = [attrs["href"] for tag, attrs in tags if tag == "a"]
    assert hrefs and all(str(href).startswith("https://") for href in hrefs)


def _field_names(kind: type) -> set[str]:
    """Field names of a content type and of every content type it contains."""
    names: set[str] = set()
    hints = get_type_hints(kind, vars(content))
    for field in fields(kind):
        names.add(field.name)
        for inner in re.findall(r"\w+", str(hints[field.name])):
            candidate = getattr(content, inner, None)
            if isinstance(candidate, type) and is_dataclass(candidate) and candidate is not kind:
                names |= _field_names(candidate)
    return names


@pytest.mark.parametrize("kind", [NudgeEmail, DigestEmail])
def test_clinician_emails_have_no_field_for_clinical_detail_or_identity(kind: type) -> None:
    names = _field_names(kind)
    forbidden = ("score", "rating", "mean", "comment", "diagnos", "client_name", "client_email")
    assert "client_reference" in names or "entries" in names
    assert not [name for name in names if any(word in name for word in forbidden)]


@pytest.mark.parametrize(("name", "kind"), [("nudge", NudgeEmail), ("digest", DigestEmail)])
def test_clinician_templates_use_only_their_content_fields(name: str, kind: type) -> None:
    allowed = _field_names(kind) | {"display_name"}
    for suffix in ("html", "txt"):
        source = (TEMPLATES_DIR / f"{name}.{suffix}").read_text()
        used = set(re.findall(r"\b(?:email|entry|point)\.([a-z_]+)", source))
        assert used and used <= allowed, used - allowed


def make_digest(**changes: Any) -> DigestEmail:
    point = NudgePoint("Slow the pace", "The pace was rated lower than usual.", "Check in.")
    entries = tuple(
        DigestEntry(
            client_reference=reference,
            appointment_time=when,
            points=(point,),
            alert_url=f"https://attune.example.org/api/v1/alerts/{reference}",
        )
        for reference, when in (("RC-1", "Wed 11 Mar, 10:00 (America/Chicago)"), ("RC-2", "15:00"))
    )
    values: dict[str, Any] = {
        "to_address": "dana@harbour.example",
        "sender": SENDER,
        "subject": "Before your next session: Wed 11 Mar",
        "clinician_name": "Dana",
        "day": "Wednesday 11 March",
        "entries": entries,
        "dashboard_url": "https://attune.example.org/api/v1/alerts?status=open",
        **changes,
    }
    return DigestEmail(**values)


def test_digest_lists_each_appointment_with_its_moves_and_link() -> None:
    rendered = render_digest(make_digest())
    for part in (rendered.text, rendered.html):
        assert part.index("RC-1") < part.index("RC-2")
        assert "Wednesday 11 March" in part
        assert "Validate first." in part
    assert rendered.text.count("The pace was rated lower than usual.") == 2
    assert "https://attune.example.org/api/v1/alerts/RC-2" in rendered.html


def test_digest_refuses_an_empty_day_and_unsafe_links() -> None:
    with pytest.raises(ValueError):
        render_digest(make_digest(entries=()))
    with pytest.raises(ValueError):
        render_digest(make_digest(dashboard_url="javascript:alert(1)"))
