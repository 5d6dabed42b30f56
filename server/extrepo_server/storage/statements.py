"""Statements compiled once for an engine's dialect, run on a DBAPI cursor.

Measured on the 2-core machine for one indexed lookup by (namespace_id, name):
building a Core select per call ~380 us, executing a prebuilt Core select ~95 us,
this (compiled once, DBAPI cursor) ~30 us. An empty gRPC call costs ~180 us, so
the difference decides whether Get keeps up with the server at all.

The SQL still comes from SQLAlchemy's compiler for the engine's dialect, and values
still pass through the column types' own bind and result processors, so the same
code serves SQLite and PostgreSQL. Where the cursor comes from (a kept read
connection, a pooled write transaction) is connections.py's business.

Every run of a statement is a database span when tracing is on (one place for all
of storage's hot path, which SQLAlchemy's own instrumentation would not see: it
runs on DBAPI cursors); with tracing off the methods are the plain ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from ..observability import tracing


class PreparedStatement:
    """A statement (SELECT, INSERT, UPDATE, DELETE) compiled once for one engine.

    Its `*_on()` methods run it on a cursor from `Reader.run()` or `write()`, so that
    several statements can share one connection (and, in `write()`, one transaction).
    """

    def __init__(self, engine: sa.Engine, statement: sa.Executable) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self._engine = engine
        self._sql = compiled.string
        self._positional = dialect.positional
        self._order = list(compiled.positiontup or ())
        # Parameters the compiler added itself (SQLite's "OFFSET 0" after a LIMIT).
        self._defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self._bind = {
            key: processor
            for key, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        self._result = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            # A SELECT's columns, or what an INSERT/UPDATE/DELETE returns (if anything).
            for column in statement.exported_columns
        ]
        self._identity = all(p is None for p in self._result)
        span = _span_factory(engine, statement, self._sql)
        if span is not None:
            # Tracing is on: each run is a span. Chosen here, once, so that with
            # tracing off the methods below are all there is.
            for name in ("all_on", "first_on", "execute_on"):
                setattr(self, name, _in_span(span, getattr(self, name)))

    def _parameters(self, values: Mapping[str, Any]) -> Any:
        if self._defaults:
            values = {**self._defaults, **values}
        if self._bind:
            values = {k: (self._bind[k](v) if k in self._bind else v) for k, v in values.items()}
        if self._positional:
            return tuple(values[key] for key in self._order)
        return values

    def _convert(self, row: tuple) -> tuple:
        if self._identity:
            return row
        # A list comprehension, then tuple(): ~30% cheaper than tuple(<generator>).
        return tuple([v if p is None else p(v) for p, v in zip(self._result, row, strict=True)])

    def all_on(self, cursor: Any, values: Mapping[str, Any]) -> list[tuple]:
        cursor.execute(self._sql, self._parameters(values))
        convert = self._convert
        return [convert(r) for r in cursor.fetchall()]

    def first_on(self, cursor: Any, values: Mapping[str, Any]) -> tuple | None:
        cursor.execute(self._sql, self._parameters(values))
        row = cursor.fetchone()
        return None if row is None else self._convert(row)

    def execute_on(self, cursor: Any, values: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; the number of rows it touched."""
        cursor.execute(self._sql, self._parameters(values))
        return cursor.rowcount


def _span_factory(engine: sa.Engine, statement: sa.Executable, sql: str):
    """observability.tracing's span factory for this statement (None when tracing
    is off): the operation is the SQL's first word, the table the one the statement
    writes or the one it reads from, if only one."""
    if not tracing.enabled():
        return None
    table = getattr(statement, "table", None)  # INSERT, UPDATE, DELETE
    if table is None and isinstance(statement, sa.Select):
        froms = statement.get_final_froms()
        table = froms[0] if len(froms) == 1 else None
    url = engine.url
    return tracing.database_span(
        system=engine.dialect.name,
        operation=sql.split(None, 1)[0].upper(),
        collection=getattr(table, "name", None),
        query_text=sql,
        server_address=url.host,
        server_port=url.port,
    )


def _in_span(span, run):
    def traced(cursor: Any, values: Mapping[str, Any]):
        with span():
            return run(cursor, values)

    return traced
