"""The API's repository store, on SQLite and on a real PostgreSQL, without the server:
records, pages and their totals, partial updates, and the errors each write can give."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from extrepo_server.domain.access import NamespaceGrant
from extrepo_server.domain.errors import AlreadyExists, NotFound, Unavailable
from extrepo_server.domain.paging import Window
from extrepo_server.domain.ports import EncryptedCredentials
from extrepo_server.storage import schema
from extrepo_server.storage.accounts import USER, AccountStore
from extrepo_server.storage.database import create_engine
from extrepo_server.storage.keys import KeyRecords
from extrepo_server.storage.reencryption import CredentialRows
from extrepo_server.storage.repositories import RepositoryStore

KEY_ID = "00000000000000a1"
SECRET = EncryptedCredentials("u-token", "p-token", KEY_ID)
run = asyncio.run  # the store's writes are awaited
NAMES = sorted(
    [f"a.io/app{i}" for i in range(4)] + [f"b.io/app{i}" for i in range(3)] + ["a.iox/edge"]
)


@pytest.fixture
def stores(database_url) -> Iterator[tuple[RepositoryStore, CredentialRows, NamespaceGrant]]:
    engine = create_engine(database_url)
    schema.upgrade(engine)
    owner = NamespaceGrant("owner", AccountStore(engine).create_account("owner", USER))
    KeyRecords(engine).register(KEY_ID, "check")
    store = RepositoryStore(engine)
    try:
        yield store, CredentialRows(engine), owner
    finally:
        store.close()
        engine.dispose()


@pytest.fixture
def filled(stores):
    store, rows, owner = stores
    for name in reversed(NAMES):
        run(store.create(owner, name, name.partition("/")[0], SECRET))
    return store, rows, owner


def test_create_then_get_gives_one_and_the_same_record(stores):
    store, _, owner = stores
    before = datetime.now(UTC)
    created = run(store.create(owner, "reg.io/team/app", "reg.io", SECRET))
    assert created == store.get(owner, "reg.io/team/app")
    assert (created.namespace, created.name, created.in_use) == ("owner", "reg.io/team/app", False)
    assert created.created_at == created.updated_at and created.created_at >= before
    assert created.created_at.tzinfo is not None
    assert created.registry == "/api/repo/v1/owner/registry/reg.io/"
    assert created.resource_uri == "/api/repo/v1/owner/repository/reg.io/team/app/"


def test_a_duplicate_name_is_already_exists_and_changes_no_count(filled):
    store, _, owner = filled
    with pytest.raises(AlreadyExists, match="already registered"):
        run(store.create(owner, NAMES[0], "a.io", SECRET))
    assert store.page(owner, Window(100))[1] == len(NAMES)


def test_pages_in_name_order_with_totals(filled):
    store, _, owner = filled
    rows, total = store.page(owner, Window(3))
    assert [r.name for r in rows] == NAMES[:3] and total == len(NAMES)
    rows, _ = store.page(owner, Window(3, skip=3))
    assert [r.name for r in rows] == NAMES[3:6]
    rows, _ = store.page(owner, Window(3, after=NAMES[2]))
    assert [r.name for r in rows] == NAMES[3:6]
    rows, _ = store.page(owner, Window(3, before=NAMES[6]))
    assert [r.name for r in rows] == NAMES[3:6], "a before page comes back in name order"


def test_a_host_filter_takes_exactly_that_host(filled):
    store, _, owner = filled
    rows, total = store.page(owner, Window(100), host="a.io")
    assert [r.name for r in rows] == [n for n in NAMES if n.startswith("a.io/")]
    assert total == 4, "a.iox/edge is on another host"
    assert store.page(owner, Window(100), host="c.io") == ([], 0)


def test_a_name_filter_holds_at_most_one(filled):
    store, _, owner = filled
    rows, total = store.page(owner, Window(10), name="b.io/app1")
    assert [r.name for r in rows] == ["b.io/app1"] and total == 1
    assert store.page(owner, Window(10, skip=1), name="b.io/app1") == ([], 1)
    assert store.page(owner, Window(10), name="b.io/app1", host="a.io") == ([], 0)
    assert store.page(owner, Window(10), name="b.io/nope") == ([], 0)


def test_namespaces_do_not_see_each_other(filled, database_url):
    store, _, owner = filled
    engine = create_engine(database_url)
    try:
        other = NamespaceGrant("other", AccountStore(engine).create_account("other", USER))
    finally:
        engine.dispose()
    assert store.page(other, Window(100)) == ([], 0)
    with pytest.raises(NotFound):
        store.get(other, NAMES[0])
    run(store.create(other, NAMES[0], "a.io", SECRET))  # the same name in another namespace
    assert store.page(owner, Window(100))[1] == len(NAMES)


def test_an_update_changes_only_the_fields_sent(stores):
    store, rows, owner = stores
    created = run(store.create(owner, "reg.io/app", "reg.io", SECRET))
    namespace_id = owner.account_id
    updated = run(store.update_credentials(owner, "reg.io/app", **_new(password="p2")))
    assert updated.updated_at > created.updated_at and updated.created_at == created.created_at
    assert rows.get(namespace_id, "reg.io/app") == EncryptedCredentials("u-token", "p2", KEY_ID)
    run(store.update_credentials(owner, "reg.io/app", **_new(username="u2")))
    assert rows.get(namespace_id, "reg.io/app") == EncryptedCredentials("u2", "p2", KEY_ID)
    with pytest.raises(NotFound, match="'reg\\.io/nope' not found"):
        run(store.update_credentials(owner, "reg.io/nope", **_new(username="u")))


def test_delete_removes_the_row_and_its_counts(filled):
    store, _, owner = filled
    run(store.delete(owner, "a.io/app0", "a.io"))
    with pytest.raises(NotFound):
        store.get(owner, "a.io/app0")
    assert store.page(owner, Window(1))[1] == len(NAMES) - 1
    assert store.page(owner, Window(1), host="a.io")[1] == 3
    with pytest.raises(NotFound):
        run(store.delete(owner, "a.io/app0", "a.io"))
    assert store.page(owner, Window(1))[1] == len(NAMES) - 1, "a failed delete counts nothing"


def _new(*, username=None, password=None, key_id=KEY_ID, rewrap=None) -> dict:
    """update_credentials' arguments: new tokens under `key_id`; `rewrap` turns a kept
    token of another key into one under `key_id` (by default: it must not be needed)."""

    def must_not_rewrap(token: str) -> str | None:
        raise AssertionError(f"rewrap({token!r}) was not expected")

    return {
        "username": username,
        "password": password,
        "key_id": key_id,
        "rewrap": rewrap or must_not_rewrap,
    }


def test_a_one_field_update_under_a_new_key_rewraps_the_other_field(stores):
    """A row is never under two keys: a password-only update under another key
    re-encrypts the kept username in the same write, and records the new key."""
    store, rows, owner = stores
    run(store.create(owner, "reg.io/app", "reg.io", SECRET))
    KeyRecords(store._engine).register("00000000000000b2", "check-b")
    run(
        store.update_credentials(
            owner,
            "reg.io/app",
            **_new(password="p-b", key_id="00000000000000b2", rewrap=lambda t: t + "@b"),
        )
    )
    assert rows.get(owner.account_id, "reg.io/app") == EncryptedCredentials(
        "u-token@b", "p-b", "00000000000000b2"
    )
    # Back under the first key: the username follows again.
    run(
        store.update_credentials(
            owner, "reg.io/app", **_new(username="u-a", rewrap=lambda t: t + "@a")
        )
    )
    assert rows.get(owner.account_id, "reg.io/app") == EncryptedCredentials("u-a", "p-b@a", KEY_ID)


def test_a_one_field_update_refuses_a_kept_field_it_cannot_open(stores):
    store, rows, owner = stores
    run(store.create(owner, "reg.io/app", "reg.io", SECRET))
    KeyRecords(store._engine).register("00000000000000b2", "check-b")
    with pytest.raises(Unavailable, match="retry shortly, or send both username and password"):
        run(
            store.update_credentials(
                owner,
                "reg.io/app",
                **_new(password="p-b", key_id="00000000000000b2", rewrap=lambda t: None),
            )
        )
    assert rows.get(owner.account_id, "reg.io/app") == SECRET, "nothing written"
    # Both fields sent: nothing to keep, so nothing to open.
    run(
        store.update_credentials(
            owner, "reg.io/app", **_new(username="u-b", password="p-b", key_id="00000000000000b2")
        )
    )
    assert rows.get(owner.account_id, "reg.io/app") == EncryptedCredentials(
        "u-b", "p-b", "00000000000000b2"
    )


def test_a_write_under_a_key_the_database_does_not_know_is_refused(stores):
    store, rows, owner = stores
    run(store.create(owner, "reg.io/app", "reg.io", SECRET))
    unknown = EncryptedCredentials("u", "p", "ffffffffffffffff")
    with pytest.raises(Unavailable, match="encryption key was retired"):
        run(store.create(owner, "reg.io/other", "reg.io", unknown))
    with pytest.raises(Unavailable, match="encryption key was retired"):
        run(
            store.update_credentials(
                owner, "reg.io/app", **_new(username="u", password="p", key_id="ffffffffffffffff")
            )
        )
    assert store.page(owner, Window(10))[1] == 1, "nothing created, nothing counted"
    assert rows.get(owner.account_id, "reg.io/app") == SECRET


def test_credential_rows_rewrite_only_rows_unchanged_since_read(filled):
    store, rows, owner = filled
    KeyRecords(store._engine).register("00000000000000b2", "check-b")
    every = [row for batch in rows.batches() for row in batch]
    assert [r.name for r in every] == list(reversed(NAMES)), "in id order"
    # A server updates one row between the read and the rewrite: that row keeps it.
    run(store.update_credentials(owner, every[0].name, **_new(username="U0", password="P0")))
    written = rows.rewrite(
        [
            (r, EncryptedCredentials("U", r.credentials.password + "!", "00000000000000b2"))
            for r in every
        ]
    )
    assert written == [False] + [True] * (len(NAMES) - 1)
    assert rows.get(owner.account_id, every[0].name) == EncryptedCredentials("U0", "P0", KEY_ID)
    for row in every[1:]:
        assert rows.get(owner.account_id, row.name) == EncryptedCredentials(
            "U", "p-token!", "00000000000000b2"
        )
    assert [r.name for b in rows.batches(not_under="00000000000000b2") for r in b] == [
        every[0].name
    ]
