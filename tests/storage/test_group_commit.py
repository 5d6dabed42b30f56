"""Group commit (storage/connections.py Writer): writes that arrive together share one
transaction, yet each is all-or-nothing with its own answer; a failing one (a duplicate
name, an error of its own) fails alone; a lock held elsewhere makes each wait and then
succeed, or fail with the retry hint, as a write alone would. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
import sqlalchemy as sa
from extrepo_server.domain.access import NamespaceGrant
from extrepo_server.domain.errors import AlreadyExists, Unavailable
from extrepo_server.domain.paging import Window
from extrepo_server.domain.ports import EncryptedCredentials
from extrepo_server.storage import schema
from extrepo_server.storage.accounts import USER, AccountStore
from extrepo_server.storage.connections import Writer
from extrepo_server.storage.database import create_engine
from extrepo_server.storage.keys import KeyRecords
from extrepo_server.storage.repositories import RepositoryStore
from extrepo_server.storage.statements import PreparedStatement

KEY_ID = "00000000000000b2"
SECRET = EncryptedCredentials("u-token", "p-token", KEY_ID)
_scratch = sa.Table("scratch", sa.MetaData(), sa.Column("name", sa.String(50), primary_key=True))


@pytest.fixture
def engine(database_url) -> Iterator[sa.Engine]:
    engine = create_engine(database_url, lock_timeout=1.0)
    schema.upgrade(engine)
    _scratch.create(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def writer(engine) -> Iterator[Writer]:
    writer = Writer(engine, threads=2)
    try:
        yield writer
    finally:
        writer.close()


def _in_transaction(cursor) -> bool:
    """A transaction is open on the cursor's connection (before this work wrote)."""
    connection = cursor.connection
    if isinstance(connection, sqlite3.Connection):
        return connection.in_transaction
    return connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def _names(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(connection.execute(sa.select(_scratch.c.name)).scalars())


async def _together(writer: Writer, *works):
    """Each work through Writer.run, all started in one pass of the event loop."""
    return await asyncio.gather(*(writer.run(w) for w in works), return_exceptions=True)


def test_writes_arriving_together_share_one_transaction(engine, writer):
    insert = PreparedStatement(engine, _scratch.insert().values(name=sa.bindparam("name")))

    def inserting(name: str):
        def work(cursor) -> tuple[str, bool]:
            shared = _in_transaction(cursor)  # opened by a write before this one
            insert.execute_on(cursor, {"name": name})
            return name, shared

        return work

    results = asyncio.run(_together(writer, *(inserting(n) for n in "abcd")))
    assert results == [("a", False), ("b", True), ("c", True), ("d", True)]
    assert _names(engine) == ["a", "b", "c", "d"]
    # A write alone has a transaction of its own.
    assert asyncio.run(writer.run(inserting("e"))) == ("e", False)


def test_a_failing_write_fails_alone_and_keeps_nothing(engine, writer):
    insert = PreparedStatement(engine, _scratch.insert().values(name=sa.bindparam("name")))

    def inserting(name: str, then_fail: bool = False):
        def work(cursor) -> str:
            insert.execute_on(cursor, {"name": name})
            if then_fail:
                raise ValueError(f"{name}: after writing")
            return name

        return work

    results = asyncio.run(
        _together(
            writer,
            inserting("a"),
            inserting("a"),  # a duplicate of the first, in the same batch
            inserting("b"),
            inserting("c", then_fail=True),  # wrote, then failed: its row must go
            inserting("d"),
        )
    )
    assert results[0] == "a" and results[2] == "b" and results[4] == "d"
    dbapi = engine.dialect.loaded_dbapi
    assert isinstance(results[1], dbapi.IntegrityError), results[1]
    assert isinstance(results[3], ValueError) and str(results[3]) == "c: after writing"
    assert _names(engine) == ["a", "b", "d"]


@pytest.fixture
def store(engine) -> Iterator[tuple[RepositoryStore, NamespaceGrant]]:
    owner = NamespaceGrant("owner", AccountStore(engine).create_account("owner", USER))
    KeyRecords(engine).register(KEY_ID, "check")
    store = RepositoryStore(engine)
    try:
        yield store, owner
    finally:
        store.close()


def test_concurrent_creates_with_a_duplicate_keep_counts_exact(store):
    store, owner = store
    names = ["r.io/a", "r.io/b", "r.io/a", "s.io/c", "r.io/d", "s.io/c"]

    async def create_all():
        return await asyncio.gather(
            *(store.create(owner, n, n.split("/")[0], SECRET) for n in names),
            return_exceptions=True,
        )

    results = asyncio.run(create_all())
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    assert failed == [2, 5], results
    assert all(isinstance(results[i], AlreadyExists) for i in failed)
    assert [r.name for r in results if not isinstance(r, Exception)] == [
        "r.io/a",
        "r.io/b",
        "s.io/c",
        "r.io/d",
    ]
    rows, total = store.page(owner, Window(25))
    assert [r.name for r in rows] == ["r.io/a", "r.io/b", "r.io/d", "s.io/c"] and total == 4
    # The per-registry counters moved only for the creates that were kept.
    assert store.page(owner, Window(25), host="r.io")[1] == 3
    assert store.page(owner, Window(25), host="s.io")[1] == 1


@contextmanager
def write_lock_held_elsewhere(engine: sa.Engine) -> Iterator[None]:
    """Another connection's transaction holding what a write to `scratch` needs."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
    else:
        connection = psycopg.connect(url.set(drivername="postgresql").render_as_string(False))
        connection.execute("LOCK TABLE scratch IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


def test_writes_together_behind_a_lock_each_wait_then_land(engine, writer):
    insert = PreparedStatement(engine, _scratch.insert().values(name=sa.bindparam("name")))

    def inserting(name: str):
        return lambda cursor: insert.execute_on(cursor, {"name": name})

    async def behind_lock():
        with write_lock_held_elsewhere(engine):
            writes = asyncio.ensure_future(_together(writer, *(inserting(n) for n in "xyz")))
            await asyncio.sleep(0.3)
            assert not writes.done()  # waiting for the lock, off the event loop
        return await writes

    assert asyncio.run(behind_lock()) == [1, 1, 1]
    assert _names(engine) == ["x", "y", "z"]


def test_writes_together_that_never_get_the_lock_each_fail_with_retry_hint(engine, writer):
    insert = PreparedStatement(engine, _scratch.insert().values(name=sa.bindparam("name")))

    def inserting(name: str):
        return lambda cursor: insert.execute_on(cursor, {"name": name})

    with write_lock_held_elsewhere(engine):
        results = asyncio.run(_together(writer, *(inserting(n) for n in "xyz")))
    assert len(results) == 3
    for result in results:
        assert isinstance(result, Unavailable) and result.reason == "DATABASE_LOCKED", result
        assert result.retry_after_seconds
    assert _names(engine) == []
