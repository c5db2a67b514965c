"""A new practice's first steps: what is done, read from what the practice really has.

`setup_facts` counts (one query per fact); `checklist` is pure and decides what each step
says, so the wording and the rules are tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.access import Principal, require_owner
from shared.audit import AuditAction
from shared.models import Account, ApiKey, Appointment, AuditEvent, Client, Practice, Role


@dataclass(frozen=True)
class SetupFacts:
    clinicians: int
    clinicians_signed_up: int  # have chosen a password (accepted their invitation)
    clients: int
    live_api_keys: int
    api_keys_used: int
    appointments: int
    settings_version: int
    settings_opened: bool  # the owner has looked at the survey and the dip rules


@dataclass(frozen=True)
class SetupStep:
    key: str
    title: str
    why: str
    status: str  # what is there now, in words
    href: str
    action: str
    done: bool


def checklist(facts: SetupFacts) -> list[SetupStep]:
    """The first-run steps in the order a practice does them."""
    invited = facts.clinicians - facts.clinicians_signed_up
    if facts.clinicians == 0:
        people = "No clinicians yet."
    else:
        people = _count(facts.clinicians, "clinician") + " added"
        people += f", {invited} still to accept their invitation." if invited else "."
    if facts.appointments:
        scheduling = _count(facts.appointments, "appointment") + " so far."
    elif facts.api_keys_used:
        scheduling = "Your scheduling system has connected; no appointments yet."
    elif facts.live_api_keys:
        scheduling = "An API key is ready; your scheduling system has not used it yet."
    else:
        scheduling = "No API key and no appointments yet."
    reviewed = facts.settings_opened or facts.settings_version > 1
    return [
        SetupStep(
            key="clinicians",
            title="Add your clinicians",
            why="Each clinician gets an email to choose a password, then sees their own "
            "clients' feedback and nudges before sessions.",
            status=people,
            href="/practice/clinicians",
            action="Add clinicians",
            done=facts.clinicians > 0,
        ),
        SetupStep(
            key="clients",
            title="Add your clients",
            why="A client is known to Attune by a reference such as RC-1001; their email is "
            "used only to send the survey after each session.",
            status=_count(facts.clients, "client") + " added."
            if facts.clients
            else "No clients yet.",
            href="/clients/new",
            action="Add a client",
            done=facts.clients > 0,
        ),
        SetupStep(
            key="scheduling",
            title="Connect your scheduling system, or add appointments by hand",
            why="Attune sends the survey after a session is completed, and nudges before the "
            "next one, so it needs to know when sessions happen.",
            status=scheduling,
            href="/practice/api-keys" if not facts.appointments else "/appointments/new",
            action="Create an API key" if not facts.appointments else "Add an appointment",
            done=facts.appointments > 0,
        ),
        SetupStep(
            key="settings",
            title="Review the survey and the dip rules",
            why="Choose the questions your clients see, what counts as a dip, and the crisis "
            "line shown on every survey.",
            status="Reviewed." if reviewed else "Not opened yet: the defaults are in use.",
            href="/practice/settings",
            action="Review the settings",
            done=reviewed,
        ),
    ]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def setup_facts(session: Session, principal: Principal) -> SetupFacts:
    require_owner(principal)
    practice_id = principal.practice_id

    def count(query: object) -> int:
        return int(session.exec(query).one())  # type: ignore[call-overload]

    clinicians = (
        select(func.count())
        .select_from(Account)
        .where(Account.practice_id == practice_id, Account.role == Role.CLINICIAN)
    )
    keys = (
        select(func.count())
        .select_from(ApiKey)
        .where(ApiKey.practice_id == practice_id, col(ApiKey.revoked_at).is_(None))
    )
    practice = session.get(Practice, practice_id)
    return SetupFacts(
        clinicians=count(clinicians),
        clinicians_signed_up=count(clinicians.where(col(Account.password_hash).is_not(None))),
        clients=count(
            select(func.count()).select_from(Client).where(Client.practice_id == practice_id)
        ),
        live_api_keys=count(keys),
        api_keys_used=count(keys.where(col(ApiKey.last_used_at).is_not(None))),
        appointments=count(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.practice_id == practice_id)
        ),
        settings_version=practice.settings_version if practice else 1,
        settings_opened=count(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.practice_id == practice_id)
            .where(AuditEvent.actor_id == principal.account_id)
            .where(AuditEvent.action == AuditAction.SETTINGS_READ.value)
        )
        > 0,
    )
