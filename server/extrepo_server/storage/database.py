"""Engine creation. The only dialect-specific connection settings live here.

SQLite: WAL, for a concurrent server on one machine.

PostgreSQL (psycopg 3): a pool of `pool_size` connections, no overflow, and short
network timeouts, because the server calls the database synchronously on its event
loop (see app.py): a database that is down must answer "unavailable" within
`connect_timeout` seconds, never hold the loop for the operating system's TCP timeout.

No `pool_pre_ping` by default: it costs a round trip on every checkout, and every call checks a
connection out (measured in the README). Instead a connection the database dropped
is noticed by the call that uses it, which answers UNAVAILABLE; that call invalidates
the whole pool (see prepared.py and SQLAlchemy's own disconnect handling), so after
a database restart one call per server fails and the next ones reconnect.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from . import models  # noqa: F401  (registers the tables on SQLModel.metadata)

DEFAULT_CONNECT_TIMEOUT_SECONDS = 2
DEFAULT_LOCK_TIMEOUT_SECONDS = 5.0


def sqlite_url_for(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'extrepo.db'}"


def check_database_url(url: str) -> str:
    """`url` if this server can use it, else ValueError saying what would work."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise ValueError(
            "not a database URL; use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from None
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "postgresql" and driver != "psycopg":
        raise ValueError("PostgreSQL URLs must name the psycopg 3 driver: postgresql+psycopg://")
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database '{backend}'; use sqlite or postgresql+psycopg")
    return url


def create_engine(
    url: str,
    *,
    pool_size: int = 5,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    pre_ping: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
) -> sa.Engine:
    """An engine for `url`: SQLite tuned for a concurrent server, or a PostgreSQL pool.

    `lock_timeout` bounds how long a statement waits for a lock another connection
    holds (SQLite's busy timeout, PostgreSQL's lock_timeout); then it fails, and the
    caller hears UNAVAILABLE with a retry hint (storage/errors.py).
    """
    lock_timeout_ms = max(1, int(lock_timeout * 1000))
    parsed = make_url(check_database_url(url))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": lock_timeout})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no branch
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside a writer; NORMAL is durable across
            # application crashes in WAL mode and far faster than FULL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={lock_timeout_ms}")
            cursor.close()

        return engine
    return sa.create_engine(
        url,
        pool_size=pool_size,
        # The event loop uses one connection at a time; the pool's size bounds
        # what the admin commands and any threads may add. Waiting for a free
        # connection is bounded like connecting.
        max_overflow=0,
        pool_timeout=connect_timeout,
        pool_pre_ping=pre_ping,
        connect_args={
            "connect_timeout": connect_timeout,
            # A peer that vanished without closing (network partition) fails the
            # connection once sent data stays unacknowledged this long (ms).
            "tcp_user_timeout": connect_timeout * 1000,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "application_name": "extrepo-server",
            "options": f"-c lock_timeout={lock_timeout_ms}",
        },
    )
