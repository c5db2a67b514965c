"""Every list route pages with a cursor (shared/pagination.py, services/api/pagination.py)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.test_bad_input import problem
from tests.support.practice import PracticeFixture

LIST_ROUTES = [
    "/api/v1/clients",
    "/api/v1/alerts",
    "/api/v1/audit-events",
    "/api/v1/notifications",
    "/api/v1/api-keys",
    "/api/v1/clinicians",
]


def add_clients(practice: PracticeFixture, count: int) -> None:
    for number in range(count):
        added = practice.http.post(
            "/api/v1/clients",
            json={
                "email": f"client{number}@harbour.example.com",
                "reference": f"RC-{2000 + number}",
                "timezone": "Europe/London",
                "clinician_id": practice.clinician["id"],
            },
            headers=practice.as_owner(),
        )
        assert added.status_code == 201, added.text


def every_page(
    http: httpx.Client, path: str, headers: dict[str, str], **params: Any
) -> list[list[dict[str, Any]]]:
    pages = []
    response = http.get(path, params=params, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        if "x-next-cursor" not in response.headers:
            assert "link" not in response.headers
            return pages
        link = response.headers["link"]
        assert link.endswith('>; rel="next"') and response.headers["x-next-cursor"] in link
        # Following the Link is the same as passing the cursor.
        response = http.get(link[1 : link.index(">")], headers=headers)


def test_clients_come_in_pages_of_the_size_asked_each_once_in_order(
    practice: PracticeFixture,
) -> None:
    add_clients(practice, 7)
    http, owner = practice.http, practice.as_owner()
    whole = http.get("/api/v1/clients", headers=owner)
    assert "x-next-cursor" not in whole.headers  # 8 clients fit the default page of 100
    everyone = whole.json()
    assert len(everyone) == 8
    pages = every_page(http, "/api/v1/clients", owner, page_size=3)
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [c["id"] for page in pages for c in page] == [c["id"] for c in everyone]
    assert [c["reference"] for c in everyone] == sorted(c["reference"] for c in everyone)


def test_a_row_added_between_pages_shifts_nothing(practice: PracticeFixture) -> None:
    add_clients(practice, 4)
    http, owner = practice.http, practice.as_owner()
    first = http.get("/api/v1/clients", params={"page_size": 2}, headers=owner)
    seen = [c["reference"] for c in first.json()]
    add_clients(practice, 0)
    http.post(
        "/api/v1/clients",
        json={
            "email": "early@harbour.example.com",
            "reference": "AA-0001",  # sorts before every page already seen
            "timezone": "UTC",
            "clinician_id": practice.clinician["id"],
        },
        headers=owner,
    )
    rest = http.get(
        "/api/v1/clients",
        params={"page_size": 100, "cursor": first.headers["x-next-cursor"]},
        headers=owner,
    ).json()
    after = [c["reference"] for c in rest]
    assert not set(seen) & set(after)
    assert "AA-0001" not in after and len(seen) + len(after) == 5


@pytest.mark.parametrize("path", LIST_ROUTES)
def test_every_list_route_pages_and_refuses_a_forged_cursor(
    practice: PracticeFixture, path: str
) -> None:
    http, owner = practice.http, practice.as_owner()
    for name in ("second key", "third key"):
        assert http.post("/api/v1/api-keys", json={"name": name}, headers=owner).is_success
    whole = http.get(path, headers=owner)
    assert whole.status_code == 200, whole.text
    pages = every_page(http, path, owner, page_size=1)
    assert all(len(page) <= 1 for page in pages)
    ids = [item["id"] for page in pages for item in page]
    assert len(ids) == len(set(ids))
    if path != "/api/v1/audit-events":  # reading a list adds audit events as we go
        assert ids == [item["id"] for item in whole.json()]
    for cursor in ("nonsense", "W10", "WyJ4Il0", "eyJhIjogMX0"):
        body = problem(http.get(path, params={"cursor": cursor}, headers=owner), 422)
        assert body["field"] == "cursor"
    for size in ("0", "501", "many"):
        response = http.get(path, params={"page_size": size}, headers=owner)
        assert response.status_code in (400, 422) and "page_size" in response.text
