"""The settings form, described field by field.

Every input is a `Knob`: its dotted path in PracticeSettings (also the input's name, and the
key pydantic's errors come back under), its label and its kind. The dip rules are a list of
`RuleForm`s, each with its plain sentence and its knobs, so a new rule parameter is one more
`Knob` line here and nothing else. What the owner typed is turned into a settings document on
top of the current one (a field the form does not show keeps its value) and validated by
PracticeSettings itself, never here.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Literal

from shared.practice.changes import field_name
from shared.practice.settings import PracticeSettings
from shared.survey.items import BUILT_IN_ITEMS
from shared.survey.moves import MOVE_TITLES

Kind = Literal["switch", "whole", "number", "optional", "time", "text", "textarea"]
MAX_CUSTOM_ITEMS = 5  # PracticeSettings.custom_items allows five
CUSTOM_PARTS = ("key", "prompt", "topic", "move")


@dataclass(frozen=True)
class Knob:
    path: str  # "rules.low_overall.floor": the input's name and its error's key
    label: str
    kind: Kind = "text"
    hint: str = ""
    step: str = "1"  # for numbers
    when: str | None = None  # a switch's path: this knob counts only while that is on

    @property
    def id(self) -> str:
        return self.path.replace(".", "-")

    @property
    def numeric(self) -> bool:
        return self.kind in ("whole", "number") or (
            self.kind == "optional" and not self.path.startswith("sender.")
        )


@dataclass(frozen=True)
class RuleForm:
    name: str  # the key in DipRules
    title: str
    sentence: str  # one plain sentence; {parameter} is filled with the rule's value
    knobs: tuple[Knob, ...] = ()

    @property
    def switch(self) -> Knob:
        return Knob(f"rules.{self.name}.enabled", f"Use the {self.title.lower()} rule", "switch")

    def explained(self, settings: PracticeSettings) -> str:
        values = getattr(settings.rules, self.name).model_dump()
        return self.sentence.format(**{k: _plain(v) for k, v in values.items()})


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "not set" if value is None else str(value)


def _rule(name: str, title: str, sentence: str, *knobs: Knob) -> RuleForm:
    return RuleForm(name, title, sentence, knobs)


RULES: tuple[RuleForm, ...] = (
    _rule(
        "floor",
        "Low item",
        "Flags a session when any one item is answered at or below {floor} out of 5.",
        Knob("rules.floor.floor", "Floor", "whole", "1 to 4."),
    ),
    _rule(
        "low_overall",
        "Low overall",
        "Flags a session when the average of all items is below {floor}.",
        Knob("rules.low_overall.floor", "Floor", "number", "Between 1 and 5.", step="0.1"),
    ),
    _rule(
        "drop",
        "Drop from usual",
        "Flags a session when the average falls {points} points or more below the client's "
        "usual, once they have answered {min_history} times.",
        Knob("rules.drop.points", "Points below their usual", "number", step="0.05"),
        Knob("rules.drop.min_history", "Answers needed first", "whole"),
        Knob(
            "rules.drop.in_sd",
            "Or measure in the client's own standard deviations",
            "optional",
            "Leave empty to use points. Rupture research uses 1 to 2.",
            step="0.1",
        ),
        Knob(
            "rules.drop.typical_sd",
            "A typical client's session-to-session spread",
            "number",
            "Stands in for a client's own spread while their history is short.",
            step="0.05",
        ),
        Knob(
            "rules.drop.prior_answers",
            "Weight of the typical spread, in answers",
            "whole",
            "0 uses the client's own spread alone.",
        ),
    ),
    _rule(
        "item_drop",
        "One question lower than usual",
        "Flags a session when any one question is answered {points} points or more below how "
        "this client usually answers it, once they have answered it {min_history} times.",
        Knob(
            "rules.item_drop.points",
            "Points below their usual on that question",
            "number",
            step="0.1",
        ),
        Knob("rules.item_drop.min_history", "Answers to that question needed first", "whole"),
    ),
    _rule(
        "sudden_drop",
        "Sudden drop",
        "Flags a session when the average falls {points} points or more from the client's "
        "previous answer.",
        Knob("rules.sudden_drop.points", "Points below the previous answer", "number", step="0.1"),
    ),
    _rule(
        "decline_streak",
        "Decline streak",
        "Flags a session when the average has gone down {count} times in a row, by "
        "{min_fall} points or more in all.",
        Knob("rules.decline_streak.count", "Times in a row", "whole"),
        Knob(
            "rules.decline_streak.min_fall",
            "Smallest fall in all",
            "number",
            "0 counts any fall; tiny wobbles are ignored above that.",
            step="0.1",
        ),
    ),
    _rule(
        "silence",
        "Silence",
        "Flags a client who has left {count} surveys in a row unanswered.",
        Knob("rules.silence.count", "Unanswered surveys in a row", "whole"),
    ),
    _rule(
        "asked",
        "Asked to talk",
        "Flags a session when the client ticks “I'd like to talk about how therapy is going”.",
    ),
)

TIMING: tuple[Knob, ...] = (
    Knob(
        "timing.survey_delay_minutes", "Send the survey this many minutes after a session", "whole"
    ),
    Knob("timing.survey_expiry_hours", "Keep a survey open for this many hours", "whole"),
    Knob(
        "timing.reminder_after_hours",
        "Send one reminder after this many hours",
        "optional",
        "Leave empty for no reminder.",
    ),
    Knob(
        "timing.alert_lead_hours",
        "Nudge the clinician this many hours before the next session",
        "number",
        step="0.5",
    ),
    Knob("timing.quiet_hours", "Keep quiet hours: no survey emails at night", "switch"),
    Knob("timing.quiet_hours.start", "Quiet from", "time", when="timing.quiet_hours"),
    Knob("timing.quiet_hours.end", "Quiet until", "time", when="timing.quiet_hours"),
    Knob("timezone", "Practice time zone", "text", "A zone name such as Europe/London."),
)

SENDER: tuple[Knob, ...] = (
    Knob(
        "sender.display_name",
        "Sender name clients see",
        hint="A practice's name can itself say something private: many choose a neutral one.",
    ),
    Knob("sender.reply_to", "Reply-to address", "optional", "Leave empty for none."),
    Knob("sender.survey_subject", "Subject of the survey email"),
    Knob("sender.nudge_subject", "Subject of the nudge to clinicians"),
    Knob(
        "crisis_line",
        "Crisis line shown to clients",
        "textarea",
        "Clients read this on every survey page: answers are not watched in real time.",
    ),
)


def knobs() -> list[Knob]:
    """Every knob on the form, switches before the knobs that depend on them."""
    return [k for rule in RULES for k in (rule.switch, *rule.knobs)] + [*TIMING, *SENDER]


def _flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat[path] = True  # a group that is present (quiet hours on)
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


def _shown(value: Any, kind: Kind) -> Any:
    if kind == "switch":
        return bool(value)
    if value is None:
        return ""
    if kind == "time":
        return str(value)[:5]
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True)
class FormValues:
    """What the inputs show: the saved settings, or what the owner typed."""

    fields: dict[str, Any]  # knob path -> text, or bool for a switch
    item_keys: list[str]
    custom_items: list[dict[str, str]]  # the items, then one blank row while there is room


def _padded(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows to show: the items there are, and one blank row to add another."""
    if len(rows) >= MAX_CUSTOM_ITEMS:
        return rows
    return [*rows, dict.fromkeys(CUSTOM_PARTS, "")]


