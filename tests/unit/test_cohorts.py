"""The cohort simulator, its scoring, and the bar the shipped defaults are held to.

Pure: no database. The grid test is the guard: a change to the rules or their defaults that
makes them lose to a rule clinics use today, on any cohort of the grid, fails here.
"""

from __future__ import annotations

import pytest

from shared.cohort import CohortModel, anchor_performance, simulate
from shared.cohort.anchors import Anchor, previous_session_drop, srs_like_cutoff
from shared.cohort.comparison import GRID_AXES, compare, grid
from shared.cohort.model import Cohort, CohortClient, CohortSession, PlantedRupture
from shared.cohort.scoring import SETTINGS, rule_performance
from shared.detection import Answer
from shared.practice.settings import DipRules, PracticeSettings
from shared.survey.items import BUILT_IN_ITEMS

ITEMS = PracticeSettings().known_items
FIVE = dict.fromkeys(BUILT_IN_ITEMS, 5)
# The grid the defaults were tuned on (README "Tuning detection"): 6 clinicians x 25 clients x
# 16 weeks per cell, the seed being the cell's number.
GRID_BASE = CohortModel(clinicians=6)
CELLS = [GRID_BASE, *grid(GRID_BASE)]


def test_the_same_seed_gives_the_same_cohort_answer_for_answer() -> None:
    model = CohortModel(clinicians=2)
    assert simulate(model, seed=7) == simulate(model, seed=7)
    assert simulate(model, seed=7) != simulate(model, seed=8)


def test_a_cohort_follows_its_model() -> None:
    model = CohortModel(clinicians=20, rupture_share=0.5, skip_share=0.2, ruptures_max=1)
    cohort = simulate(model, seed=1)
    clients = len(cohort.clients)
    assert clients == 20 * model.caseload
    assert all(len(client.sessions) == model.sessions for client in cohort.clients)
    assert len(cohort.ruptures) / clients == pytest.approx(0.5, abs=0.05)
    sessions = [session for client in cohort.clients for session in client.sessions]
    skipped = sum(session.answer is None for session in sessions)
    assert skipped / len(sessions) == pytest.approx(0.2, abs=0.02)
    # Ratings crowd the top of the scale, as alliance ratings do.
    scores = [
        score
        for session in sessions
        if session.answer is not None and session.rupture is None
        for score in session.answer.scores.values()
    ]
    assert scores.count(5) / len(scores) > 0.4
    for rupture in cohort.ruptures:
        assert rupture.start >= model.earliest_rupture - 1
        assert 1 <= rupture.length <= model.rupture_length_max
        assert 1 <= len(rupture.items) <= model.rupture_items_max


def test_a_rupture_lowers_the_items_it_touches() -> None:
    model = CohortModel(clinicians=4, rupture_share=1.0, rupture_size=2.0, skip_share=0)
    cohort = simulate(model, seed=3)
    touched, untouched = [], []
    for rupture in cohort.ruptures:
        session = cohort.clients[rupture.client].sessions[rupture.start]
        assert session.answer is not None
        for key, score in session.answer.scores.items():
            (touched if key in rupture.items else untouched).append(score)
    assert sum(touched) / len(touched) < sum(untouched) / len(untouched) - 1.2


def test_no_ruptures_means_every_session_is_rupture_free() -> None:
    cohort = simulate(CohortModel(clinicians=1, rupture_share=0), seed=2)
    assert cohort.ruptures == ()
    performance = rule_performance(cohort, DipRules(), ITEMS)[SETTINGS]
    assert performance.found == 0
    assert performance.rupture_free_sessions == 25 * 16
    assert performance.false_alarms == performance.alerts


