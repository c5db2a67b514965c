"""The cohort model: every assumption a parameter, with its default and where it comes from.

Each client has a stable alliance near the top of the scale, their own offset on each item and
their own session-to-session noise. A share of clients has a rupture: for one to a few
sessions the alliance falls on one or two items (ruptures are usually about one thing: pace,
honesty, feeling heard), after which it is repaired (back to where it was) or not (part of the
fall stays for the rest of treatment). Some surveys go unanswered. Scores are the latent
alliance rounded to the 1-5 scale, so ratings pile up at the top as real alliance ratings do.

Deterministic given the seed: the same model and seed give the same cohort, answer for answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from pydantic import BaseModel, ConfigDict, Field

from shared.detection.rules import Answer
from shared.survey.items import DEFAULT_ITEM_KEYS, SCALE_MAX, SCALE_MIN


class CohortModel(BaseModel):
    """The assumptions of one simulated cohort. Defaults are the "typical cohort"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clinicians: int = Field(
        default=8, ge=1, le=200, description="How many clinicians the practice has."
    )
    caseload: int = Field(
        default=25,
        ge=1,
        le=60,
        description="Clients each clinician sees once a week (a full-time caseload).",
    )
    session_days: int = Field(
        default=5, ge=1, le=7, description="Days a week on which a clinician sees clients."
    )
    sessions: int = Field(default=16, ge=2, le=104, description="Sessions per client, one a week.")
    alliance: float = Field(
        default=4.6,
        ge=SCALE_MIN,
        le=SCALE_MAX + 1,
        description=(
            "Mean of the clients' stable alliance on the 1-5 scale: 4.6 is the Session "
            "Rating Scale's 36 of 40 rescaled, where typical clinical ratings sit."
        ),
    )
    alliance_spread: float = Field(
        default=0.3, ge=0, le=2, description="How much clients' stable alliance differs (SD)."
    )
    item_offset: float = Field(
        default=0.25,
        ge=0,
        le=2,
        description="How much one client rates some items higher than others (SD).",
    )
    session_noise: float = Field(
        default=0.2,
        ge=0,
        le=2,
        description="Session-to-session wobble shared by all items of an answer (SD).",
    )
    item_noise: float = Field(
        default=0.35, ge=0, le=2, description="Answer-to-answer wobble of each item alone (SD)."
    )
    rupture_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of clients with at least one rupture (roughly half of treatments).",
    )
    ruptures_max: int = Field(
        default=1, ge=1, le=5, description="Most ruptures one client has (1 to this many)."
    )
    rupture_size: float = Field(
        default=1.5,
        gt=0,
        le=4,
        description=(
            "How far the alliance falls on the items a rupture touches, in scale points "
            "(before rounding to whole scores)."
        ),
    )
    rupture_length_max: int = Field(
        default=2, ge=1, le=8, description="Longest rupture in sessions (1 to this many)."
    )
    rupture_items_max: int = Field(
        default=2, ge=1, le=5, description="Most items one rupture touches (1 to this many)."
    )
    earliest_rupture: int = Field(
        default=2,
        ge=1,
        le=100,
        description="The first session a rupture may start at (1 is the first session).",
    )
    repaired_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of ruptures repaired: the alliance returns to where it was.",
    )
    unrepaired_residual: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description=(
            "Share of the fall that stays for the rest of treatment when a rupture is not repaired."
        ),
    )
    skip_share: float = Field(
        default=0.2, ge=0, le=0.95, description="Share of surveys left unanswered."
    )
    asks_when_ruptured: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Chance a client ticks 'I'd like to talk' in a session with a rupture.",
    )
    asks_otherwise: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Chance a client ticks 'I'd like to talk' in any other session.",
    )


@dataclass(frozen=True)
class CohortSession:
    """One week's session of one client: the answer (None if the survey went unanswered) and
    the rupture it belongs to, if the alliance was strained by one that week."""

    week: int
    answer: Answer | None
    rupture: int | None


