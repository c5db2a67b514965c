"""Synthetic client cohorts with planted alliance ruptures, and how well dip rules find them.

A simulation, not a clinical trial: it shows what the rules do under stated assumptions (see
CohortModel), so defaults can be compared with the rules clinics use today on equal terms.
"""

from shared.cohort.anchors import Anchor, previous_session_drop, srs_like_cutoff
from shared.cohort.model import Cohort, CohortModel, simulate
from shared.cohort.scoring import Performance, anchor_performance, rule_performance

__all__ = [
    "Anchor",
    "Cohort",
    "CohortModel",
    "Performance",
    "anchor_performance",
    "previous_session_drop",
    "rule_performance",
    "simulate",
    "srs_like_cutoff",
]
