"""Translation of driver errors into domain errors, at the storage boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from ..domain.errors import Unavailable

_UNIQUE_VIOLATION_SQLSTATE = "23505"


def is_unique_violation(exc: sa_exc.IntegrityError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _UNIQUE_VIOLATION_SQLSTATE:  # PostgreSQL
        return True
    # sqlite3 names the constraint kind (Python 3.11+).
    return getattr(orig, "sqlite_errorname", "") in (
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    )


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
