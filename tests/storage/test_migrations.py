"""Alembic migrations on SQLite and PostgreSQL: they build exactly the models, undo
cleanly, run once however many servers start together, and a server whose database
is behind (and may not migrate) refuses to start with a clear message.

Each case gets a fresh, empty database (`database_url`), on each database kind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from extrepo_server.storage import schema
from extrepo_server.storage.database import create_engine
from sqlmodel import SQLModel

from harness.live_server import REPO_ROOT, LiveServer


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def _differences(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_every_migration_on_an_empty_database_builds_exactly_the_models(engine):
    assert _tables(engine) == set()
    result = schema.upgrade(engine)
    assert result == (set(), schema.head_revisions(), False)
    assert _tables(engine) == {*SQLModel.metadata.tables, "alembic_version"}
    assert _differences(engine) == []


def test_the_comparison_sees_a_difference_when_there_is_one(engine):
    """The check above can fail: a column the models lack is reported."""
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE repository ADD COLUMN stray INTEGER")
    assert [d[0] for d in _differences(engine)] == ["remove_column"]


def test_the_name_columns_compare_bytes_on_postgresql(postgres):
    """(SQLite's default BINARY collation already compares bytes.)"""
    engine = create_engine(postgres.create_database("collation"))
    schema.upgrade(engine)
    with engine.connect() as connection:
        collations = connection.exec_driver_sql(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns "
            "WHERE (table_name, column_name) IN "
            "(('repository', 'name'), ('registry_count', 'host'))"
        ).all()
    engine.dispose()
    assert sorted(collations) == [("registry_count", "host", "C"), ("repository", "name", "C")]


def test_downgrade_to_nothing_and_up_again(engine):
    schema.upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(schema.alembic_config(connection), "base")
    assert _tables(engine) <= {"alembic_version"}
    schema.upgrade(engine)
    assert _differences(engine) == []


def test_upgrade_again_changes_nothing(engine):
    schema.upgrade(engine)
    assert schema.upgrade(engine) == (schema.head_revisions(), schema.head_revisions(), False)


def test_a_database_made_before_migrations_is_adopted(engine):
    """Databases that `create_all` made (before migrations) are stamped, not rebuilt."""
    # What `create_all` made then is the first revision's schema, with no version table.
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), schema.BASELINE_REVISION)
        connection.exec_driver_sql("DROP TABLE alembic_version")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO account (name, kind, repository_count, created_at) "
            "VALUES ('old', 'user', 0, CURRENT_TIMESTAMP)"
        )
    with pytest.raises(schema.SchemaError, match="tables made before migrations"):
        schema.check(engine)
    assert schema.upgrade(engine) == (set(), schema.head_revisions(), True)
    schema.check(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM account").scalars().all() == ["old"]


# -- the command line and the server's start ------------------------------------


def _cli(*args: str, database_url: str, data_dir: Path, env: dict | None = None):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "extrepo_server",
            *args,
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url,
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_a_server_behind_the_migrations_refuses_to_start_until_migrated(database_url, tmp_path):
    no_migrate = {"EXTREPO_MIGRATE_ON_START": "false"}
    refused = _cli(
        "serve",
        "--address",
        "127.0.0.1:0",
        database_url=database_url,
        data_dir=tmp_path,
        env=no_migrate,
    )
    assert refused.returncode == 1
    assert "schema is behind this server" in refused.stderr
    assert "extrepo-server migrate" in refused.stderr
    assert "Traceback" not in refused.stderr

    assert _cli("migrate", "--check", database_url=database_url, data_dir=tmp_path).returncode == 1
    migrated = _cli("migrate", database_url=database_url, data_dir=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated an empty database -> " in migrated.stderr
    checked = _cli("migrate", "--check", database_url=database_url, data_dir=tmp_path)
    assert checked.returncode == 0, checked.stderr

    with LiveServer(tmp_path, database_url=database_url, env=no_migrate) as live:
        assert live.process is not None and live.process.poll() is None


def test_a_database_migrated_by_a_newer_server_is_refused(engine, database_url, tmp_path):
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'f00dcafe'")
    for extra in ({}, {"EXTREPO_MIGRATE_ON_START": "false"}):
        result = _cli(
            "serve",
            "--address",
            "127.0.0.1:0",
            database_url=database_url,
            data_dir=tmp_path,
            env=extra,
        )
        assert result.returncode == 1
        assert "revision f00dcafe, which this server does not know" in result.stderr


def test_servers_starting_together_migrate_once(database_url, tmp_path):
    """Several `migrate` at once on one empty database (as replicas starting together
    would): one migrates, the others wait for it and find nothing to do."""
    count = 4
    with ThreadPoolExecutor(count) as pool:
        results = list(
            pool.map(
                lambda n: _cli("migrate", database_url=database_url, data_dir=tmp_path / str(n)),
                range(count),
            )
        )
    assert [r.returncode for r in results] == [0] * count, [r.stderr for r in results]
    outcomes = sorted("migrated an empty" in r.stderr for r in results)
    assert outcomes == [False] * (count - 1) + [True], [r.stderr for r in results]
    engine = create_engine(database_url)
    try:
        schema.check(engine)
    finally:
        engine.dispose()


def test_a_down_database_fails_the_start_quickly_and_clearly(tmp_path):
    """Nothing listens on the port: a clear error within the connect timeout, no
    traceback, and the password (if any) not shown."""
    url = f"postgresql+psycopg://extrepo:hunter2@127.0.0.1:{_closed_port()}/none"
    started = time.monotonic()
    result = _cli("serve", "--address", "127.0.0.1:0", database_url=url, data_dir=tmp_path)
    assert result.returncode == 1
    assert time.monotonic() - started < 15
    assert "error: cannot reach the database" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u@localhost/x", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@localhost/x", "psycopg 3 driver"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_database_url_the_server_cannot_use_is_refused_at_start(tmp_path, url, says):
    result = _cli("migrate", database_url=url, data_dir=tmp_path)
    assert result.returncode == 2
    assert "setting 'database_url'" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr
