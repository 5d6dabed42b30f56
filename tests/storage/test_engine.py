"""The engine the server builds from its settings."""

from __future__ import annotations

import pytest
from extrepo_server.app import build
from extrepo_server.config import Settings


def test_the_pool_is_sized_from_the_settings(database_url, database, tmp_path):
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, db_pool_size=3, db_connect_timeout_seconds=4
    )
    engine = build(settings).engine
    try:
        if database == "postgresql":
            assert engine.pool.size() == 3
            assert engine.pool._max_overflow == 0
            with engine.connect() as connection:
                info = connection.connection.dbapi_connection.info
                assert info.get_parameters()["connect_timeout"] == "4"
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM account").scalar() == 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("size", ["0", "-1", "many"])
def test_a_bad_pool_size_is_refused(monkeypatch, size):
    monkeypatch.setenv("EXTREPO_DB_POOL_SIZE", size)
    with pytest.raises(ValueError, match="db_pool_size"):
        Settings()
