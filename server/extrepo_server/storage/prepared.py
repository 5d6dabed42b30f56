"""The hot path's SQL: Core statements compiled once, run on a pooled DBAPI connection.

Measured on the 2-core machine for one indexed lookup by (namespace_id, name):
building a Core select per call ~380 us, executing a prebuilt Core select ~95 us,
this (compiled once, pool checkout, DBAPI cursor) ~30 us. An empty gRPC call costs
~180 us, so the difference decides whether Get keeps up with the server at all.

The SQL still comes from SQLAlchemy's compiler for the engine's dialect, and values
still pass through the column types' own bind and result processors, so the same
code serves SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from ..domain.errors import Unavailable
from .errors import ConnectionDropped, translate_unavailable

T = TypeVar("T")


class PreparedStatement:
    """A statement (SELECT, INSERT, UPDATE, DELETE) compiled once for one engine.

    `all()`/`first()` run a query on a connection of their own; the `*_on()` forms
    run on a cursor from `read()` or `write()`, so that several statements share one
    checkout (and, in `write()`, one transaction).
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

    def all(self, **values: Any) -> list[tuple]:
        return read(self._engine, lambda cursor: self.all_on(cursor, values))

    def first(self, **values: Any) -> tuple | None:
        return read(self._engine, lambda cursor: self.first_on(cursor, values))


def read(engine: sa.Engine, work: Callable[[Any], T]) -> T:
    """`work(cursor)` on one pooled connection, once more on a new one if it was dead.

    `work` must only read: it is safe to repeat, and the dropped connection (with
    every pooled one as old) is gone, so the second try connects anew. A database
    restart thus costs no failed read; a database still down fails the retry fast.
    """
    try:
        with dbapi_cursor(engine, read_only=True) as cursor:
            return work(cursor)
    except ConnectionDropped:
        with dbapi_cursor(engine, read_only=True) as cursor:
            return work(cursor)


def write(engine: sa.Engine, work: Callable[[Any], T]) -> T:
    """`work(cursor)` in one transaction on a pooled connection: committed if it
    returns, rolled back if it raises. Never retried: after a dropped connection the
    commit may or may not have landed, so the caller hears Unavailable and decides.

    Both drivers open the transaction implicitly at the first statement (sqlite3 in
    its default mode before a write, psycopg before any statement).
    """
    with dbapi_cursor(engine) as cursor:
        connection = cursor.connection
        try:
            result = work(cursor)
        except BaseException:
            with contextlib.suppress(engine.dialect.loaded_dbapi.Error):
                connection.rollback()
            raise
        connection.commit()
    return result


@contextmanager
def dbapi_cursor(engine: sa.Engine, *, read_only: bool = False) -> Iterator[Any]:
    """A cursor on a pooled connection.

    `read_only` on PostgreSQL runs the statement outside a transaction (autocommit):
    one round trip instead of three (BEGIN, the SELECT, and the ROLLBACK that the
    pool issues on return): ~480 us -> ~230 us for Get's lookup. The connection goes
    back to the pool in its usual mode, for SQLAlchemy's transactions.

    A connection the database dropped is discarded, and so is every other pooled
    connection opened before it (they were most likely dropped too, e.g. by a
    database restart), as SQLAlchemy's own Connection does on a disconnect: the
    next use reconnects instead of failing on each stale connection in turn. The
    error is then ConnectionDropped; others of the kind are Unavailable.
    """
    dbapi = engine.dialect.loaded_dbapi
    with translate_unavailable(engine):
        connection = engine.raw_connection()
    autocommit = read_only and engine.dialect.name == "postgresql"
    try:
        if autocommit:
            connection.dbapi_connection.autocommit = True
        cursor = connection.cursor()
        try:
            yield cursor
        finally:
            with contextlib.suppress(dbapi.Error):  # a dead connection may refuse
                cursor.close()
    except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
        dropped = engine.dialect.is_disconnect(exc, connection.dbapi_connection, None)
        if connection.is_valid:
            if dropped:  # this one and every older one, as SQLAlchemy does
                engine.pool._invalidate(connection, exc)
            else:
                connection.invalidate(exc)
        error = ConnectionDropped if dropped else Unavailable
        raise error("the database is unavailable; retry shortly") from exc
    finally:
        if autocommit and connection.is_valid:
            try:
                connection.dbapi_connection.autocommit = False
            except dbapi.Error as exc:  # never back to the pool in autocommit
                connection.invalidate(exc)
        connection.close()  # back to the pool (or closed, if invalidated)
