"""The database's record of credential keys, on SQLite and PostgreSQL: ids and check
values, which keys the rows need, and a key that a row needs cannot be forgotten
(the foreign key decides, inside the transaction)."""

from __future__ import annotations

import asyncio

import pytest
from extrepo_server.domain.access import NamespaceGrant
from extrepo_server.domain.errors import FailedPrecondition
from extrepo_server.domain.ports import EncryptedCredentials
from extrepo_server.storage import schema
from extrepo_server.storage.accounts import USER, AccountStore
from extrepo_server.storage.database import create_engine
from extrepo_server.storage.keys import KeyRecords
from extrepo_server.storage.repositories import RepositoryStore

A, B = "00000000000000aa", "00000000000000bb"
run = asyncio.run  # the store's writes are awaited


@pytest.fixture
def keys(database_url):
    engine = create_engine(database_url)
    schema.upgrade(engine)
    owner = NamespaceGrant("owner", AccountStore(engine).create_account("owner", USER))
    store = RepositoryStore(engine)
    try:
        yield KeyRecords(engine), store, owner
    finally:
        store.close()
        engine.dispose()


def test_a_key_is_recorded_once_and_its_first_check_value_stays(keys):
    records, _, _ = keys
    assert not records.holds_credentials() and records.registered() == {}
    assert records.register(A, "check-a") == "check-a"
    assert records.register(A, "check-a") == "check-a", "again: nothing changes"
    assert records.register(A, "another") == "check-a", "a second key with that id is told"
    assert records.registered() == {A: "check-a"}


def test_which_keys_the_rows_need(keys):
    records, store, owner = keys
    records.register(A, "check-a")
    records.register(B, "check-b")
    assert records.in_use() == {}
    for n in range(3):
        run(store.create(owner, f"r.io/a{n}", "r.io", EncryptedCredentials("u", "p", A)))
    run(store.create(owner, "r.io/b", "r.io", EncryptedCredentials("u", "p", B)))
    assert records.holds_credentials() and records.repository_count() == 4
    assert records.in_use() == {A: "check-a", B: "check-b"}
    assert records.count_under(A) == 3
    assert records.count_not_under(A) == {B: 1}
    assert records.sample(B) == EncryptedCredentials("u", "p", B)
    assert not records.unrecorded_rows()


def test_a_key_a_row_needs_cannot_be_retired(keys):
    records, store, owner = keys
    records.register(A, "check-a")
    records.register(B, "check-b")
    run(store.create(owner, "r.io/a", "r.io", EncryptedCredentials("u", "p", A)))
    with pytest.raises(FailedPrecondition, match="written under an old key meanwhile"):
        records.retire_all_but(B)
    assert set(records.registered()) == {A, B}, "nothing forgotten"
    run(store.delete(owner, "r.io/a", "r.io"))
    assert records.retire_all_but(B) == [A]
    assert set(records.registered()) == {B}
    assert not records.is_registered(A) and records.is_registered(B)
