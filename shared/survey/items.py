"""The built-in item bank. Wording is ours, drawn from seed 003 ("What clients can look for");
it deliberately does not reuse the Session Rating Scale's or the Working Alliance
Inventory's copyrighted items."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.survey.moves import Move

SCALE_MIN = 1
SCALE_MAX = 5


class SurveyItem(BaseModel):
    """One survey question, answered from 1 (Not at all) to 5 (Completely)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(
        pattern=r"^[a-z][a-z0-9_]{1,31}$",
        description="Stable key of the item: 2 to 32 lower-case letters, digits or _, "
        "starting with a letter. Answers and alerts name the item by it.",
        examples=["felt_heard"],
    )
    prompt: str = Field(
        min_length=5,
        max_length=160,
        description="What the client reads, 5 to 160 characters.",
        examples=["I felt heard today."],
    )
    move: Move = Field(description="The move a low score on this item suggests.")
    # The phrase a nudge uses when this item dipped: "<topic> was rated lower than usual".
    topic: str = Field(
        min_length=3,
        max_length=80,
        description="How a clinician's nudge names the item when it dipped (\"<topic> was "
        'rated lower than usual"), 3 to 80 characters.',
        examples=["Feeling heard"],
    )


BUILT_IN_ITEMS: dict[str, SurveyItem] = {
    item.key: item
    for item in (
        SurveyItem(
            key="honest",
            prompt="I felt comfortable being honest today.",
            move=Move.ADDRESS_RELATIONSHIP,
            topic="Feeling able to be honest",
        ),
        SurveyItem(
            key="disagree",
            prompt="I could express confusion or disagreement.",
            move=Move.INVITE_FEEDBACK,
            topic="Room to voice confusion or disagreement",
        ),
        SurveyItem(
            key="respected",
            prompt="I felt respected and taken seriously.",
            move=Move.ADDRESS_RELATIONSHIP,
            topic="Feeling respected and taken seriously",
        ),
        SurveyItem(
            key="input",
            prompt="My therapist invited my input.",
            move=Move.INVITE_FEEDBACK,
            topic="Being invited to give input",
        ),
        SurveyItem(
            key="pace",
            prompt="We went at a pace that felt right.",
            move=Move.SLOW_PACE,
            topic="The pace of the session",
        ),
    )
}

DEFAULT_ITEM_KEYS: tuple[str, ...] = tuple(BUILT_IN_ITEMS)

SCALE_LABELS: dict[int, str] = {
    1: "Not at all",
    2: "A little",
    3: "Somewhat",
    4: "Mostly",
    5: "Completely",
}
