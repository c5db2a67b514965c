"""The moves a nudge can suggest, worded from the rupture-repair consensus: validate and
explore first, change the work second."""

from __future__ import annotations

from enum import StrEnum


class Move(StrEnum):
    """What a clinician can do about a dip: invite_feedback (ask how sessions are going),
    slow_pace (check in about pace and follow the client's readiness), address_relationship
    (talk about the working relationship directly)."""

    INVITE_FEEDBACK = "invite_feedback"
    SLOW_PACE = "slow_pace"
    ADDRESS_RELATIONSHIP = "address_relationship"


MOVE_TITLES: dict[Move, str] = {
    Move.INVITE_FEEDBACK: "Invite feedback",
    Move.SLOW_PACE: "Slow the pace",
    Move.ADDRESS_RELATIONSHIP: "Address the relationship directly",
}

MOVE_ADVICE: dict[Move, str] = {
    Move.INVITE_FEEDBACK: (
        "Early in the session, ask how the last one landed and what would make it feel more "
        "like theirs. Welcome confusion or disagreement as useful, and thank them for it."
    ),
    Move.SLOW_PACE: (
        "Check in about pace before going further. Make it plain that they can pause, go "
        "slower or leave something for later, and follow their readiness rather than the plan."
    ),
    Move.ADDRESS_RELATIONSHIP: (
        "Name the relationship gently: something may not have felt right last time, and you "
        "would like to understand it. Validate their experience and explore what happened "
        "before suggesting any change."
    ),
}

# Why a move is suggested, in the words a nudge may use: never a score, only a direction.
# Ordered so that the relational move leads when several apply.
MOVE_ORDER: tuple[Move, ...] = (Move.ADDRESS_RELATIONSHIP, Move.INVITE_FEEDBACK, Move.SLOW_PACE)
