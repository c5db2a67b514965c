"""Isolation, proven by trying: every route in the OpenAPI schema, called by someone with the
ids of objects that are not theirs, answers 403/404 (401/405 where that fits), leaks nothing
in its body, and changes nothing in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from tests.conftest import START
from tests.support.attack import (
    Attempt,
    Victim,
    handler_opts,
    snapshot,
    victim_ids,
    walk,
)
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.pages import SignedIn
from tests.support.practice import PracticeFixture, create_practice
from tests.support.signing_in import token_of

REFUSED = {401, 403, 404, 405}
LOW = {"honest": "1", "disagree": "2", "respected": "1", "input": "2", "pace": "1"}
# What an allowed request may still write: an API key's coarse last-used time, and an audit
# trail of who tried what (issue 5's audit log, if present) is meant to grow.
# Heartbeats beat on their own, whatever a request does.
MAY_CHANGE = {"api_key": {"last_used_at"}, "audit*": {"*"}, "worker_heartbeat": {"*"}}


@dataclass
class World:
    a: PracticeFixture
    b: PracticeFixture
    other_clinician: dict[str, str]  # a second clinician in practice A
    other_client: dict[str, Any]  # that clinician's client


def _clinician(http: httpx.Client, practice: PracticeFixture, slug: str) -> dict[str, str]:
    email = f"sam@{slug}.example.com"
    added = http.post(
        "/api/v1/clinicians",
        json={"email": email, "name": "Sam Second", "password": "a third long secret"},
        headers=practice.as_owner(),
    )
    assert added.status_code == 201, added.text
    token = token_of(http, email, "a third long secret")
    return {"id": added.json()["id"], "token": token, "email": email}


def _run_loop_to_alerts(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    bookings: list[tuple[PracticeFixture, dict[str, Any], str]],
) -> None:
    """A session, a low survey answer and an alert for each (practice, client, prefix)."""
    for practice, client, prefix in bookings:
        for name, moment in (
            (f"{prefix}-past", START - timedelta(hours=1)),
            (f"{prefix}-next", START + timedelta(days=7)),
        ):
            booked = http.put(
                f"/api/v1/appointments/external/{name}",
                json={
                    "client_id": client["id"],
                    "starts_at": moment.isoformat(),
                    "ends_at": (moment + timedelta(minutes=50)).isoformat(),
                },
                headers=practice.as_scheduler(),
            )
            assert booked.status_code == 200, booked.text
        done = http.post(
            f"/api/v1/appointments/external/{prefix}-past/complete",
            headers=practice.as_scheduler(),
        )
        assert done.status_code == 200, done.text
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    for _, client, _ in bookings:
        survey = addressed_to(sink, client["email"])[0]
        link = next(x for x in links(survey) if "/s/" in x and "?" not in x)
        answered = http.post(link.removeprefix("http://attune.test"), data=LOW)
        assert answered.status_code == 200, answered.text
    tick_and_settle(stack)


@pytest.fixture
def world(stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock) -> World:
    a = create_practice(http, name="Harbour Counselling", slug="harbour")
    b = create_practice(http, name="Quay Therapy", slug="quay")
    other = _clinician(http, a, "harbour")
    other_client = http.post(
        "/api/v1/clients",
        json={
            "email": "dana.client@harbour.example.com",
            "reference": "RC-2002",
            "clinician_id": other["id"],
        },
        headers=a.as_owner(),
    ).json()
    _run_loop_to_alerts(stack, http, sink, clock, [(b, b.client, "b"), (a, other_client, "a2")])
    a.log_in_again()
    b.log_in_again()
    other["token"] = token_of(http, other["email"], "a third long secret")
    return World(a=a, b=b, other_clinician=other, other_client=other_client)


@pytest.fixture
def schema(stack: Stack, http: httpx.Client) -> tuple[dict[str, Any], dict[Any, Any]]:
    document = http.get("/schema/openapi.json").json()
    return document, handler_opts(stack.api())


def _check(attempts: list[Attempt], victim: Victim) -> None:
    assert attempts, "the walk sent nothing"
    problems = []
    for attempt in attempts:
        leaked = [s for s in victim.secrets if s in attempt.body and s not in attempt.path]
        if leaked:
            problems.append(f"{attempt.method} {attempt.path}: body shows {leaked}")
        if attempt.aimed and attempt.status not in REFUSED:
            problems.append(f"{attempt.method} {attempt.path}: {attempt.status}")
        if attempt.status >= 500:
            problems.append(f"{attempt.method} {attempt.path}: {attempt.status}")
        if attempt.aimed and attempt.status in (400, 422):
            # Refused for its shape, the request never reached the ownership check.
            problems.append(f"{attempt.method} {attempt.path}: {attempt.status} (bad request?)")
    assert not problems, "\n".join(problems)


def _victim(
    database_url: str,
    practice_id: str,
    *,
    clinician_id: str | None = None,
    secrets: set[str],
    extra: dict[str, str],
) -> Victim:
    engine = create_engine(database_url)
    try:
        ids = victim_ids(engine, practice_id, clinician_id=clinician_id)
    finally:
        engine.dispose()
    ids.update(extra)
    # A row number ("19", an outbox event's) turns up by chance in any body full of UUIDs and
    # counts: the walk still aims at it, but only ids that can't occur by chance are secrets.
    return Victim(ids=ids, secrets=secrets | {v for v in ids.values() if not v.isdigit()})


def _walk_unchanged(database_url: str, run: Any) -> list[Attempt]:
    engine = create_engine(database_url)
    try:
        before = snapshot(engine, ignore=MAY_CHANGE)
        attempts = run()
        after = snapshot(engine, ignore=MAY_CHANGE)
    finally:
        engine.dispose()
    changed = [name for name in before if before[name] != after.get(name)]
    assert not changed, f"the walk changed {changed}"
    return attempts


def test_nobody_reaches_what_is_not_theirs(
    world: World, http: httpx.Client, schema: Any, owner_database_url: str
) -> None:
    """One world (two practices, two clinicians, alerts from the real loop: slow to build),
    three intruders."""
    an_owner_cannot_reach_another_practice(world, http, schema, owner_database_url)
    a_clinician_cannot_reach_another_clinicians_clients(world, http, schema, owner_database_url)
    an_api_key_reaches_only_clients_and_appointments(world, http, schema, owner_database_url)
    the_pages_refuse_what_is_not_theirs(world, http, owner_database_url)
    the_onboarding_pages_refuse_what_is_not_theirs(world, http, owner_database_url)


def an_owner_cannot_reach_another_practice(
    world: World, http: httpx.Client, schema: Any, owner_database_url: str
) -> None:
    document, opts = schema
    b = world.b
    victim = _victim(
        owner_database_url,
        b.practice_id,
        secrets={b.client["email"], b.owner["email"], b.clinician["email"], "Quay Therapy"},
        extra={
            "clinician_id": b.clinician["id"],
            "client_id": b.client["id"],
            "key_id": victim_key_id(http, b),
            "external_id": "b-next",
        },
    )
    assert {"alert_id", "appointment_id", "response_id"} <= set(victim.ids)
    attempts = _walk_unchanged(
        owner_database_url,
        lambda: walk(http, document, opts, world.a.as_owner(), victim, START),
    )
    _check(attempts, victim)
    assert sum(a.aimed for a in attempts) >= 12


def victim_key_id(http: httpx.Client, practice: PracticeFixture) -> str:
    keys = http.get("/api/v1/api-keys", headers=practice.as_owner()).json()
    return str(keys[0]["id"])


def a_clinician_cannot_reach_another_clinicians_clients(
    world: World, http: httpx.Client, schema: Any, owner_database_url: str
) -> None:
    document, opts = schema
    other = world.other_clinician
    victim = _victim(
        owner_database_url,
        world.a.practice_id,
        clinician_id=other["id"],
        secrets={world.other_client["email"], "RC-2002", other["email"]},
        extra={
            "clinician_id": other["id"],
            "client_id": world.other_client["id"],
            "key_id": victim_key_id(http, world.a),
            "external_id": "a2-next",
        },
    )
    assert {"alert_id", "appointment_id", "response_id", "invitation_id"} <= set(victim.ids)
    attempts = _walk_unchanged(
        owner_database_url,
        lambda: walk(http, document, opts, world.a.as_clinician(), victim, START),
    )
    _check(attempts, victim)
    assert sum(a.aimed for a in attempts) >= 12


def an_api_key_reaches_only_clients_and_appointments(
    world: World, http: httpx.Client, schema: Any, owner_database_url: str
) -> None:
    """Against another practice it finds nothing; on its own practice, every route that is
    not for reporting clients and appointments refuses it, even with valid ids."""
    document, opts = schema
    b = world.b
    victim = _victim(
        owner_database_url,
        b.practice_id,
        secrets={b.client["email"], b.clinician["email"]},
        extra={
            "clinician_id": b.clinician["id"],
            "client_id": b.client["id"],
            "external_id": "b-next",
        },
    )
    attempts = _walk_unchanged(
        owner_database_url,
        lambda: walk(http, document, opts, world.a.as_scheduler(), victim, START),
    )
    _check(attempts, victim)

    a = world.a
    own = _victim(
        owner_database_url,
        a.practice_id,
        secrets=set(),
        extra={
            "clinician_id": a.clinician["id"],
            "client_id": a.client["id"],
            "key_id": victim_key_id(http, a),
            "external_id": "a2-next",
        },
    )
    people_only = [
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if not opts.get((method.upper(), path), {}).get("public")
        and not opts.get((method.upper(), path), {}).get("api_key")
    ]
    assert len(people_only) >= 10
    own_walk = _walk_unchanged(
        owner_database_url,
        lambda: walk(
            http,
            document,
            opts,
            a.as_scheduler(),
            own,
            START,
            include_unaimed_changes=True,
            only=lambda method, opt: not opt.get("api_key"),
        ),
    )
    refused = {(x.method, x.path) for x in own_walk if x.status == 403}
    for path, method in people_only:
        matching = [x for x in own_walk if x.method == method.upper() and _same_route(x.path, path)]
        assert matching and all(x.status == 403 for x in matching), (method, path, matching)
    assert refused


def _same_route(url: str, template: str) -> bool:
    import re

    pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, url) is not None


def _page_walk(person: SignedIn, victim: Victim, *, owner: bool) -> list[Attempt]:
    """The pages (not in the OpenAPI schema) with the victim's ids: each must be a 404 page,
    the same as for an id that does not exist, and a form post must change nothing."""
    alert, client, clinician = (victim.ids[k] for k in ("alert_id", "client_id", "clinician_id"))
    attempts = []
    for method, path, form in (
        ("GET", f"/alerts/{alert}", None),
        ("POST", f"/alerts/{alert}/addressed", {"move": "slow_pace", "note": "intruding"}),
        ("GET", f"/clients/{client}", None),
        *(
            [
                ("GET", f"/preferences?clinician={clinician}", None),
                (
                    "POST",
                    "/preferences",
                    {"delivery": "daily_digest", "digest_hour": "8", "clinician": clinician},
                ),
            ]
            if owner
            else []
        ),
    ):
        answer = person.get(path) if form is None else person.post_form(path, form)
        attempts.append(Attempt(method, path, answer.status_code, aimed=True, body=answer.text))
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert "<h1>Not found</h1>" in answer.text or "not found" in answer.text.lower()
    # Lists and the week ahead show nothing of theirs either.
    for path in ("/sessions", "/clients", "/preferences"):
        answer = person.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        attempts.append(Attempt("GET", path, answer.status_code, aimed=False, body=answer.text))
    return attempts


def _worded(victim: Victim) -> Victim:
    """Pages print numbers (a settings version "1" is no secret); ids and words are."""
    return Victim(ids=victim.ids, secrets={s for s in victim.secrets if len(s) > 3})


def the_pages_refuse_what_is_not_theirs(
    world: World, http: httpx.Client, owner_database_url: str
) -> None:
    base = str(http.base_url)
    b = world.b
    other_practice = _worded(
        _victim(
            owner_database_url,
            b.practice_id,
            secrets={b.client["email"], b.owner["email"], b.clinician["email"], "Quay Therapy"},
            extra={"clinician_id": b.clinician["id"], "client_id": b.client["id"]},
        )
    )
    with SignedIn(base, world.a.owner["email"], "correct horse battery") as owner:
        attempts = _walk_unchanged(
            owner_database_url, lambda: _page_walk(owner, other_practice, owner=True)
        )
    _check(attempts, other_practice)

    other = world.other_clinician
    colleague = _worded(
        _victim(
            owner_database_url,
            world.a.practice_id,
            clinician_id=other["id"],
            secrets={world.other_client["email"], "RC-2002", other["email"], "Sam Second"},
            extra={"clinician_id": other["id"], "client_id": world.other_client["id"]},
        )
    )
    with SignedIn(base, world.a.clinician["email"], "another long secret") as casey:
        attempts = _walk_unchanged(
            owner_database_url, lambda: _page_walk(casey, colleague, owner=False)
        )
    _check(attempts, colleague)


def test_the_owner_pages_show_one_practice_only(http: httpx.Client) -> None:
    """The owner's pages (figures, settings, history, emails, audit log) of practice A, asked
    with practice B's ids and references, show nothing of B; A's clinician is refused them."""
    from tests.support.pages import form_fields, signed_in

    a = create_practice(http, name="Harbour Counselling", slug="harbour")
    b = create_practice(http, name="Quay Therapy", slug="quay")
    b_client = http.post(
        "/api/v1/clients",
        json={
            "email": "quinn@quay.example.com",
            "reference": "QB-7777",
            "clinician_id": b.clinician["id"],
        },
        headers=b.as_owner(),
    )
    assert b_client.status_code == 201, b_client.text
    b_settings = http.get("/api/v1/settings", headers=b.as_owner()).json()["settings"]
    b_settings["sender"]["display_name"] = "Quay private sender"
    assert http.put("/api/v1/settings", json=b_settings, headers=b.as_owner()).status_code == 200
    secrets = {
        "Quay Therapy",
        "Quay private sender",
        "QB-7777",
        b.practice_id,
        b.owner["id"],
        b.owner["email"],
        b.clinician["id"],
        b.clinician["email"],
        b_client.json()["id"],
        b.client["id"],
        "quinn@quay.example.com",
    }
    base = str(http.base_url)
    with signed_in(base, a.owner["email"], "correct horse battery") as owner:
        for path, params in (
            ("/practice", {"first_day": "2026-01-01", "last_day": "2026-03-31"}),
            ("/practice/settings", {}),
            ("/practice/settings/history", {}),
            ("/practice/emails", {}),
            ("/practice/audit", {}),
            ("/practice/audit", {"who": b.owner["id"]}),
            ("/practice/audit", {"who": b.clinician["id"], "client": "QB-7777"}),
            ("/practice/audit", {"client": "QB-7777"}),
        ):
            response = owner.get(path, params=params)
            assert response.status_code in (200, 422), (path, params, response.status_code)
            leaked = [s for s in secrets if s in response.text and s not in str(params)]
            assert not leaked, (path, params, leaked)
        by_b = owner.get("/practice/audit", params={"who": b.owner["id"]})
        assert "Nothing matches these filters" in by_b.text
        refused = owner.get("/practice/audit", params={"client": "QB-7777"})
        assert "No client in this practice has the reference QB-7777." in refused.text
        # A preview with A's owner counts A's history only, and saves nothing in B.
        fields = form_fields(owner.get("/practice/settings").text, "/practice/settings")
        preview = owner.post(
            "/practice/settings",
            content=str(httpx.QueryParams([*fields, ("action", "preview")])),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert preview.status_code == 200
        assert not [s for s in secrets if s in preview.text]
    with signed_in(base, a.clinician["email"], "another long secret") as clinician:
        for path in (
            "/practice",
            "/practice/settings",
            "/practice/settings/history",
            "/practice/emails",
            "/practice/audit",
        ):
            response = clinician.get(path)
            assert response.status_code == 403, path
            assert not [s for s in secrets | {"Harbour Counselling"} if s in response.text]
    assert http.get("/api/v1/settings", headers=b.as_owner()).json()["version"] == 2


def the_onboarding_pages_refuse_what_is_not_theirs(
    world: World, http: httpx.Client, owner_database_url: str
) -> None:
    """The pages are not in the OpenAPI schema, so the walk above does not see them: the same
    trial by hand, signed in by cookie with a valid anti-forgery field, for every onboarding
    page that takes an id."""
    from tests.support.pages import page_session

    b, other = world.b, world.other_clinician
    b_victim = _victim(
        owner_database_url,
        b.practice_id,
        secrets={b.client["email"], b.owner["email"], b.clinician["email"], "Quay Therapy"},
        extra={"key_id": victim_key_id(http, b)},
    )
    a2_victim = _victim(
        owner_database_url,
        world.a.practice_id,
        clinician_id=other["id"],
        secrets={world.other_client["email"], "RC-2002", other["email"]},
        extra={"key_id": victim_key_id(http, world.a)},
    )

    # A victim's row numbers (a settings version "1") are no secret in a page full of digits.
    b_victim, a2_victim = (
        Victim(ids=v.ids, secrets={s for s in v.secrets if len(s) > 4})
        for v in (b_victim, a2_victim)
    )

    def aimed_at(victim: Victim, client_id: str, clinician_id: str) -> list[tuple[str, str]]:
        appointment = victim.ids["appointment_id"]
        reads = [("GET", f"/clients/{client_id}/manage"), ("GET", f"/clients/{client_id}/export")]
        writes = [
            ("POST", f"/clients/{client_id}/erase"),
            ("POST", f"/clients/{client_id}/resume-invitations"),
            ("POST", f"/practice/clinicians/{clinician_id}/deactivate"),
            ("POST", f"/practice/clinicians/{clinician_id}/reactivate"),
            ("POST", f"/practice/clinicians/{clinician_id}/invitation"),
            ("POST", f"/practice/api-keys/{victim.ids['key_id']}/revoke"),
            ("POST", f"/appointments/{appointment}/complete"),
            ("POST", f"/appointments/{appointment}/cancel"),
            ("POST", f"/appointments/{appointment}/no-show"),
            ("POST", "/appointments/new"),
        ]
        return reads + writes

    def walk_pages(session: Any, victim: Victim, client_id: str, clinician_id: str) -> list[Any]:
        form = {
            "confirm": "RC-1001",
            "reason": "walk",
            "client_id": client_id,
            "day": "2026-03-09",
            "start": "10:00",
            "minutes": "50",
        }
        found = []
        for method, path in aimed_at(victim, client_id, clinician_id):
            answer = session.get(path) if method == "GET" else session.post(path, form)
            found.append(
                Attempt(
                    method=method,
                    path=path,
                    status=answer.status_code,
                    aimed=True,
                    body=answer.text,
                )
            )
        return found

    owner_a = page_session(http, world.a.owner["email"], "correct horse battery")
    attempts = _walk_unchanged(
        owner_database_url,
        lambda: walk_pages(owner_a, b_victim, b.client["id"], b.clinician["id"]),
    )
    _check(attempts, b_victim)
    # An owner asking for another practice's rows is told they do not exist, not "forbidden".
    assert {a.status for a in attempts} == {404}, {(a.path, a.status) for a in attempts}

    clinician_a = page_session(http, world.a.clinician["email"], "another long secret")
    attempts = _walk_unchanged(
        owner_database_url,
        lambda: walk_pages(clinician_a, a2_victim, world.other_client["id"], other["id"]),
    )
    _check(attempts, a2_victim)
    by_path = {a.path: a.status for a in attempts}
    appointment = a2_victim.ids["appointment_id"]
    # Another clinician's appointment and client are not found; the owner's pages refuse.
    for action in ("complete", "cancel", "no-show"):
        assert by_path[f"/appointments/{appointment}/{action}"] == 404
    assert by_path["/appointments/new"] == 404
    assert by_path[f"/clients/{world.other_client['id']}/erase"] == 403
