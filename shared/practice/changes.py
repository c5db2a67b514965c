"""What changed between two versions of a practice's settings, in words an owner reads.

Pure: two stored settings documents (PracticeSettings dumped as JSON) in, a list of lines
out, e.g. "Low overall floor: 4.0 → 4.2". The settings history shows these lines beside each
version (page and JSON alike). A field this module has no name for (a rule parameter added
later) is still reported, under a name made from its path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.survey.moves import MOVE_TITLES, Move

FIELD_NAMES: dict[str, str] = {
    "timezone": "Time zone",
    "item_keys": "Survey items",
    "custom_items": "Your own items",
    "crisis_line": "Crisis line",
    "rules.floor.enabled": "Low item rule",
    "rules.floor.floor": "Low item floor",
    "rules.low_overall.enabled": "Low overall rule",
    "rules.low_overall.floor": "Low overall floor",
    "rules.drop.enabled": "Drop from usual rule",
    "rules.drop.points": "Drop from usual, points",
    "rules.drop.min_history": "Answers needed before a drop counts",
    "rules.drop.in_sd": "Drop from usual, in standard deviations",
    "rules.sudden_drop.enabled": "Sudden drop rule",
    "rules.sudden_drop.points": "Sudden drop, points",
    "rules.decline_streak.enabled": "Decline streak rule",
    "rules.decline_streak.count": "Declines in a row",
    "rules.silence.enabled": "Silence rule",
    "rules.silence.count": "Unanswered surveys in a row",
    "rules.asked.enabled": "“I'd like to talk” rule",
    "timing.survey_delay_minutes": "Survey delay, minutes",
    "timing.survey_expiry_hours": "Survey open for, hours",
    "timing.reminder_after_hours": "Reminder after, hours",
    "timing.alert_lead_hours": "Nudge lead time, hours",
    "timing.quiet_hours": "Quiet hours",
    "timing.quiet_hours.start": "Quiet hours start",
    "timing.quiet_hours.end": "Quiet hours end",
    "sender.display_name": "Sender name",
    "sender.reply_to": "Reply-to address",
    "sender.survey_subject": "Survey email subject",
    "sender.nudge_subject": "Nudge email subject",
}

_TIME = re.compile(r"^(\d\d:\d\d):00$")


def field_name(path: str) -> str:
    """The owner's name for a settings field, by its dotted path."""
    if path in FIELD_NAMES:
        return FIELD_NAMES[path]
    parts = path.split(".")
    words = " ".join(parts[1:] if parts[0] in ("rules", "timing", "sender") else parts)
    return words.replace("_", " ").capitalize()


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if _TIME.match(value):
            return _TIME.sub(r"\1", value)
        if value in Move.__members__.values():
            return MOVE_TITLES[Move(value)]
        return f"“{value}”"
    if isinstance(value, Mapping):
        if set(value) == {"start", "end"}:
            return f"{_shown(value['start'])} to {_shown(value['end'])}"
        return ", ".join(f"{key} {_shown(inner)}" for key, inner in value.items())
    if isinstance(value, Sequence):
        return ", ".join(_shown(inner) for inner in value) or "none"
    return str(value)


def _item_keys(old: Sequence[str], new: Sequence[str]) -> list[str]:
    added = [key for key in new if key not in old]
    removed = [key for key in old if key not in new]
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    if not parts:
        parts.append(f"reordered to {', '.join(new)}")
    return [f"{field_name('item_keys')}: {'; '.join(parts)}"]


def _custom_items(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[str]:
    before = {item["key"]: item for item in old}
    after = {item["key"]: item for item in new}
    lines = []
    for key, item in after.items():
        if key not in before:
            lines.append(f"Your own item added: {key} ({_shown(item.get('prompt'))})")
            continue
        for part, was in before[key].items():
            now = item.get(part)
            if now != was:
                lines.append(f"Your own item {key}, {part}: {_shown(was)} → {_shown(now)}")
    lines.extend(f"Your own item removed: {key}" for key in before if key not in after)
    if not lines and list(before) != list(after):
        lines.append(f"Your own items reordered to {', '.join(after)}")
    return lines


def settings_changes(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    """Each field that differs from `old` to `new`, as "<name>: <old> → <new>", in the order
    the settings list them. No `old` (the first version) has no changes."""
    if old is None:
        return []
    return _walk(old, new, "")


def _walk(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str) -> list[str]:
    lines: list[str] = []
    for key in [*old, *(k for k in new if k not in old)]:
        path = f"{prefix}{key}"
        was, now = old.get(key), new.get(key)
        if was == now:
            continue
        if isinstance(was, Mapping) and isinstance(now, Mapping):
            lines.extend(_walk(was, now, f"{path}."))
        elif path == "item_keys":
            lines.extend(_item_keys(was or [], now or []))
        elif path == "custom_items":
            lines.extend(_custom_items(was or [], now or []))
        else:
            # A group switched off entirely (quiet hours) is stored as null: say "off".
            off = "off" if isinstance(was, Mapping) or isinstance(now, Mapping) else "none"
            before = off if was is None else _shown(was)
            after = off if now is None else _shown(now)
            lines.append(f"{field_name(path)}: {before} → {after}")
    return lines
