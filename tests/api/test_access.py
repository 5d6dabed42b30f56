"""Authentication, namespaces and roles: users, organization owners, members, outsiders."""

from __future__ import annotations

import base64

import grpc
import pytest

from tests.api.test_repositories import NAME, expect_error
from tests.conftest import unique_name

UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED


def _basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64!!!",
        _basic("no-colon-here"),
        _basic("someone:not-a-key"),
        _basic("someone:ek_0123456789abcdef_" + "0" * 64),
    ],
    ids=["missing", "bearer", "bad-base64", "no-colon", "malformed-key", "unknown-key"],
)
def test_missing_or_bad_credentials_are_unauthenticated(connect, authorization):
    api = connect(authorization=authorization)
    for call in (api.list, lambda: api.get(NAME), lambda: api.create(NAME, "u", "p")):
        expect_error(UNAUTHENTICATED, call)


def test_a_key_works_only_with_its_own_username(new_user, connect):
    alice, bob = new_user("alice"), new_user("bob")
    api = connect(authorization=_basic(f"{bob.name}:{alice.api_key}"))
    error = expect_error(UNAUTHENTICATED, api.list)
    assert alice.api_key not in error.message


def test_a_wrong_secret_with_a_real_key_id_is_unauthenticated(new_user, connect):
    alice = new_user()
    prefix, key_id, secret = alice.api_key.split("_")
    forged = f"{prefix}_{key_id}_{'f' * len(secret)}"
    expect_error(UNAUTHENTICATED, connect(authorization=_basic(f"{alice.name}:{forged}")).list)


def test_two_users_see_nothing_of_each_other(new_user, connect):
    alice_user, bob_user = new_user("alice"), new_user("bob")
    alice, bob = connect(alice_user), connect(bob_user)
    alice.create(NAME, "u", "p")

    assert bob.list()["objects"] == []
    assert bob.list()["meta"]["total_count"] == 0
    expect_error(grpc.StatusCode.NOT_FOUND, bob.get, NAME)
    # Naming alice's namespace does not help, and tells nothing about it.
    for call in (
        lambda: bob.list(namespace=alice_user.name),
        lambda: bob.get(NAME, namespace=alice_user.name),
        lambda: bob.update(NAME, namespace=alice_user.name, password="x"),
        lambda: bob.delete(NAME, namespace=alice_user.name),
        lambda: bob.create("other.io/x", "u", "p", namespace=alice_user.name),
    ):
        expect_error(DENIED, call)
    assert alice.get(NAME)["name"] == NAME


def test_a_foreign_namespace_looks_the_same_whether_or_not_it_exists(new_user, connect):
    alice, bob, ghost = new_user("alice"), connect(new_user("bob")), unique_name("nobody")
    existing = expect_error(DENIED, bob.list, namespace=alice.name)
    missing = expect_error(DENIED, bob.list, namespace=ghost)
    assert existing.message.replace(alice.name, "X") == missing.message.replace(ghost, "X")


@pytest.fixture
def organization(server, new_user, connect):
    owner, member, outsider = new_user("owner"), new_user("member"), new_user("outsider")
    org = unique_name("org")
    server.create_org(org, owner.name)
    server.add_member(org, member.name, "member")
    return org, connect(owner), connect(member), connect(outsider)


def test_organization_owner_may_do_everything(organization):
    org, owner, _, _ = organization
    created = owner.create(NAME, "u", "p", namespace=org)
    assert created["namespace"] == org
    assert created["resource_uri"] == f"/api/repo/v1/{org}/repository/{NAME}/"
    assert owner.get(NAME, namespace=org) == created
    owner.update(NAME, namespace=org, password="new")
    assert [o["name"] for o in owner.list(namespace=org)["objects"]] == [NAME]
    owner.delete(NAME, namespace=org)
    assert owner.list(namespace=org)["meta"]["total_count"] == 0


def test_organization_member_may_list_and_get_only(organization):
    org, owner, member, _ = organization
    created = owner.create(NAME, "u", "p", namespace=org)
    assert member.get(NAME, namespace=org) == created
    assert member.list(namespace=org)["objects"] == [created]
    for call in (
        lambda: member.create("other.io/x", "u", "p", namespace=org),
        lambda: member.update(NAME, namespace=org, password="x"),
        lambda: member.delete(NAME, namespace=org),
    ):
        error = expect_error(DENIED, call)
        assert "owner" in error.message
    assert owner.get(NAME, namespace=org) == created


def test_organization_outsider_gets_nothing(organization):
    org, owner, _, outsider = organization
    owner.create(NAME, "u", "p", namespace=org)
    for call in (
        lambda: outsider.list(namespace=org),
        lambda: outsider.get(NAME, namespace=org),
        lambda: outsider.create("other.io/x", "u", "p", namespace=org),
        lambda: outsider.delete(NAME, namespace=org),
    ):
        expect_error(DENIED, call)


def test_organization_repositories_stay_out_of_personal_namespaces(organization):
    org, owner, member, _ = organization
    owner.create(NAME, "u", "p", namespace=org)
    assert owner.list()["objects"] == []
    assert member.list()["objects"] == []


@pytest.mark.parametrize("namespace", ["Bad Namespace", "-x", "a" * 40])
def test_malformed_namespace_is_invalid_argument(alice, namespace):
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.list, namespace=namespace)
    assert error.fields == {"namespace"}
