"""Translation of driver errors into domain errors, at the storage boundary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from ..domain.errors import Unavailable

_UNIQUE_VIOLATION_SQLSTATE = "23505"

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


class ConnectionDropped(Unavailable):
    """A pooled connection turned out dead (e.g. the database restarted); a read may
    safely be retried once on a new connection."""


def is_unavailable(exc: Exception) -> bool:
    """The database could not be reached or dropped the connection."""
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    )


@contextmanager
def translate_unavailable(engine: sa.Engine) -> Iterator[None]:
    """Turn a lost or unreachable database into the domain's Unavailable.

    Covers both SQLAlchemy's wrapped errors and the driver's own, which prepared
    queries (see prepared.py) meet directly.
    """
    dbapi = engine.dialect.loaded_dbapi
    try:
        yield
    except sa_exc.DBAPIError as exc:
        if is_unavailable(exc):
            raise Unavailable("the database is unavailable; retry shortly") from exc
        raise
    except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
        raise Unavailable("the database is unavailable; retry shortly") from exc


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
