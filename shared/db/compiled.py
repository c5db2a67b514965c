"""Core statements compiled once to PostgreSQL's SQL, for the one path that runs them on
psycopg itself (a survey answer, shared/survey/responses.py): SQLAlchemy's async execution
was most of that request's cost. The SQL, and the conversion of every value in and out, are
SQLAlchemy's own for these columns (UTC times, enums stored as their values, JSON, encrypted
comments), so a row written or read here is the row the ORM writes and reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Select

_DIALECT = PGDialect_psycopg()

Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class CompiledStatement:
    """A statement's SQL, with psycopg's %(name)s placeholders, and its converters."""

    sql: str
    bind_converters: Mapping[str, Convert]
    column_converters: Sequence[Convert | None]

    @classmethod
    def of(cls, statement: ClauseElement) -> CompiledStatement:
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        if compiled.positiontup or compiled.escaped_bind_names:
            raise ValueError("only plainly named parameters are supported")
        binds: dict[str, Convert] = {}
        for name, bind in compiled.binds.items():
            convert = bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            if convert is not None:
                binds[name] = convert
        columns = statement.selected_columns if isinstance(statement, Select) else ()
        return cls(
            sql=compiled.string,
            bind_converters=binds,
            column_converters=[
                column.type.dialect_impl(_DIALECT).result_processor(_DIALECT, None)
                for column in columns
            ],
        )

    def params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values as the driver takes them."""
        converters = self.bind_converters
        return {
            name: converters[name](value) if name in converters else value
            for name, value in values.items()
        }

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """A row as SQLAlchemy would have returned it."""
        return tuple(
            value if convert is None or value is None else convert(value)
            for convert, value in zip(self.column_converters, raw, strict=True)
        )
