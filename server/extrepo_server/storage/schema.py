"""The schema's version: Alembic migrations (storage/migrations), applied or checked.

`upgrade(engine)` brings the database to the newest revision; `check(engine)` fails
unless it is already there. A server calls one of them at start (per
EXTREPO_MIGRATE_ON_START), `extrepo-server migrate` calls `upgrade`.

Several replicas may start at once against one PostgreSQL: the migration runs in one
transaction holding a transaction-level advisory lock, so one replica migrates while
the others wait, then find the schema current and do nothing. PostgreSQL's DDL is
transactional, so a failed migration leaves nothing half done. On SQLite the
migration runs in a BEGIN IMMEDIATE transaction (the database's write lock), with
foreign keys off, because batch mode's table copies would otherwise cascade deletes.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import NamedTuple

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .errors import translate_unavailable

log = logging.getLogger("extrepo.schema")
# Alembic narrates every context it opens; our own line says what was migrated.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The first revision: the schema as `create_all` made it before migrations existed.
BASELINE_REVISION = "0001"
# pg_advisory_xact_lock key shared by every extrepo server: "extrepo" as an integer.
_MIGRATION_LOCK_KEY = int.from_bytes(b"extrepo", "big")
_MIGRATION_BUSY_TIMEOUT_MS = 120_000


class SchemaError(Exception):
    """The database's schema does not fit this server, and the message says what to do."""


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's configuration, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> set[str]:
    return set(_scripts().get_heads())


def current_revisions(connection: sa.Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


def _known(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def _refuse_unknown(current: set[str]) -> None:
    unknown = sorted(r for r in current if not _known(r))
    if unknown:
        raise SchemaError(
            f"the database's schema is at revision {', '.join(unknown)}, which this server "
            "does not know: a newer extrepo-server migrated it; run that version (or newer)"
        )


def _predates_migrations(connection: sa.Connection) -> bool:
    """Tables made by `create_all` before migrations existed, without a version."""
    return sa.inspect(connection).has_table("account")


def check(engine: sa.Engine) -> None:
    """Fail with SchemaError unless the database is at this server's newest revision."""
    with translate_unavailable(engine), engine.connect() as connection:
        current = current_revisions(connection)
        unversioned = not current and _predates_migrations(connection)
    heads = head_revisions()
    if current == heads:
        return
    _refuse_unknown(current)
    found = (
        "tables made before migrations existed"
        if unversioned
        else f"revision {', '.join(sorted(current))}"
        if current
        else "no extrepo tables"
    )
    raise SchemaError(
        f"the database's schema is behind this server (it has {found}; this server needs "
        f"revision {', '.join(sorted(heads))}): run `extrepo-server migrate` with the same "
        "database settings, or let the server migrate on start (EXTREPO_MIGRATE_ON_START=true)"
    )


class Upgrade(NamedTuple):
    """What `upgrade()` did: the revisions before and after, and whether the database
    predated migrations and was adopted (stamped with the baseline revision)."""

    before: set[str]
    after: set[str]
    adopted: bool


def upgrade(engine: sa.Engine) -> Upgrade:
    """Apply every missing migration."""
    with translate_unavailable(engine):
        if engine.dialect.name == "sqlite":
            return _upgrade_sqlite(engine)
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Replicas starting together wait for the one migrating, however long
                # it takes: not bounded by the calls' lock_timeout (database.py).
                connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                # Held until this transaction ends: concurrent replicas queue here.
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            return _upgrade_on(connection)


def _upgrade_sqlite(engine: sa.Engine) -> Upgrade:
    with engine.connect() as connection:
        busy_timeout_ms = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        # Only outside a transaction does this pragma take effect.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # Wait for another process's write as long as a migration may need, not the
        # calls' bounded lock timeout (database.py); restored below.
        connection.exec_driver_sql(f"PRAGMA busy_timeout={_MIGRATION_BUSY_TIMEOUT_MS}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                result = _upgrade_on(connection)
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise SchemaError(f"migration broke foreign keys: {problems[:5]}")
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_timeout_ms}")
            connection.commit()
    return result


def _upgrade_on(connection: sa.Connection) -> Upgrade:
    before = current_revisions(connection)
    _refuse_unknown(before)
    config = alembic_config(connection)
    adopted = not before and _predates_migrations(connection)
    if adopted:
        log.info(
            "adopting a database made before migrations", extra={"revision": BASELINE_REVISION}
        )
        command.stamp(config, BASELINE_REVISION)
    if before != head_revisions():
        command.upgrade(config, "heads")
    after = current_revisions(connection)
    if before != after:
        log.info(
            "migrated the database",
            extra={"from": ",".join(sorted(before)) or "empty", "to": ",".join(sorted(after))},
        )
    return Upgrade(before, after, adopted)
