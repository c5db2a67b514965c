"""OpenAPI shapes Litestar gets wrong for our types, corrected so clients and the fuzzer can
trust the schema."""

from __future__ import annotations

from datetime import time
from typing import Any

from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.plugins import OpenAPISchemaPlugin
from pydantic import AwareDatetime


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
