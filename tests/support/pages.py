"""A browser's side of the pages without a browser: cookies from a real sign-in, and form
posts that carry the hidden anti-forgery field as a page's form does."""

from __future__ import annotations

from typing import Any

import httpx

CSRF_FIELD = "_csrf_token"


class SignedIn:
    """An httpx client holding the session and CSRF cookies a sign-in sets."""

    def __init__(self, base_url: str, email: str, password: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        signed = self.http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert signed.status_code == 200, signed.text
        self.csrf = signed.json()["csrf_token"]
        # Set by hand: the cookies are Secure, and this client talks plain HTTP on loopback.
        self.http.cookies.set("attune_session", signed.json()["token"])
        self.http.cookies.set("attune_csrf", self.csrf)

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
