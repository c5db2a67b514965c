"""How well a rule finds the planted ruptures of a cohort, and how often it cries wolf.

- ruptures found: share of planted ruptures with an alert in a session the rupture strained
  (its full-size sessions and, when not repaired, the rest of treatment);
- sessions to detection: for the ruptures found, the strained session the first alert came in
  (1: the first session of the rupture);
- false alarms per 100 rupture-free sessions: alerts in sessions no rupture strained, per 100
  such sessions (answered or not: silence alerts count too);
- alerts per clinician per week: every alert, over clinicians x weeks.

Attune's rules run through the real evaluate_answer and evaluate_silence, one client at a
time in session order, exactly as the workers call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean

from shared.cohort.anchors import Anchor
from shared.cohort.model import Cohort
from shared.detection.history import History
from shared.detection.rules import evaluate_answer, evaluate_silence
from shared.practice.settings import DipRules
from shared.survey.items import SurveyItem

SETTINGS = "settings"  # the key of the practice's settings as a whole


@dataclass(frozen=True)
class Performance:
    name: str
    ruptures: int
    found: int
    sessions_to_detection: float | None
    false_alarms: int
    rupture_free_sessions: int
    alerts: int
    clinician_weeks: int

    @property
    def found_share(self) -> float:
        return self.found / self.ruptures if self.ruptures else 0.0

    @property
    def false_alarms_per_100(self) -> float:
        if not self.rupture_free_sessions:
            return 0.0
        return 100 * self.false_alarms / self.rupture_free_sessions

    @property
    def alerts_per_clinician_week(self) -> float:
        return self.alerts / self.clinician_weeks if self.clinician_weeks else 0.0

    def beats(self, anchor: Performance) -> bool:
        """At least as many ruptures found at no more false alarms, and better on one of the
        two: more found, or (when both find the same, as happens once nearly every rupture is
        found) fewer false alarms."""
        found, noise = self.found, self.false_alarms_per_100
        rival_found, rival_noise = anchor.found, anchor.false_alarms_per_100
        if found < rival_found or noise > rival_noise + 1e-12:
            return False
        return found > rival_found or noise < rival_noise - 1e-12


def _performance(name: str, cohort: Cohort, alerted: Sequence[Sequence[bool]]) -> Performance:
    first_alert: dict[int, int] = {}
    false_alarms = rupture_free = alerts = 0
    for client, flags in zip(cohort.clients, alerted, strict=True):
        for session, alert in zip(client.sessions, flags, strict=True):
            alerts += alert
            if session.rupture is None:
                rupture_free += 1
                false_alarms += alert
            elif alert and session.rupture not in first_alert:
                first_alert[session.rupture] = session.week
    delays = [week - cohort.ruptures[rupture].start + 1 for rupture, week in first_alert.items()]
    return Performance(
        name=name,
        ruptures=len(cohort.ruptures),
        found=len(first_alert),
        sessions_to_detection=fmean(delays) if delays else None,
        false_alarms=false_alarms,
        rupture_free_sessions=rupture_free,
        alerts=alerts,
        clinician_weeks=cohort.model.clinicians * cohort.weeks,
    )


def _fired_rules(
    cohort: Cohort, rules: DipRules, items: Sequence[SurveyItem]
) -> list[list[frozenset[str]]]:
    """For every session of every client, the rules that fired, each rule enabled with the
    practice's own thresholds (a rule's findings never depend on which others are on)."""
    every_rule_on = rules.model_copy(
        update={
            name: getattr(rules, name).model_copy(update={"enabled": True})
            for name in DipRules.model_fields
        }
    )
    fired: list[list[frozenset[str]]] = []
    for client in cohort.clients:
        history = History()
        course: list[frozenset[str]] = []
        for session in client.sessions:
            if session.answer is None:
                findings, history = evaluate_silence(history, every_rule_on)
            else:
                findings, history = evaluate_answer(history, session.answer, every_rule_on, items)
            course.append(frozenset(finding.rule for finding in findings))
        fired.append(course)
    return fired


def rule_performance(
    cohort: Cohort, rules: DipRules, items: Sequence[SurveyItem]
) -> dict[str, Performance]:
    """The settings as a whole (key "settings": the rules the practice has on) and each rule
    alone (keyed by its name, whether or not the practice has it on)."""
    fired = _fired_rules(cohort, rules, items)
    enabled = {name for name in DipRules.model_fields if getattr(rules, name).enabled}
    result = {
        SETTINGS: _performance(
            SETTINGS, cohort, [[bool(names & enabled) for names in course] for course in fired]
        )
    }
    for name in DipRules.model_fields:
        result[name] = _performance(
            name, cohort, [[name in names for names in course] for course in fired]
        )
    return result


def _means(cohort: Cohort) -> list[list[float | None]]:
    """Each session's answer mean (None when unanswered): all an anchor rule looks at."""
    return [
        [None if session.answer is None else session.answer.mean for session in client.sessions]
        for client in cohort.clients
    ]


def _anchor_performance(
    cohort: Cohort, means: list[list[float | None]], anchor: Anchor
) -> Performance:
    alerted: list[list[bool]] = []
    for course in means:
        previous: float | None = None
        flags: list[bool] = []
        for mean in course:
            if mean is None:
                flags.append(False)
                continue
            flags.append(anchor.fires(previous, mean))
            previous = mean
        alerted.append(flags)
    return _performance(anchor.label, cohort, alerted)


def anchor_performance(cohort: Cohort, anchor: Anchor) -> Performance:
    return _anchor_performance(cohort, _means(cohort), anchor)


def matched_anchor(cohort: Cohort, anchor: Anchor, false_alarms_per_100: float) -> Performance:
    """The anchor rule at the setting with the fewest false alarms that still has at least
    `false_alarms_per_100`: the fairest rival for rules with that false-alarm rate. When no
    setting is that noisy, the noisiest one (which then finds the most)."""
    means = _means(cohort)
    curve = sorted(
        (_anchor_performance(cohort, means, setting) for setting in anchor.sweep()),
        key=lambda performance: (performance.false_alarms_per_100, -performance.found),
    )
    for performance in curve:
        if performance.false_alarms_per_100 >= false_alarms_per_100 - 1e-12:
            return performance
    return curve[-1]