def test_scoring_on_a_cohort_small_enough_to_check_by_hand() -> None:
    """One client, six weeks: steady at the top, a one-item rupture in weeks 3-4 (the first
    week of it unanswered), then a false alarm in week 6."""

    def week(number: int, scores: dict[str, int] | None, rupture: int | None) -> CohortSession:
        answer = None if scores is None else Answer(scores)
        return CohortSession(week=number, answer=answer, rupture=rupture)

    cohort = Cohort(
        model=CohortModel(clinicians=1, caseload=1, sessions=6),
        seed=0,
        clients=(
            CohortClient(
                clinician=0,
                sessions=(
                    week(0, FIVE, None),
                    week(1, FIVE, None),
                    week(2, None, 0),
                    week(3, FIVE | {"pace": 2}, 0),
                    week(4, FIVE, None),
                    week(5, FIVE | {"honest": 3, "respected": 3, "input": 3}, None),
                ),
            ),
        ),
        ruptures=(PlantedRupture(client=0, start=2, length=2, items=("pace",), repaired=True),),
    )
    performance = rule_performance(cohort, DipRules(), ITEMS)
    floor = performance["floor"]
    assert (floor.found, floor.ruptures, floor.sessions_to_detection) == (1, 1, 2.0)
    assert floor.false_alarms == 0
    settings = performance[SETTINGS]
    assert settings.found == 1
    assert (settings.false_alarms, settings.rupture_free_sessions) == (1, 4)
    assert settings.false_alarms_per_100 == 25.0
    assert settings.alerts == 2
    assert settings.alerts_per_clinician_week == pytest.approx(2 / 6)
    cutoff = anchor_performance(cohort, srs_like_cutoff())  # mean under 4.6
    assert (cutoff.found, cutoff.false_alarms) == (1, 1)
    below_previous = anchor_performance(cohort, previous_session_drop())
    assert (below_previous.found, below_previous.false_alarms) == (1, 1)


def test_the_anchor_rules_follow_the_instruments_they_stand_for() -> None:
    srs = srs_like_cutoff()  # SRS concern under 36 of 40
    assert srs.threshold == pytest.approx(4.6)
    assert srs.fires(None, 4.4) and not srs.fires(None, 4.6)
    openfit = previous_session_drop()  # a fall of 1 SRS point of 40
    assert openfit.threshold == pytest.approx(0.1)
    assert openfit.fires(4.8, 4.6) and not openfit.fires(4.6, 4.6) and not openfit.fires(None, 1)
    assert Anchor("x", "previous", 1.0).fires(5.0, 4.0)  # 1.0 within float noise


def test_the_grid_covers_noise_ceiling_rupture_size_and_length() -> None:
    assert set(GRID_AXES) == {"item_noise", "alliance", "rupture_size", "rupture_length_max"}
    assert len(CELLS) == 1 + 2**4


@pytest.mark.parametrize("cell", range(len(CELLS)))
def test_the_defaults_beat_each_anchor_rule_at_no_more_false_alarms(cell: int) -> None:
    """On every cohort of the grid, the shipped defaults find more planted ruptures (or as many,
    with fewer false alarms) than each anchor rule at the anchor's least noisy setting that is
    at least as noisy as the defaults."""
    comparison = compare(CELLS[cell], cell, PracticeSettings().rules, ITEMS)
    ours = comparison.settings
    for rival in comparison.matched:
        assert rival.false_alarms_per_100 >= ours.false_alarms_per_100, rival.name
        assert ours.beats(rival), (
            f"{rival.name} found {rival.found}/{rival.ruptures} at "
            f"{rival.false_alarms_per_100:.1f} false alarms per 100; the defaults found "
            f"{ours.found} at {ours.false_alarms_per_100:.1f}"
        )


def test_the_defaults_raise_at_most_one_alert_per_clinician_per_day_of_sessions() -> None:
    model = CohortModel()
    settings = compare(model, 0, PracticeSettings().rules, ITEMS).settings
    assert settings.alerts_per_clinician_week <= model.session_days


def test_a_change_that_loses_to_an_anchor_is_caught() -> None:
    """The bar can fail: settings that alert on every unanswered survey and nothing else raise
    as many false alarms as a loose anchor, which finds far more ruptures."""
    silence_only = DipRules.model_validate(
        {name: {"enabled": name == "silence"} for name in DipRules.model_fields}
        | {"silence": {"enabled": True, "count": 1}}
    )
    comparison = compare(CELLS[0], 0, silence_only, ITEMS)
    assert not comparison.defaults_win
