"""The registry store (read-only, over registry_count), on SQLite and on a real
PostgreSQL, without the server: pages in host order by keyset and by offset, totals,
one registry, rows at 0 hidden, namespaces apart, and the stored check read back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from extrepo_server.domain.access import NamespaceGrant
from extrepo_server.domain.errors import NotFound
from extrepo_server.domain.paging import Window
from extrepo_server.domain.ports import EncryptedCredentials, Verification, VerificationState
from extrepo_server.storage import models, schema
from extrepo_server.storage.accounts import USER, AccountStore
from extrepo_server.storage.database import create_engine
from extrepo_server.storage.keys import KeyRecords
from extrepo_server.storage.registries import RegistryStore
from extrepo_server.storage.repositories import RepositoryStore

KEY_ID = "00000000000000a1"
SECRET = EncryptedCredentials("u-token", "p-token", KEY_ID)
run = asyncio.run
# Byte order on both databases ("C" collation on PostgreSQL): '-' < '.' < digits < ':'.
HOSTS = sorted(["a-b.io", "a.io", "a.io:5000", "a0.io", "b.io", "localhost:5000", "z.io"])


@pytest.fixture
def engine(database_url) -> Iterator[sa.Engine]:
    engine = create_engine(database_url)
    schema.upgrade(engine)
    KeyRecords(engine).register(KEY_ID, "check")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def stores(engine) -> Iterator[tuple[RepositoryStore, RegistryStore, NamespaceGrant]]:
    owner = NamespaceGrant("owner", AccountStore(engine).create_account("owner", USER))
    repositories, registries = RepositoryStore(engine), RegistryStore(engine)
    for host in reversed(HOSTS):
        run(repositories.create(owner, f"{host}/app", host, SECRET))
    run(repositories.create(owner, "a.io/other", "a.io", SECRET))
    try:
        yield repositories, registries, owner
    finally:
        registries.close()
        repositories.close()


def test_pages_in_host_order_by_keyset_and_offset(stores):
    _, registries, owner = stores
    rows, total = registries.page(owner, Window(3))
    assert [r.host for r in rows] == HOSTS[:3] and total == len(HOSTS)
    assert [r.host for r in registries.page(owner, Window(3, skip=3))[0]] == HOSTS[3:6]
    assert [r.host for r in registries.page(owner, Window(3, after=HOSTS[2]))[0]] == HOSTS[3:6]
    before = registries.page(owner, Window(3, before=HOSTS[6]))[0]
    assert [r.host for r in before] == HOSTS[3:6], "a before page comes back in host order"
    assert [r.host for r in registries.page(owner, Window(3, before=HOSTS[1]))[0]] == HOSTS[:1]
    assert registries.page(owner, Window(3, after=HOSTS[-1])) == ([], len(HOSTS))
    assert registries.page(owner, Window(3, skip=50)) == ([], len(HOSTS))


def test_one_registry_with_its_count_and_no_check_yet(stores):
    _, registries, owner = stores
    record = registries.get(owner, "a.io")
    assert (record.namespace, record.host, record.repository_count) == ("owner", "a.io", 2)
    assert record.last_verification.state is VerificationState.PENDING
    assert record.last_verification.checked_at is None
    assert registries.get(owner, "a.io:5000").repository_count == 1
    with pytest.raises(NotFound, match=r"registry 'c\.io' is not used by any repository"):
        registries.get(owner, "c.io")


def test_a_registry_at_zero_is_hidden_until_used_again(stores):
    repositories, registries, owner = stores
    run(repositories.delete(owner, "z.io/app", "z.io"))
    with pytest.raises(NotFound):
        registries.get(owner, "z.io")
    rows, total = registries.page(owner, Window(100))
    assert [r.host for r in rows] == HOSTS[:-1] and total == len(HOSTS) - 1
    run(repositories.create(owner, "z.io/again", "z.io", SECRET))
    assert registries.get(owner, "z.io").repository_count == 1


def test_namespaces_are_apart(stores, engine):
    repositories, registries, owner = stores
    other = NamespaceGrant("other", AccountStore(engine).create_account("other", USER))
    assert registries.page(other, Window(10)) == ([], 0)
    with pytest.raises(NotFound):
        registries.get(other, "a.io")
    run(repositories.create(other, "only.io/app", "only.io", SECRET))
    assert [r.host for r in registries.page(other, Window(10))[0]] == ["only.io"]
    assert "only.io" not in [r.host for r in registries.page(owner, Window(100))[0]]


def test_the_latest_check_is_read_back(stores, engine):
    _, registries, owner = stores
    checked_at = datetime(2026, 11, 28, 7, 42, 13, tzinfo=UTC)
    table = models.RegistryCount.__table__
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.namespace_id == owner.account_id, table.c.host == "b.io")
            .values(
                last_check_state=VerificationState.CREDENTIALS_REJECTED.value,
                last_checked_at=checked_at,
                last_check_reason="b.io refused these credentials",
            )
        )
    expected = Verification(
        VerificationState.CREDENTIALS_REJECTED, checked_at, "b.io refused these credentials"
    )
    assert registries.get(owner, "b.io").last_verification == expected
    listed = {r.host: r for r in registries.page(owner, Window(100))[0]}
    assert listed["b.io"].last_verification == expected
    assert listed["a.io"].last_verification.state is VerificationState.PENDING
