"""The onboarding rules that need no database: the first-run checklist, where a clinician's
account stands, the typed confirmation of an erasure, and a hand-made booking's times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.api.pages.onboarding.appointments import AppointmentForm
from services.api.pages.onboarding.clinicians import standing
from shared.errors import Invalid
from shared.models import Account, AccountLink, AccountLinkPurpose, Role
from shared.practice.onboarding import SetupFacts, checklist
from shared.practice.settings import DEFAULT_CRISIS_LINE, PracticeSettings
from shared.privacy.erasure import confirm_erasure

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOTHING = SetupFacts(
    clinicians=0,
    clinicians_signed_up=0,
    clients=0,
    live_api_keys=0,
    api_keys_used=0,
    appointments=0,
    settings_version=1,
    settings_opened=False,
)


def _steps(facts: SetupFacts) -> dict[str, tuple[bool, str]]:
    return {step.key: (step.done, step.status) for step in checklist(facts)}


def test_a_new_practice_has_every_step_to_do() -> None:
    steps = _steps(NOTHING)
    assert list(steps) == ["clinicians", "clients", "scheduling", "settings"]
    assert not any(done for done, _ in steps.values())
    assert steps["scheduling"][1] == "No API key and no appointments yet."


def test_steps_are_done_by_what_the_practice_has() -> None:
    invited = replace(NOTHING, clinicians=2, clinicians_signed_up=1)
    assert _steps(invited)["clinicians"] == (
        True,
        "2 clinicians added, 1 still to accept their invitation.",
    )
    key_unused = replace(NOTHING, live_api_keys=1)
    assert _steps(key_unused)["scheduling"] == (
        False,
        "An API key is ready; your scheduling system has not used it yet.",
    )
    connected = replace(key_unused, api_keys_used=1)
    assert _steps(connected)["scheduling"][0] is False  # connected, but nothing booked yet
    booked = replace(NOTHING, appointments=1)
    assert _steps(booked)["scheduling"] == (True, "1 appointment so far.")
    assert _steps(replace(NOTHING, settings_opened=True))["settings"][0] is True
    assert _steps(replace(NOTHING, settings_version=2))["settings"][0] is True


def test_the_scheduling_step_points_to_what_is_next() -> None:
    (todo,) = [s for s in checklist(NOTHING) if s.key == "scheduling"]
    (done,) = [s for s in checklist(replace(NOTHING, appointments=3)) if s.key == "scheduling"]
    assert todo.href == "/practice/api-keys"
    assert done.href == "/appointments/new"


def _clinician(**changes: object) -> Account:
    account = Account(
        practice_id=uuid4(),
        email="jo@harbour.example.com",
        name="Jo",
        role=Role.CLINICIAN,
        created_at=NOW,
    )
    for name, value in changes.items():
        setattr(account, name, value)
    return account


def _invitation(account: Account, *, expires_in: timedelta, used: bool = False) -> AccountLink:
    return AccountLink(
        practice_id=account.practice_id,
        account_id=account.id,
        purpose=AccountLinkPurpose.CLINICIAN_INVITATION,
        created_at=NOW - timedelta(days=1),
        expires_at=NOW + expires_in,
        used_at=NOW if used else None,
    )


def test_where_a_clinicians_account_stands() -> None:
    waiting = _clinician()
    assert standing(waiting, _invitation(waiting, expires_in=timedelta(days=6)), NOW).standing == (
        "Invited, not accepted yet"
    )
    lapsed = standing(waiting, _invitation(waiting, expires_in=-timedelta(minutes=1)), NOW)
    assert (lapsed.standing, lapsed.can_invite) == ("Invitation expired", True)
    assert standing(waiting, None, NOW).standing == "Invitation expired"
    joined = standing(_clinician(password_hash="x"), None, NOW)
    assert (joined.standing, joined.can_invite, joined.active) == ("Active", False, True)
    gone = standing(_clinician(password_hash="x", deactivated_at=NOW), None, NOW)
    assert (gone.standing, gone.can_invite, gone.active) == ("Deactivated", False, False)


def test_erasure_needs_the_reference_typed() -> None:
    confirm_erasure("RC-1001", " rc-1001 ")  # case and spaces are forgiven
    for typed in ("", "RC-100", "RC-1002", "RC-1001x"):
        with pytest.raises(Invalid) as refused:
            confirm_erasure("RC-1001", typed)
        assert refused.value.field == "confirm"
        assert "RC-1001" in refused.value.message


def test_a_hand_made_booking_is_in_the_readers_time_zone() -> None:
    form = AppointmentForm(client_id=uuid4(), day=date(2026, 3, 30), start=time(10, 0), minutes=50)
    booking = form.as_booking(ZoneInfo("Europe/London"))  # summer time began on the 29th
    assert booking.starts_at.astimezone(UTC) == datetime(2026, 3, 30, 9, 0, tzinfo=UTC)
    assert booking.ends_at - booking.starts_at == timedelta(minutes=50)
    for minutes in (0, 4, 481):
        with pytest.raises(ValidationError):
            AppointmentForm(
                client_id=uuid4(), day=date(2026, 3, 30), start=time(10), minutes=minutes
            )


def test_a_crisis_line_is_the_practices_own_or_the_default() -> None:
    assert PracticeSettings().crisis_line == DEFAULT_CRISIS_LINE
    assert PracticeSettings(crisis_line="Call 116 123.").crisis_line == "Call 116 123."
    with pytest.raises(ValidationError):
        PracticeSettings(crisis_line="999")
