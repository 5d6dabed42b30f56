"""Every way storage gets at the database: the one module that opens, keeps,
retries and discards connections. Stores never touch the engine's pool themselves.

- The API's hot path (repositories.py): `Reader.run()` for reads, on a connection
  kept per thread, and `Writer.run()` for one transaction, awaited so that a write
  waiting for a lock never holds the event loop; each hands a DBAPI cursor to
  statements.py's compiled statements (see there why not SQLAlchemy's Connection).
  What a Connection would do on a failure is done here by hand.
- Administration and authentication lookups (accounts.py, reencryption.py), which
  are rare or cached: `transaction()` and `read_retrying_once()`, on SQLAlchemy
  Connections.

Which driver error means what is errors.py's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from .errors import (
    ConnectionDropped,
    LockTimeout,
    connection_failure,
    is_lock_timeout,
    translate_unavailable,
)

T = TypeVar("T")


def _detached_connection(engine: sa.Engine) -> Any:
    """A DBAPI connection made with the engine's settings (its connect events, such as
    SQLite's pragmas), taken out of the pool: the caller keeps it and closes it."""
    with translate_unavailable(engine):
        pooled = engine.raw_connection()
        connection = pooled.dbapi_connection
        pooled.detach()  # ours now: the pool opens another in its place when needed
    return connection


def _on_cursor(dbapi: Any, connection: Any, work: Callable[[Any], T]) -> T:
    """`work(cursor)` on a cursor of `connection` that lives for this work only."""
    cursor = connection.cursor()
    try:
        return work(cursor)
    finally:
        with contextlib.suppress(dbapi.Error):  # a dead connection may refuse
            cursor.close()


def _close_quietly(dbapi: Any, connection: Any) -> None:
    with contextlib.suppress(dbapi.Error):  # a dead connection may refuse
        connection.close()


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
            _close_quietly(self._dbapi, kept.connection)
        self._kept = weakref.WeakSet()
        self._local = threading.local()

    def _connection(self) -> Any:
        kept = getattr(self._local, "kept", None)
        if kept is None:
            connection = _detached_connection(self._engine)
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
        _close_quietly(self._dbapi, connection)

    def _run_once(self, work: Callable[[Any], T]) -> T:
        connection = self._connection()
        try:
            return _on_cursor(self._dbapi, connection, work)
        except (self._dbapi.OperationalError, self._dbapi.InterfaceError) as exc:
            failure = connection_failure(self._engine, exc, connection)
            self._forget(connection)
            if isinstance(failure, ConnectionDropped):
                drop_pooled_connections(self._engine)  # opened before now: suspect too
            raise failure from exc


