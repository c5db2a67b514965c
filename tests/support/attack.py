"""Walk every operation of the app's OpenAPI schema as someone who should not get in.

Path and body values are filled by parameter name with the victim's ids, so a route another
helper adds later is covered without touching this file: `<thing>_id` looks for a victim row
in the table `<thing>`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatch
from typing import Any

from litestar import Litestar
from sqlalchemy import MetaData, inspect, select
from sqlalchemy.engine import Engine

UNSAFE = {"post", "put", "patch", "delete"}
# Path values that are not anybody's object but must be valid for the request to get as far
# as looking the object up.
FIXED = {"action": "cancel"}


@dataclass
class Victim:
    """Whose objects the attacker aims at: ids by parameter name, and words that must never
    show up in what the attacker gets back."""

    ids: dict[str, str]
    secrets: set[str] = field(default_factory=set)


@dataclass
class Attempt:
    method: str
    path: str
    status: int
    aimed: bool  # the request named one of the victim's objects
    body: str


def handler_opts(app: Litestar) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, OpenAPI path) -> the handler's opt, to tell public routes apart."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for route in app.routes:
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                found[(method, path)] = dict(handler.opt)
    return found


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            options = [o for o in schema[combined] if o.get("type") != "null"]
            return _resolve(options[0], document) if options else {"type": "null"}
    return schema


def plausible_value(
    name: str, schema: dict[str, Any], document: dict[str, Any], victim: Victim, start: datetime
) -> Any:
    """A value that passes validation, so a refusal is about who asks, not what was sent."""
    if name in victim.ids:
        return victim.ids[name]
    if name in FIXED:
        return FIXED[name]
    schema = _resolve(schema, document)
    kind, form = schema.get("type"), schema.get("format")
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if kind == "object":
        return plausible_body(schema, document, victim, start)
    if kind == "array":
        return []
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if form == "email":
        return f"intruder-{uuid.uuid4().hex[:6]}@attacker.example.com"
    if form == "uuid":
        return str(uuid.uuid4())
    if form == "date-time":
        moment = start + timedelta(days=3)
        return (moment + timedelta(minutes=50) if name.startswith("end") else moment).isoformat()
    if "zone" in name:
        return "UTC"
    if "password" in name:
        return "a long enough password"
    if "reference" in name:
        return "RC-9999"
    return "x" * max(1, schema.get("minLength", 1))


def plausible_body(
    schema: dict[str, Any], document: dict[str, Any], victim: Victim, start: datetime
) -> dict[str, Any]:
    schema = _resolve(schema, document)
    required = set(schema.get("required", []))
    return {
        name: plausible_value(name, prop, document, victim, start)
        for name, prop in schema.get("properties", {}).items()
        if name in required or name in victim.ids
    }


def _as_id(value: Any) -> str:
    # Reflected SQLite columns give a UUID back as 32 hex digits; the API writes it dashed.
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def victim_ids(
    engine: Engine, practice_id: str, *, clinician_id: str | None = None
) -> dict[str, str]:
    """`<table>_id` -> the id of one of the victim's rows in that table, for every table with
    an id and a practice. With a clinician, only rows that are that clinician's (their own
    account, or rows carrying their clinician_id or one of their clients)."""
    metadata = MetaData()
    metadata.reflect(engine)
    found: dict[str, str] = {}
    with engine.connect() as connection:
        clients: list[Any] = []
        if clinician_id is not None:
            client = metadata.tables["client"]
            clients = [
                _as_id(row.id)
                for row in connection.execute(select(client.c.id, client.c.clinician_id)).all()
                if _as_id(row.clinician_id) == clinician_id
            ]
        for name, table in metadata.tables.items():
            if "id" not in table.c or "practice_id" not in table.c:
                continue
            for row in connection.execute(select(table)).mappings().all():
                if _as_id(row["practice_id"]) != practice_id:
                    continue
                if clinician_id is not None and not (
                    (name == "account" and _as_id(row["id"]) == clinician_id)
                    or _as_id(row.get("clinician_id")) == clinician_id
                    or _as_id(row.get("client_id")) in clients
                    or (name == "client" and _as_id(row["id"]) in clients)
                ):
                    continue
                found[f"{name}_id"] = _as_id(row["id"])
                break
    return found


def snapshot(engine: Engine, *, ignore: dict[str, set[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (not only ours: a table another branch adds is included),
    minus columns an allowed request may touch (`ignore`: table name or glob -> columns,
    "*" for the whole table)."""
    metadata = MetaData()
    metadata.reflect(engine)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for name in sorted(inspect(engine).get_table_names()):
            skip = {c for pattern, cs in ignore.items() if fnmatch(name, pattern) for c in cs}
            if "*" in skip:
                continue
            table = metadata.tables[name]
            columns = [c for c in table.columns if c.name not in skip]
            found = connection.execute(select(*columns)).all()
            rows[name] = sorted(tuple(str(v) for v in row) for row in found)
    return rows


def walk(
    http: Any,
    document: dict[str, Any],
    opts: dict[tuple[str, str], dict[str, Any]],
    headers: dict[str, str],
    victim: Victim,
    start: datetime,
    *,
    include_unaimed_changes: bool = False,
    only: Callable[[str, dict[str, Any]], bool] = lambda method, opt: True,
) -> list[Attempt]:
    """Send one request per operation. Public operations (no credential needed) are left out:
    the isolation question does not arise for them. An operation that names none of the
    victim's objects and would change something is left out too unless asked: it acts on
    the attacker's own practice."""
    attempts = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            opt = opts.get((method.upper(), path), {})
            if opt.get("public") or not only(method, opt):
                continue
            aimed = False
            url = path
            query: dict[str, str] = {}
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                value = plausible_value(name, parameter.get("schema", {}), document, victim, start)
                aimed = aimed or (name in victim.ids and parameter["in"] == "path")
                if parameter["in"] == "path":
                    url = url.replace("{" + name + "}", str(value))
                elif parameter["in"] == "query" and name in victim.ids:
                    query[name] = str(value)
            body = None
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = plausible_body(
                    content["application/json"]["schema"], document, victim, start
                )
                aimed = aimed or any(name in victim.ids for name in body)
            if method in UNSAFE and not aimed and not include_unaimed_changes:
                continue
            response = http.request(method.upper(), url, params=query, json=body, headers=headers)
            attempts.append(
                Attempt(method.upper(), url, response.status_code, aimed, response.text)
            )
    return attempts