@dataclass(frozen=True)
class CohortClient:
    clinician: int
    sessions: tuple[CohortSession, ...]


@dataclass(frozen=True)
class PlantedRupture:
    client: int
    start: int  # index of its first session in the client's course
    length: int  # sessions at full size
    items: tuple[str, ...]
    repaired: bool


@dataclass(frozen=True)
class Cohort:
    model: CohortModel
    seed: int
    clients: tuple[CohortClient, ...]
    ruptures: tuple[PlantedRupture, ...]

    @property
    def weeks(self) -> int:
        return self.model.sessions


def _score(latent: float) -> int:
    return max(SCALE_MIN, min(SCALE_MAX, round(latent)))


def _plant_ruptures(
    model: CohortModel, client: int, random: Random, items: tuple[str, ...]
) -> list[PlantedRupture]:
    if random.random() >= model.rupture_share or model.earliest_rupture > model.sessions:
        return []
    planted: list[PlantedRupture] = []
    taken: set[int] = set()
    for _ in range(random.randint(1, model.ruptures_max)):
        length = random.randint(1, model.rupture_length_max)
        start = random.randint(model.earliest_rupture - 1, model.sessions - 1)
        length = min(length, model.sessions - start)
        weeks = set(range(start, start + length))
        # Ruptures of one client never overlap, nor touch: each has its own onset.
        if weeks & taken or start - 1 in taken or start + length in taken:
            continue
        taken |= weeks
        touched = random.randint(1, min(model.rupture_items_max, len(items)))
        planted.append(
            PlantedRupture(
                client=client,
                start=start,
                length=length,
                items=tuple(sorted(random.sample(items, touched))),
                repaired=random.random() < model.repaired_share,
            )
        )
    return sorted(planted, key=lambda rupture: rupture.start)


def simulate(model: CohortModel, seed: int = 0) -> Cohort:
    """A cohort drawn from the model; the same model and seed always give the same cohort."""
    random = Random(seed)
    items = tuple(DEFAULT_ITEM_KEYS)
    clients: list[CohortClient] = []
    ruptures: list[PlantedRupture] = []
    for clinician in range(model.clinicians):
        for _ in range(model.caseload):
            index = len(clients)
            alliance = random.gauss(model.alliance, model.alliance_spread)
            offsets = {key: random.gauss(0, model.item_offset) for key in items}
            own = _plant_ruptures(model, index, random, items)
            first_id = len(ruptures)
            ruptures.extend(own)
            sessions: list[CohortSession] = []
            for week in range(model.sessions):
                strained: int | None = None
                fall = dict.fromkeys(items, 0.0)
                for number, rupture in enumerate(own):
                    if rupture.start <= week < rupture.start + rupture.length:
                        strained = first_id + number
                        for key in rupture.items:
                            fall[key] += model.rupture_size
                    elif not rupture.repaired and week >= rupture.start + rupture.length:
                        # An unrepaired rupture goes on straining the alliance, more mildly.
                        if model.unrepaired_residual > 0:
                            strained = first_id + number
                        for key in rupture.items:
                            fall[key] += model.rupture_size * model.unrepaired_residual
                wobble = random.gauss(0, model.session_noise)
                scores = {
                    key: _score(
                        alliance
                        + offsets[key]
                        + wobble
                        + random.gauss(0, model.item_noise)
                        - fall[key]
                    )
                    for key in items
                }
                asks = random.random() < (
                    model.asks_when_ruptured if strained is not None else model.asks_otherwise
                )
                skipped = random.random() < model.skip_share
                answer = None if skipped else Answer(scores=scores, asked_to_talk=asks)
                sessions.append(CohortSession(week=week, answer=answer, rupture=strained))
            clients.append(CohortClient(clinician=clinician, sessions=tuple(sessions)))
    return Cohort(model=model, seed=seed, clients=tuple(clients), ruptures=tuple(ruptures))
