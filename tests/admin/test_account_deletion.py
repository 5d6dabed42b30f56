"""`extrepo-server admin user delete` and `admin org delete`, through the real command
line, on SQLite and PostgreSQL: refused while the account holds repositories unless
--force (which says how many went), refused for an organization's last owner, and
nothing of a deleted account left behind: keys, memberships, repositories."""

from __future__ import annotations

import threading
import time

import grpc
import psycopg
import pytest

from harness.live_server import AdminError, LiveServer
from tests.conftest import unique_name
from tests.support.api import ApiError, grpc_api

# The own_server's authentication cache lasts 0.2 s; the session server's 5 s.
OWN_CACHE_SECONDS = 0.3


def _code(call) -> grpc.StatusCode:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.code


def test_a_user_with_repositories_is_deleted_only_with_force(server):
    name = unique_name("dora")
    key = server.create_user(name)
    second_key = server.create_key(name)
    api = grpc_api(server, name, key)
    for repo in ("one.example.com/app", "two.example.com/app", "two.example.com/lib"):
        api.create(repo, "puller", "s3cret-password")

    with pytest.raises(AdminError) as refused:
        server.admin("user", "delete", name)
    assert refused.value.code == 1
    assert f"user '{name}' has 3 repositories" in refused.value.stderr
    assert "--force" in refused.value.stderr
    assert "Traceback" not in refused.value.stderr
    assert api.get("one.example.com/app")["name"] == "one.example.com/app"  # nothing went

    stdout, stderr = server.admin_output("user", "delete", name, "--force")
    assert stdout == ""
    assert f"deleted user '{name}' with 2 API keys" in stderr
    assert "3 repositories (with their credentials)" in stderr
    assert name not in server.admin("user", "list")
    with pytest.raises(AdminError, match=f"no user named '{name}'"):
        server.admin("key", "list", name)

    # The same name again is a new account: nothing of the old one comes back.
    new_key = server.create_user(name)
    fresh = grpc_api(server, name, new_key)
    listing = fresh.list()
    assert listing["objects"] == [] and listing["meta"]["total_count"] == 0
    assert fresh.list(registry="two.example.com")["meta"]["total_count"] == 0
    for old in (key, second_key):
        assert _code(grpc_api(server, name, old).list) == grpc.StatusCode.UNAUTHENTICATED


def test_a_user_without_repositories_is_deleted_and_their_key_stops_working(own_server):
    key = own_server.create_user("ivy")
    api = grpc_api(own_server, "ivy", key)
    assert api.list()["objects"] == []

    _, stderr = own_server.admin_output("user", "delete", "ivy")
    assert "deleted user 'ivy' with 1 API key, 0 organization memberships and 0 repositories" in (
        stderr
    )
    time.sleep(OWN_CACHE_SECONDS)
    with pytest.raises(ApiError) as caught:
        api.list()
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert key not in caught.value.message


def test_the_last_owner_of_an_organization_cannot_be_deleted(server):
    owner, other, org = unique_name("olga"), unique_name("otto"), unique_name("acme")
    server.create_user(owner)
    other_key = server.create_user(other)
    server.admin("org", "create", org, "--owner", owner)
    server.admin("org", "add-member", org, other)

    for args in (("user", "delete", owner), ("user", "delete", owner, "--force")):
        with pytest.raises(AdminError) as refused:
            server.admin(*args)
        assert f"user '{owner}' is the last owner of organization '{org}'" in refused.value.stderr
        assert f"admin org add-member {org} USER --role owner" in refused.value.stderr

    # With a second owner, the first may go; their membership goes with them.
    server.admin("org", "add-member", org, other, "--role", "owner")
    _, stderr = server.admin_output("user", "delete", owner)
    assert "1 organization membership" in stderr
    grpc_api(server, other, other_key).create("kept.example.com/app", "u", "p", namespace=org)
    with pytest.raises(AdminError, match="no user named"):
        server.admin("org", "remove-member", org, owner)


def test_an_organization_with_repositories_is_deleted_only_with_force(own_server):
    owner_key = own_server.create_user("omar")
    member_key = own_server.create_user("mia")
    own_server.admin("org", "create", "globex", "--owner", "omar")
    own_server.admin("org", "add-member", "globex", "mia")
    owner = grpc_api(own_server, "omar", owner_key)
    owner.create("globex.example.com/app", "u", "p", namespace="globex")
    owner.create("globex.example.com/web", "u", "p", namespace="globex")
    owner.create("own.example.com/app", "u", "p")

    with pytest.raises(AdminError) as refused:
        own_server.admin("org", "delete", "globex")
    assert "organization 'globex' has 2 repositories" in refused.value.stderr

    _, stderr = own_server.admin_output("org", "delete", "globex", "--force")
    assert "deleted organization 'globex' with 2 memberships and 2 repositories" in stderr
    time.sleep(OWN_CACHE_SECONDS)
    member = grpc_api(own_server, "mia", member_key)
    assert _code(lambda: member.list(namespace="globex")) == grpc.StatusCode.PERMISSION_DENIED
    # The owner's own namespace is untouched, and the name is free again.
    assert [r["name"] for r in owner.list()["objects"]] == ["own.example.com/app"]
    own_server.admin("org", "create", "globex", "--owner", "mia")
    assert grpc_api(own_server, "mia", member_key).list(namespace="globex")["objects"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "delete", "nobody"), "there is no user named 'nobody'"),
        (("org", "delete", "nobody"), "there is no organization named 'nobody'"),
    ],
)
def test_deleting_an_unknown_account_is_refused_clearly(server, args, message):
    with pytest.raises(AdminError) as caught:
        server.admin(*args)
    assert caught.value.code == 1
    assert message in caught.value.stderr
    assert "Traceback" not in caught.value.stderr


def test_delete_names_the_kind_of_account(server):
    user, org = unique_name("kim"), unique_name("kimco")
    server.create_user(user)
    server.admin("org", "create", org, "--owner", user)
    with pytest.raises(AdminError, match=f"there is no user named '{org}'"):
        server.admin("user", "delete", org)
    with pytest.raises(AdminError, match=f"there is no organization named '{user}'"):
        server.admin("org", "delete", user)
    assert org in server.admin("user", "list")


def test_on_postgresql_a_deletion_waits_out_a_write_in_progress(postgres, tmp_path):
    """The deletion waits for a lock at most 200 ms at a time (so that PostgreSQL never
    picks an API call as a deadlock's victim) and tries again until it has them."""
    name = unique_name("locks")
    database = postgres.create_database(name)
    with LiveServer(tmp_path, database_url=database) as server:
        api = grpc_api(server, "holder", server.create_user("holder"))
        api.create("held.example.com/app", "u", "p")
        holding = threading.Event()

        def hold_the_row() -> None:  # as an Update in progress would
            with psycopg.connect(database.replace("+psycopg", "")) as conn:
                conn.execute("SELECT id FROM repository FOR UPDATE")
                holding.set()
                time.sleep(1.5)

        holder = threading.Thread(target=hold_the_row)
        holder.start()
        assert holding.wait(10)
        started = time.monotonic()
        deleted = server.admin_api.delete_user("holder", force=True)
        waited = time.monotonic() - started
        holder.join()
        assert deleted.repositories == 1
        assert waited >= 1.0  # it did wait for the row, through several lock timeouts
        assert "holder" not in server.admin("user", "list")