def values_of(settings: PracticeSettings) -> FormValues:
    flat = _flatten(settings.model_dump(mode="json"))
    return FormValues(
        fields={k.path: _shown(flat.get(k.path), k.kind) for k in knobs()},
        item_keys=list(settings.item_keys),
        custom_items=_padded(
            [
                {part: str(getattr(item, part)) for part in CUSTOM_PARTS}
                for item in settings.custom_items
            ]
        ),
    )


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()[:1000]


def typed_values(form: Mapping[str, Any]) -> FormValues:
    """The form as posted, to show again when it is refused."""
    chosen = form.get("item_keys", [])
    chosen = chosen if isinstance(chosen, list) else [chosen]
    rows = [
        {part: _text(form, f"custom_items.{n}.{part}") for part in CUSTOM_PARTS}
        for n in range(MAX_CUSTOM_ITEMS)
    ]
    return FormValues(
        fields={
            k.path: (k.path in form) if k.kind == "switch" else _text(form, k.path) for k in knobs()
        },
        item_keys=[key for key in BUILT_IN_ITEMS if key in chosen],
        custom_items=_padded(
            [row for row in rows if any(row[p] for p in CUSTOM_PARTS if p != "move")]
        ),
    )


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    *groups, last = path.split(".")
    target = document
    for group in groups:
        if not isinstance(target.get(group), dict):
            target[group] = {}
        target = target[group]
    target[last] = value


def _lookup(document: Mapping[str, Any], path: str) -> Any:
    found: Any = document
    for part in path.split("."):
        found = found.get(part) if isinstance(found, Mapping) else None
    return found


def settings_document(values: FormValues, current: PracticeSettings) -> dict[str, Any]:
    """The candidate settings: the current document with every knob set as typed. Typed text
    goes to PracticeSettings as it is (it turns "4.2" into 4.2 or says why it cannot)."""
    document = deepcopy(current.model_dump(mode="json"))
    for knob in knobs():
        typed = values.fields[knob.path]
        if knob.when is not None and not values.fields[knob.when]:
            continue
        if knob.kind == "switch":
            if knob.path.endswith(".enabled"):
                _put(document, knob.path, typed)
            elif not typed:
                _put(document, knob.path, None)
            elif not isinstance(_lookup(document, knob.path), dict):
                _put(document, knob.path, {})
        elif knob.kind == "optional" and typed == "":
            _put(document, knob.path, None)
        else:
            _put(document, knob.path, typed)
    document["item_keys"] = values.item_keys
    document["custom_items"] = [
        row for row in values.custom_items if any(row[p] for p in CUSTOM_PARTS if p != "move")
    ]
    return document


def label_of(path: str) -> str:
    """A refused field's name in the list at the top of the form."""
    parts = path.split(".")
    if parts[0] == "custom_items" and len(parts) == 3 and parts[1].isdigit():
        return f"Your item {int(parts[1]) + 1}, {parts[2]}"
    if path == "days":
        return "Days to preview"
    return field_name(path)


MOVE_CHOICES = list(MOVE_TITLES.items())
BANK = list(BUILT_IN_ITEMS.values())
