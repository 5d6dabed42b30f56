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
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa

from ..domain.errors import Unavailable
from .errors import ConnectionDropped, translate_unavailable

T = TypeVar("T")


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


class _Kept:
    """A thread's kept DBAPI connection (a holder, so that a WeakSet can list them)."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: Any) -> None:
        self.connection = connection


class Reader:
    """Runs reads on one database connection kept per thread, outside the pool.

    Every read checking a connection out of SQLAlchemy's pool and back in cost more
    than Get's lookup itself (py-spy under load: ~8% of the server's samples against
    ~3% for executing the query), and all of the server's reads run on its event
    loop's one thread. So each thread keeps one connection for reads; writes keep
    using the pool and its transactions.

    On PostgreSQL the kept connection is in autocommit: a read is one round trip, with
    no BEGIN and no ROLLBACK. (sqlite3 opens no transaction for a SELECT.) A cursor
    lives for one read only, so no unfinished statement pins an old snapshot.

    A kept connection that fails is closed and forgotten; if the database dropped it
    (a restart), the read is tried once more on a new connection, as it is safe to
    repeat, and the pool is told to replace every connection opened before now, as
    SQLAlchemy does after a disconnect. So a database restart costs no failed read;
    a database that is still down fails the retry fast, as Unavailable.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dbapi = engine.dialect.loaded_dbapi
        self._autocommit = engine.dialect.name == "postgresql"
        self._local = threading.local()
        self._kept: weakref.WeakSet[_Kept] = weakref.WeakSet()

    def run(self, work: Callable[[Any], T]) -> T:
        """`work(cursor)`, where `work` only reads."""
        try:
            return self._run_once(work)
        except ConnectionDropped:
            return self._run_once(work)

    def close(self) -> None:
        """Close every thread's kept connection (at shutdown)."""
        for kept in list(self._kept):
            with contextlib.suppress(self._dbapi.Error):
                kept.connection.close()
        self._kept = weakref.WeakSet()
        self._local = threading.local()

    def _connection(self) -> Any:
        kept = getattr(self._local, "kept", None)
        if kept is None:
            with translate_unavailable(self._engine):
                pooled = self._engine.raw_connection()  # made with the engine's settings
                connection = pooled.dbapi_connection
                pooled.detach()  # ours now: the pool opens another in its place when needed
                if self._autocommit:
                    connection.autocommit = True
            kept = self._local.kept = _Kept(connection)
            self._kept.add(kept)
        return kept.connection

    def _forget(self, connection: Any) -> None:
        kept = getattr(self._local, "kept", None)
        if kept is not None and kept.connection is connection:
            self._local.kept = None
            self._kept.discard(kept)
        with contextlib.suppress(self._dbapi.Error):  # a dead connection may refuse
            connection.close()

    def _run_once(self, work: Callable[[Any], T]) -> T:
        connection = self._connection()
        try:
            cursor = connection.cursor()
            try:
                return work(cursor)
            finally:
                with contextlib.suppress(self._dbapi.Error):
                    cursor.close()
        except (self._dbapi.OperationalError, self._dbapi.InterfaceError) as exc:
            dropped = self._engine.dialect.is_disconnect(exc, connection, None)
            self._forget(connection)
            if dropped:  # every pooled connection opened until now is suspect too
                self._engine.pool._invalidate(None, exc, _checkin=False)
            error = ConnectionDropped if dropped else Unavailable
            raise error("the database is unavailable; retry shortly") from exc


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
def dbapi_cursor(engine: sa.Engine) -> Iterator[Any]:
    """A cursor on a pooled connection (for `write()`).

    A connection the database dropped is discarded, and so is every other pooled
    connection opened before it (they were most likely dropped too, e.g. by a
    database restart), as SQLAlchemy's own Connection does on a disconnect: the
    next use reconnects instead of failing on each stale connection in turn. The
    error is then ConnectionDropped; others of the kind are Unavailable.
    """
    dbapi = engine.dialect.loaded_dbapi
    with translate_unavailable(engine):
        connection = engine.raw_connection()
    try:
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
        connection.close()  # back to the pool (or closed, if invalidated)
