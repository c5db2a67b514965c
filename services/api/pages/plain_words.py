"""A refused form field's problem in words a clinician understands.

Pydantic's messages ("Input should be a valid UUID, invalid length: found 0") are written
for programmers and stay in the JSON API's answers. A page says instead what to do: "Choose a
client.", "Enter a time, like 09:30.", "Enter a whole number between 5 and 480.". A number's
bounds are read from the form's model, so the message names both ends even when pydantic
reports only the one that was crossed. Pure functions: no request, no database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, EmailStr
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

EMAIL = "Enter an email address, like name@example.com."
EMPTY = "Fill this in."
CHOOSE = "Choose one from the list."


@dataclass(frozen=True)
class NumberRule:
    """What a numeric field accepts, from its model's declaration."""

    whole: bool
    lowest: float | None = None  # at least
    above: float | None = None  # more than
    highest: float | None = None  # at most
    below: float | None = None  # less than

    def ask(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        if self.lowest is not None and self.highest is not None:
            return f"Enter {kind} between {_n(self.lowest)} and {_n(self.highest)}."
        if self.above is None and self.below is None:  # one end or none, inclusive
            if self.lowest is not None:
                return f"Enter {kind} of {_n(self.lowest)} or more."
            if self.highest is not None:
                return f"Enter {kind} of {_n(self.highest)} or less."
            return f"Enter {kind}."
        ends = [
            f"{words} {_n(bound)}"
            for words, bound in (
                ("at least", self.lowest),
                ("above", self.above),
                ("at most", self.highest),
                ("below", self.below),
            )
            if bound is not None
        ]
        return f"Enter {kind} {' and '.join(ends)}."


def _n(value: float) -> str:
    return f"{value:g}"


def _models_in(annotation: Any) -> type[BaseModel] | None:
    """The model an annotation holds: itself, or inside Optional[...] or list[...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in get_args(annotation):
        found = _models_in(inner)
        if found is not None:
            return found
    return None


def field_info(form: type[BaseModel], loc: Sequence[str | int]) -> FieldInfo | None:
    """The declaration of the field at pydantic's error location, through nested models and
    lists of them (("rules", "drop", "points"), ("custom_items", 0, "key"))."""
    found: FieldInfo | None = None
    current: Any = form
    for part in loc:
        if isinstance(part, int):
            continue  # an index into a list: the list's model is looked up by the next name
        model = _models_in(current)
        if model is None or part not in model.model_fields:
            return None
        found = model.model_fields[part]
        current = found.annotation
    return found


def _plain_type(annotation: Any) -> Any:
    """int for `int | None`: the type a value must have when one is given."""
    if get_origin(annotation) in (Union, UnionType):
        given = [arg for arg in get_args(annotation) if arg is not NoneType]
        return given[0] if len(given) == 1 else annotation
    return annotation


def number_rule(info: FieldInfo | None, error_type: str) -> NumberRule:
    whole = error_type.startswith("int_") or (
        info is not None and _plain_type(info.annotation) is int
    )
    bounds: dict[str, float] = {}
    for constraint in info.metadata if info is not None else ():
        for name, attr in (("lowest", "ge"), ("above", "gt"), ("highest", "le"), ("below", "lt")):
            if isinstance(constraint, getattr(annotated_types, attr.capitalize())):
                bounds[name] = float(getattr(constraint, attr))
    return NumberRule(whole=whole, **bounds)


_NUMBER_TYPES = ("greater_than", "less_than", "multiple_of", "finite_number")


def _is_number_problem(error_type: str) -> bool:
    return error_type.startswith(("int_", "float_", "decimal_")) or error_type.startswith(
        _NUMBER_TYPES
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def plain_words(entry: ErrorDetails, form: type[BaseModel] | None = None) -> str:
    """What to do about one of pydantic's errors, in words for the page."""
    kind = entry["type"]
    ctx = entry.get("ctx") or {}
    info = field_info(form, entry["loc"]) if form is not None else None
    if info is not None and _plain_type(info.annotation) is EmailStr:
        return EMAIL  # left empty or mistyped, the same thing to do
    if kind == "value_error":
        if "reason" in ctx:  # EmailStr: its reason is about syntax, not for people
            return EMAIL
        written = ctx.get("error")
        # A validator's own ValueError was written in words already.
        return _sentence(str(written)) if written is not None else "Check this value."
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return EMPTY
    if kind == "string_too_short":
        return f"Use at least {ctx['min_length']} characters."
    if kind == "string_too_long":
        return f"Use {ctx['max_length']} characters or fewer."
    if kind == "string_pattern_mismatch":
        return "Some of these characters are not allowed here."
    if kind.startswith("uuid_") or kind in ("enum", "literal_error"):
        return CHOOSE
    if kind.startswith("datetime_"):
        return "Enter a date and time."
    if kind.startswith("date_"):
        return "Enter a date."
    if kind.startswith("time_"):
        return "Enter a time, like 09:30."
    if kind.startswith("bool_"):
        return "Choose yes or no."
    if kind == "too_short":
        return f"Choose at least {ctx.get('min_length')}."
    if kind == "too_long":
        return f"Choose no more than {ctx.get('max_length')}."
    if _is_number_problem(kind):
        rule = number_rule(info, kind)
        if info is None:  # no model to read: the bound pydantic reported is all there is
            rule = NumberRule(
                whole=rule.whole,
                lowest=ctx.get("ge"),
                above=ctx.get("gt"),
                highest=ctx.get("le"),
                below=ctx.get("lt"),
            )
        return rule.ask()
    if kind == "extra_forbidden":
        return "This form sent a field it does not know: reload the page and try again."
    return "Check this value."