class Writer:
    """Runs the API's writes without ever holding the event loop while one waits.

    A write that must wait for a lock (another process's SQLite write, a row another
    PostgreSQL replica is updating) waits for up to the engine's lock timeout. On the
    event loop that wait would stall every other call, reads and health checks
    included, so:

    - A write first runs on a connection kept for it that does not wait for locks
      (SQLite: a busy timeout of zero; PostgreSQL: a lock_timeout of 1 ms, its
      smallest): when nothing holds what it needs (the usual case) it succeeds, and
      when something does it fails at once, having changed nothing.
    - Only then is it run again on a writer thread, on a pooled connection, which
      waits up to the lock timeout. SQLite admits one writer at a time, so it has
      one such thread (writes queue behind it in arrival order); PostgreSQL as many
      as the connection pool.

    Group commit: the first attempts run on a thread of their own ("extrepo-commit"),
    one transaction at a time, and the writes that arrive while one is on its way
    share the next (`_run_batch`), each still all-or-nothing with its own answer. So
    the event loop never waits for a write: on PostgreSQL for ~5 round trips per
    Create (py-spy: ~45% of the loop's samples under Create load), on SQLite for the
    commit's WAL write and, now and then, a checkpoint. The thread hop and the commit
    are paid once per batch. Same-run A/B against first attempts on the loop, 16 in
    flight: Create 1.08x and 0.89x the server CPU per call on PostgreSQL, Create
    1.43x and Update 1.35x the calls/s on SQLite (CPU per call unchanged).

    A write that still cannot get its lock answers UNAVAILABLE with a retry hint
    (errors.LockTimeout), having changed nothing.
    """

    def __init__(self, engine: sa.Engine, *, threads: int) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._dbapi = engine.dialect.loaded_dbapi
        self._executor = ThreadPoolExecutor(
            max_workers=1 if self._sqlite else threads, thread_name_prefix="extrepo-write"
        )
        # The thread of the first attempts, one batch at a time.
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extrepo-commit")
        self._eager: Any = None  # the first attempts' connection, waiting for no lock
        self._eager_pool: Any = None  # the engine's pool when it was made
        # Writes waiting for the next batch, with their callers' futures.
        self._queue: list[tuple[Callable[[Any], Any], asyncio.Future]] = []
        self._flushing = False  # a batch is scheduled or on its way

    async def run(self, work: Callable[[Any], T]) -> T:
        """`work(cursor)` in one transaction: committed if it returns, rolled back if
        it raises. Never retried after it may have committed. The transaction may be
        shared with other writes (group commit), never their outcomes."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # The work runs on a writer thread, in a batch with others' works: it runs in
        # its caller's context all the same (the call's trace span, for the spans of
        # its statements: observability/tracing.py).
        self._queue.append((partial(contextvars.copy_context().run, work), future))
        if not self._flushing:
            self._flushing = True
            loop.call_soon(self._flush, loop)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the first attempt of every write queued so far, as one batch."""
        queued, self._queue = self._queue, []
        # A caller cancelled (its client gone) before its turn heard CancelledError:
        # its write is not made.
        pending = [(work, future) for work, future in queued if not future.done()]
        if not pending:
            self._flushing = False
            return
        works = [work for work, _ in pending]
        done = loop.run_in_executor(self._committer, self._run_batch, works)
        done.add_done_callback(lambda finished: self._flushed(loop, pending, finished))

    def _flushed(self, loop: asyncio.AbstractEventLoop, pending, finished) -> None:
        try:
            outcomes = finished.result()  # _run_batch hands errors over as outcomes
            held, answered, answers = [], [], []
            for entry, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome[1], _LockHeld):
                    held.append(entry)
                else:
                    answered.append(entry)
                    answers.append(outcome)
            _settle(answered, answers)
            if held:
                # Nothing of theirs was written: they wait for the lock as one
                # transaction on a writer thread, while the next batches go on. (Sent
                # one by one, Creates on two replicas, which all update their
                # namespace's counter row, fought over it in as many transactions.)
                waiting = loop.run_in_executor(
                    self._executor, self._run_batch, [work for work, _ in held], True
                )
                waiting.add_done_callback(lambda done: _settle(held, done.result()))
        finally:
            if self._queue:  # arrived while that batch was on its way
                self._flush(loop)
            else:
                self._flushing = False

    def _run_batch(
        self, works: list[Callable[[Any], Any]], waiting: bool = False
    ) -> list[tuple[bool, Any]]:
        """Each work's outcome, (True, result) or (False, error), from one transaction
        when they all succeed: on the connection that waits for no lock, or `waiting`
        up to the lock timeout on a pooled one.

        When one raises, the whole transaction is rolled back and that work's error is
        its answer (met on the state it would have been committed on: the works before
        it); the others run again without it. A lock held elsewhere (_LockHeld, or
        LockTimeout when waiting) or an unavailable database is every work's answer,
        as it would be for each alone.
        """
        run = partial(write, self._engine) if waiting else self._run_eagerly
        outcomes: list[tuple[bool, Any]] = [(False, None)] * len(works)
        remaining = list(range(len(works)))
        while remaining:
            batch = [works[i] for i in remaining]
            try:
                results = [run(batch[0])] if len(batch) == 1 else run(_Batch(batch, self._dbapi))
            except _WorkFailed as failed:
                outcomes[remaining.pop(failed.index)] = (False, failed.error)
                continue
            except Exception as exc:  # one work's own error, _LockHeld, Unavailable
                for i in remaining:
                    outcomes[i] = (False, exc)
                break
            for i, result in zip(remaining, results, strict=True):
                outcomes[i] = (True, result)
            break
        return outcomes

    def close(self) -> None:
        """Wait for writes in progress, then release the threads and connections."""
        self._committer.shutdown(wait=True)
        self._executor.shutdown(wait=True)
        if self._eager is not None:
            _close_quietly(self._dbapi, self._eager)
            self._eager = None

    def _run_eagerly(self, work: Callable[[Any], T]) -> T:
        """`work` in one transaction on the connection that waits for no lock."""
        connection = self._eager
        if connection is not None and self._eager_pool is not self._engine.pool:
            # A read found a connection dropped (a database restart) and replaced the
            # pool (drop_pooled_connections): this one predates it, so it goes too,
            # before a write finds it dead and fails (writes are never retried).
            self._eager = None
            _close_quietly(self._dbapi, connection)
            connection = None
        if connection is None:
            connection = _detached_connection(self._engine)
            with translate_unavailable(self._engine):
                if self._sqlite:
                    connection.execute("PRAGMA busy_timeout=0")
                else:
                    connection.execute("SET lock_timeout = 1")  # ms; 0 would mean none
                    connection.commit()
            self._eager = connection
            self._eager_pool = self._engine.pool
        try:
            result = _on_cursor(self._dbapi, connection, work)
            connection.commit()
        except BaseException as exc:
            with contextlib.suppress(self._dbapi.Error):
                connection.rollback()
            if isinstance(exc, self._dbapi.OperationalError) and is_lock_timeout(exc):
                raise _LockHeld from exc
            if isinstance(exc, self._dbapi.OperationalError | self._dbapi.InterfaceError):
                self._eager = None
                _close_quietly(self._dbapi, connection)
                failure = connection_failure(self._engine, exc, connection)
                if isinstance(failure, ConnectionDropped):
                    drop_pooled_connections(self._engine)  # opened before now: suspect too
                raise failure from exc
            raise
        return result


