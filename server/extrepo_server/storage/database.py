"""Engine creation. The only dialect-specific connection settings live here.

SQLite: WAL, for a concurrent server on one machine. Its files (the database, and the
-wal and -shm files SQLite makes beside it with the database file's mode) are
owner-only, like the key file: they hold API key hashes and encrypted credentials.

PostgreSQL (psycopg 3): a pool of `pool_size` connections, no overflow, and short
network timeouts, because the server calls the database synchronously on its event
loop (see app.py): a database that is down must answer "unavailable" within
`connect_timeout` seconds, never hold the loop for the operating system's TCP timeout.

No `pool_pre_ping` by default: it costs a round trip on every checkout, and every call checks a
connection out (measured in the README). Instead a connection the database dropped
is noticed by the call that uses it, which answers UNAVAILABLE; that call invalidates
the whole pool (see connections.py and SQLAlchemy's own disconnect handling), so after
a database restart one call per server fails and the next ones reconnect.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from . import models  # noqa: F401  (registers the tables on SQLModel.metadata)

DEFAULT_CONNECT_TIMEOUT_SECONDS = 2
DEFAULT_LOCK_TIMEOUT_SECONDS = 5.0
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")

log = logging.getLogger("extrepo.database")


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


def _owner_only_sqlite_file(path: Path) -> None:
    """Create the database file owner-only (0600) before SQLite does (it would make it
    0644, and its -wal and -shm files after it), in a directory only the owner may
    enter if it is new; tighten such files left readable by others, if ours."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # an empty file is an empty database
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, *(path.with_name(path.name + s) for s in _SQLITE_SIDE_FILES)):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            mode = file.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(file, mode & 0o700)
                log.warning(
                    "made a database file owner-only",
                    extra={"path": str(file), "mode_was": f"{mode:o}"},
                )


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
            _owner_only_sqlite_file(Path(parsed.database))
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
