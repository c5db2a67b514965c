"""OpenAPI shapes Litestar gets wrong for our types, corrected so clients and the fuzzer can
trust the schema."""

from __future__ import annotations

from datetime import time
from enum import Enum
from inspect import cleandoc
from typing import Any

from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.plugins import OpenAPISchemaPlugin
from litestar.plugins.pydantic import PydanticSchemaPlugin
from pydantic import AwareDatetime


def as_prose(docstring: str) -> str:
    """A docstring as the docs show it: each paragraph on one line, so a viewer that keeps
    line breaks does not break sentences where the source wrapped them."""
    paragraphs = cleandoc(docstring).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


class TimeOfDaySchema(OpenAPISchemaPlugin):
    """Litestar describes datetime.time as an ISO 8601 duration; it is a time of day
    ("21:00:00"), which is what pydantic reads and writes. Not format "time" either: that is
    RFC 3339's, which demands a UTC offset, and quiet hours are local times."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is time

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:
        return Schema(
            type=OpenAPIType.STRING,
            pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$",
            description="A local time of day, HH:MM or HH:MM:SS.",
        )


class MomentSchema(OpenAPISchemaPlugin):
    """Litestar's pydantic plugin hands every AwareDatetime field one shared schema object,
    so each field's description and examples overwrote the others' (every moment read as
    the last one's). A new schema per field, in words an integrator can use."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is AwareDatetime

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Schema:
        return Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME)


class DescribedModels(PydanticSchemaPlugin):
    """Litestar leaves a pydantic model's docstring out of its schema; here it is the
    component's description, so a model says what it is once, in code and in the docs.
    (Registered in place of Litestar's own pydantic schema plugin, which it extends.)"""

    @classmethod
    def for_pydantic_model(cls, field_definition: Any, schema_creator: Any) -> Schema:
        schema = super().for_pydantic_model(field_definition, schema_creator)
        # Only the model's own docstring: a class does not inherit __doc__.
        doc = vars(field_definition.annotation).get("__doc__")
        if doc and not schema.description:
            schema.description = as_prose(doc)
        return schema


class DescribedEnums(OpenAPISchemaPlugin):
    """Litestar describes an enumeration with the description of the first field that uses
    it (an alert's status read as "the status to filter by"); here its own docstring is its
    description, and each field keeps its own beside the reference."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return isinstance(value, type) and issubclass(value, Enum)

    def to_openapi_schema(self, field_definition: Any, schema_creator: Any) -> Any:
        enumeration: type[Enum] = field_definition.annotation
        registry = schema_creator.schema_registry
        schema = registry.get_schema_for_field_definition(field_definition)
        schema.type = OpenAPIType.STRING if issubclass(enumeration, str) else OpenAPIType.INTEGER
        schema.enum = [member.value for member in enumeration]
        schema.title = enumeration.__name__
        doc = vars(enumeration).get("__doc__")
        schema.description = as_prose(doc) if doc else None
        return registry.get_reference_for_field_definition(field_definition) or schema
