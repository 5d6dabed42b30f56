"""Engine creation and schema set-up. The only SQLite-specific code lives here."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from . import models  # noqa: F401  (registers the tables on SQLModel.metadata)


def sqlite_url_for(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'extrepo.db'}"


def create_engine(url: str, *, pool_size: int = 5) -> sa.Engine:
    """An engine for `url`, with SQLite tuned for a concurrent server (WAL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no branch
            cursor = dbapi_connection.cursor()
            # WAL lets readers run beside a writer; NORMAL is durable across
            # application crashes in WAL mode and far faster than FULL.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return sa.create_engine(url, pool_size=pool_size, pool_pre_ping=True)


def create_schema(engine: sa.Engine) -> None:
    SQLModel.metadata.create_all(engine)
