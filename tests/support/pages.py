"""Use the pages over plain HTTP as a browser would: a cookie session, form posts carrying
the hidden anti-forgery field as a page's form does, and a page's form read back field by
field (what is checked, typed and selected) to post it again."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import httpx

from services.api.auth import CSRF_COOKIE, SESSION_COOKIE
from tests.support.signing_in import log_in


def signed_in(base_url: str, email: str, password: str) -> httpx.Client:
    """A client holding the cookies a sign-in sets. They are Secure, so a plain-HTTP test
    server's client would not send them back by itself: they are set by hand here."""
    with httpx.Client(base_url=base_url, timeout=30) as plain:
        response = log_in(plain, email, password)
        assert response.status_code == 200, response.text
    body = response.json()
    client = httpx.Client(base_url=base_url, timeout=30)
    client.cookies.set(SESSION_COOKIE, body["token"])
    client.cookies.set(CSRF_COOKIE, body["csrf_token"])
    return client


CSRF_FIELD = "_csrf_token"


class SignedIn:
    """A signed-in client (signed_in()) that posts forms with the page's CSRF field."""

    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.http = signed_in(base_url, email, password)
        self.http.follow_redirects = False
        self.csrf = self.http.cookies[CSRF_COOKIE]

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params or None)

    def post_form(self, path: str, form: dict[str, str], *, csrf: bool = True) -> httpx.Response:
        data = dict(form, **({CSRF_FIELD: self.csrf} if csrf else {}))
        return self.http.post(path, data=data)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SignedIn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Form(HTMLParser):
    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._options: list[str] = []
        self._chosen = False
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form" and found.get("action") == self.action:
            self.inside = True
        if not self.inside:
            return
        name = found.get("name")
        if tag == "input" and name:
            kind = found.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in found:
                return
            if kind not in ("submit", "button"):
                self.fields.append((name, found.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._options, self._chosen = name, [], False
        elif tag == "option" and self._select:
            self._options.append(found.get("value", ""))
            if "selected" in found:
                self._chosen = True
                self.fields.append((self._select, found.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            if not self._chosen and self._options:
                # Nothing marked selected: a browser sends the first option.
                self.fields.append((self._select, self._options[0]))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text))
            self._textarea = None


def form_fields(html: str, action: str) -> list[tuple[str, str]]:
    """The (name, value) pairs the form posting to `action` would send as it stands (without
    its submit buttons): the page's own hidden CSRF field included."""
    parser = _Form(action)
    parser.feed(html)
    assert parser.fields, f"no form posting to {action}"
    return parser.fields


def replaced(fields: list[tuple[str, str]], **changes: str) -> list[tuple[str, str]]:
    """The same fields with some values changed (a name with dots is written with __)."""
    wanted = {name.replace("__", "."): value for name, value in changes.items()}
    out = [(name, wanted.get(name, value)) for name, value in fields]
    missing = set(wanted) - {name for name, _ in fields}
    assert not missing, f"no such fields: {missing}"
    return out


class PageSession:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.cookies: dict[str, str] = {}

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if value and "max-age=0" not in header.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return response

    def _cookie_header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._keep(
            self.http.get(path, headers=self._cookie_header(), follow_redirects=False, **kwargs)
        )

    def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True
    ) -> httpx.Response:
        """Post a form as the page would; csrf=False leaves out the anti-forgery field, as a
        form on another site would have to."""
        if "attune_csrf" not in self.cookies:
            self.get("/login")
        form = dict(data or {})
        if csrf:
            form[CSRF_FIELD] = self.cookies["attune_csrf"]
        return self._keep(
            self.http.post(path, data=form, headers=self._cookie_header(), follow_redirects=False)
        )

    def sign_in(self, email: str, password: str) -> PageSession:
        done = self.post("/login", {"email": email, "password": password})
        assert done.status_code == 303, done.text
        return self


def page_session(http: httpx.Client, email: str, password: str) -> PageSession:
    """Signed in through the sign-in page's own form, cookies kept as a browser keeps them."""
    return PageSession(http).sign_in(email, password)


def field_error(page: str, field: str) -> str | None:
    """The message shown next to a field (the _field_error partial's paragraph), if any."""
    found = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else None
