"""A browser's side of the pages over plain HTTP: the session and CSRF cookies kept by hand
(they are Secure, which httpx will not send over the test server's http://), and the form's
anti-forgery field filled in the way the page's own hidden input would."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

CSRF_FIELD = "_csrf_token"


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


def signed_in(http: httpx.Client, email: str, password: str) -> PageSession:
    return PageSession(http).sign_in(email, password)


def field_error(page: str, field: str) -> str | None:
    """The message shown next to a field (the _field_error partial's paragraph), if any."""
    found = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else None