def _settle(pending: list[tuple[Any, asyncio.Future]], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand each caller its outcome (unless it was cancelled meanwhile)."""
    for (_, future), (ok, value) in zip(pending, outcomes, strict=True):
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class _WorkFailed(Exception):
    """The work at `index` of a _Batch raised `error` (not a database failure): the
    batch's transaction is rolled back, so that work's changes are not kept."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class _Batch:
    """Several works as one: run in order on one cursor, their results in order."""

    def __init__(self, works: list[Callable[[Any], Any]], dbapi: Any) -> None:
        self._works = works
        # A lock not granted or a connection lost: the batch's failure, not one work's.
        self._database_failures = (dbapi.OperationalError, dbapi.InterfaceError)

    def __call__(self, cursor: Any) -> list[Any]:
        results = []
        for index, work in enumerate(self._works):
            try:
                results.append(work(cursor))
            except Exception as exc:
                if isinstance(exc, self._database_failures):
                    raise  # the connection's, not this work's: for every one
                raise _WorkFailed(index, exc) from exc
        return results


class _LockHeld(Exception):
    """Another connection holds a lock the write needs; this attempt changed nothing."""


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
        failure = connection_failure(engine, exc, connection.dbapi_connection)
        if connection.is_valid and not isinstance(failure, LockTimeout):
            connection.invalidate(exc)
        if isinstance(failure, ConnectionDropped):
            drop_pooled_connections(engine)  # every older one too, as SQLAlchemy does
        raise failure from exc
    finally:
        connection.close()  # back to the pool (or closed, if invalidated)


def drop_pooled_connections(engine: sa.Engine) -> None:
    """Close every idle pooled connection; the pool opens new ones as needed.

    After one connection was found dropped (a database restart), the others opened
    before it most likely were too. SQLAlchemy's own disconnect handling marks them
    with the private `Pool._invalidate`; `Engine.dispose()` is the public way to the
    same end: the idle ones close now, and ones in use are closed when returned.
    """
    engine.dispose()


@contextmanager
def transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A SQLAlchemy Connection in one transaction, committed when the block ends."""
    with translate_unavailable(engine), engine.begin() as connection:
        yield connection


def read_retrying_once(engine: sa.Engine, read: Callable[[sa.Connection], T]) -> T:
    """Run the read-only `read` on a pooled connection, and once more on a new one if
    that connection proved dead (SQLAlchemy then drops every pooled connection as
    old): a database restart between calls costs no failed read. A database that is
    still down fails the second try fast, as Unavailable."""
    with translate_unavailable(engine):
        try:
            with engine.connect() as connection:
                return read(connection)
        except sa_exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        with engine.connect() as connection:
            return read(connection)
