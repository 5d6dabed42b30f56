"""Translation of driver errors into domain errors: the one place that knows which
driver error means what (as Flipt's storage/sql/errors.go), for every store.

A unique violation becomes AlreadyExists with the store's own message; a foreign-key
violation (a row written for an account deleted meanwhile) the store's NotFound or
NamespaceGone; a database
that cannot be reached, or that dropped a connection, becomes Unavailable (its
subclass ConnectionDropped tells a reader that one retry on a new connection is safe).
Anything else is a bug and stays what it is, so the interceptor logs it as INTERNAL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from ..domain.errors import DomainError, Unavailable

_UNIQUE_VIOLATION_SQLSTATE = "23505"
_FOREIGN_KEY_VIOLATION_SQLSTATE = "23503"
# PostgreSQL's lock_not_available (lock_timeout) and deadlock_detected.
_LOCK_CONFLICT_SQLSTATES = frozenset({"55P03", "40P01"})
_UNAVAILABLE = "the database is unavailable; retry shortly"
_LOCKED = (
    "another write holds the database lock for longer than the lock timeout; "
    "nothing was changed, retry shortly"
)
LOCKED_RETRY_AFTER_SECONDS = 1.0

T = TypeVar("T")


def is_unique_violation(exc: Exception) -> bool:
    """`exc` (SQLAlchemy's IntegrityError, or the driver's own) is a duplicate key."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == _UNIQUE_VIOLATION_SQLSTATE:  # PostgreSQL
        return True
    # sqlite3 names the constraint kind (Python 3.11+).
    return getattr(orig, "sqlite_errorname", "") in (
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    )


def is_foreign_key_violation(exc: Exception) -> bool:
    """`exc` (SQLAlchemy's IntegrityError, or the driver's own) is a foreign key that
    does not hold (a row naming a missing parent, or a parent still named)."""
    orig = getattr(exc, "orig", exc)
    if getattr(orig, "sqlstate", None) == _FOREIGN_KEY_VIOLATION_SQLSTATE:  # PostgreSQL
        return True
    return getattr(orig, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_FOREIGNKEY"


@contextmanager
def _integrity_error_as(
    engine: sa.Engine, matches: Callable[[Exception], bool], error: Callable[[], DomainError]
) -> Iterator[None]:
    """Raise `error()` in place of an IntegrityError that `matches` (from SQLAlchemy
    or, on the prepared path, from the driver itself); others pass unchanged."""
    try:
        yield
    except (sa_exc.IntegrityError, engine.dialect.loaded_dbapi.IntegrityError) as exc:
        if matches(exc):
            raise error() from None
        raise


def duplicate_key_as(
    engine: sa.Engine, error: Callable[[], DomainError]
) -> AbstractContextManager[None]:
    """Raise `error()` in place of an IntegrityError that is a duplicate key. The
    database enforces uniqueness, so no read-then-write race is possible."""
    return _integrity_error_as(engine, is_unique_violation, error)


def missing_account_as(
    engine: sa.Engine, error: Callable[[], DomainError]
) -> AbstractContextManager[None]:
    """Raise `error()` in place of an IntegrityError that is a foreign-key violation:
    the account a row belongs to (a repository's namespace, a key's user) was deleted
    between the caller's checks and the write. Both databases check foreign keys at
    once (SQLite with PRAGMA foreign_keys=ON, see database.py), and the deletion's
    cascade removes whatever was written before it, so nothing is left orphaned."""
    return _integrity_error_as(engine, is_foreign_key_violation, error)


def is_lock_conflict(exc: BaseException | None) -> bool:
    """`exc` is a lock wait that timed out, or a deadlock PostgreSQL broke: the
    transaction was rolled back, and trying it again is safe."""
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlstate", None) in _LOCK_CONFLICT_SQLSTATES


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached, or dropped the connection."""

    reason = "DATABASE_UNAVAILABLE"


class ConnectionDropped(DatabaseUnavailable):
    """A pooled connection turned out dead (e.g. the database restarted); a read may
    safely be retried once on a new connection."""


def is_lock_timeout(exc: Exception) -> bool:
    """`exc` says a lock held elsewhere was not granted in time (SQLite's busy
    timeout, or busy at once with a zero timeout; PostgreSQL's lock_timeout, or a
    deadlock it broke)."""
    if is_lock_conflict(exc):
        return True
    orig = getattr(exc, "orig", exc)
    return getattr(orig, "sqlite_errorname", "").startswith("SQLITE_BUSY")


class LockTimeout(DatabaseUnavailable):
    """A write waited for another connection's lock as long as allowed; it changed
    nothing, and the connection is fine."""

    reason = "DATABASE_LOCKED"


def connection_failure(engine: sa.Engine, exc: Exception, dbapi_connection: Any) -> Unavailable:
    """The domain error for a driver's OperationalError or InterfaceError on a
    connection: LockTimeout when a lock was not granted in time, ConnectionDropped
    when the database dropped the connection (a read may then be retried on a new
    one), else Unavailable."""
    if is_lock_timeout(exc):
        return LockTimeout(_LOCKED, retry_after_seconds=LOCKED_RETRY_AFTER_SECONDS)
    dropped = engine.dialect.is_disconnect(exc, dbapi_connection, None)
    error = ConnectionDropped if dropped else DatabaseUnavailable
    return error(_UNAVAILABLE)


def is_unavailable(exc: Exception) -> bool:
    """The database could not be reached or dropped the connection."""
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )


@contextmanager
def translate_unavailable(engine: sa.Engine) -> Iterator[None]:
    """Turn a lost or unreachable database into the domain's Unavailable.

    Covers both SQLAlchemy's wrapped errors and the driver's own, which compiled
    statements (see statements.py) meet directly.
    """
    dbapi = engine.dialect.loaded_dbapi
    try:
        yield
    except sa_exc.DBAPIError as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable(_UNAVAILABLE) from exc
        raise
    except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
        raise DatabaseUnavailable(_UNAVAILABLE) from exc
