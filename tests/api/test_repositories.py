"""Create, get, update, delete: every rule, over both transports."""

from __future__ import annotations

import grpc
import pytest

from tests.support.api import ApiError

NAME = "registry.local/user1/image1"


def expect_error(code: grpc.StatusCode, call, *args, **kwargs) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    assert caught.value.message, "every error needs a message a user can act on"
    return caught.value


def test_create_returns_the_original_shape(alice):
    repo = alice.create(NAME, "puller", "s3cret-pw")
    namespace = repo["namespace"]
    assert repo["name"] == NAME
    assert repo["in_use"] is False
    assert repo["registry"] == f"/api/repo/v1/{namespace}/registry/registry.local/"
    assert repo["resource_uri"] == f"/api/repo/v1/{namespace}/repository/{NAME}/"
    assert "username" not in repo and "password" not in repo
    assert repo["create_time"] == repo["update_time"]


def test_get_returns_what_create_made(alice):
    created = alice.create("localhost:5000/team/app", "u", "p")
    assert alice.get("localhost:5000/team/app") == created


def test_the_callers_own_namespace_can_be_named_or_omitted(alice):
    created = alice.create(NAME, "u", "p")
    namespace = created["namespace"]
    assert alice.get(NAME, namespace=namespace) == created
    assert alice.list(namespace=namespace)["objects"] == alice.list()["objects"] == [created]


def test_same_name_twice_is_already_exists(alice):
    alice.create(NAME, "u", "p")
    error = expect_error(grpc.StatusCode.ALREADY_EXISTS, alice.create, NAME, "u2", "p2")
    assert NAME in error.message
    assert alice.list()["meta"]["total_count"] == 1


def test_the_same_name_may_live_in_two_namespaces(new_user, connect):
    first, second = connect(new_user()), connect(new_user())
    first.create(NAME, "u", "p")
    assert second.create(NAME, "u", "p")["name"] == NAME


@pytest.mark.parametrize("operation", ["get", "update", "delete"])
def test_unknown_name_is_not_found(alice, operation):
    kwargs = {"password": "new"} if operation == "update" else {}
    error = expect_error(
        grpc.StatusCode.NOT_FOUND, getattr(alice, operation), "my.registry.com/ghost", **kwargs
    )
    assert "my.registry.com/ghost" in error.message


def test_update_changes_only_what_is_sent(alice, server):
    created = alice.create(NAME, "old-user", "old-pw")
    namespace = created["namespace"]

    updated = alice.update(NAME, password="new-pw")
    assert updated["name"] == NAME
    assert updated["create_time"] == created["create_time"]
    assert updated["update_time"] >= created["update_time"]
    assert "username" not in updated and "password" not in updated
    assert server.admin_api.stored_credentials(namespace, NAME) == ("old-user", "new-pw")

    alice.update(NAME, username="new-user")
    assert server.admin_api.stored_credentials(namespace, NAME) == ("new-user", "new-pw")

    alice.update(NAME, username="third", password="third-pw")
    assert server.admin_api.stored_credentials(namespace, NAME) == ("third", "third-pw")


def test_update_with_nothing_in_it_is_invalid(alice):
    alice.create(NAME, "u", "p")
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.update, NAME)
    assert error.field_violations


def test_update_to_empty_credentials_is_invalid(alice):
    alice.create(NAME, "u", "p")
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.update, NAME, password="")
    assert error.fields == {"password"}
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.update, NAME, username="")
    assert error.fields == {"username"}


def test_delete_removes_the_record_and_its_credentials(alice, server):
    created = alice.create(NAME, "u", "p")
    alice.delete(NAME)
    expect_error(grpc.StatusCode.NOT_FOUND, alice.get, NAME)
    expect_error(grpc.StatusCode.NOT_FOUND, alice.delete, NAME)
    assert alice.list()["meta"]["total_count"] == 0
    with pytest.raises(Exception, match="not found"):
        server.admin_api.stored_credentials(created["namespace"], NAME)
    # The name is free again.
    assert alice.create(NAME, "u", "p")["name"] == NAME


@pytest.mark.parametrize("missing", ["name", "username", "password"])
def test_create_needs_name_username_and_password(alice, missing):
    fields = {"name": NAME, "username": "u", "password": "p"} | {missing: ""}
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.create, **fields)
    assert error.fields == {missing}


def test_create_reports_every_bad_field_at_once(alice):
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.create, "nohost", "", "")
    assert error.fields == {"name", "username", "password"}


VALID_NAMES = [
    "my.registry.com/myrepo",
    "registry.local/user1/image1",
    "localhost/app",
    "localhost:5000/team/app",
    "registry:5000/a",
    "10.0.0.1:443/org/img",
    "reg.example.io/a/b/c/d/e",
    "quay.io/my_org/my-app__tool.v2",
    "r.io/" + "a" * 250,  # exactly 255 characters
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names_round_trip(alice, name):
    assert alice.create(name, "u", "p")["name"] == name
    assert alice.get(name)["name"] == name
    alice.delete(name)


INVALID_NAMES = [
    ("myrepo", "no registry host"),
    ("library/ubuntu", "not a registry host"),
    ("my.registry.com", "no registry host"),
    ("My.Registry.com/repo", "lowercase"),
    ("my.registry.com/MyRepo", "path component"),
    ("my.registry.com/repo:latest", "tag"),
    ("my.registry.com/repo@sha256:" + "a" * 64, "digest"),
    ("my.registry.com//repo", "empty path component"),
    ("my.registry.com/repo/", "empty path component"),
    ("my.registry.com/re..po", "path component"),
    ("my.registry.com/-repo", "path component"),
    ("host:99999/repo", "out of range"),
    ("-bad.host/repo", "not a valid registry host"),
    ("r.io/" + "a" * 251, "at most 255"),
]


@pytest.mark.parametrize(("name", "reason"), INVALID_NAMES)
def test_invalid_names_are_refused_with_the_reason(alice, name, reason):
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.create, name, "u", "p")
    assert error.fields == {"name"}
    assert reason in " ".join(d for _, d in error.field_violations)
    assert alice.list()["meta"]["total_count"] == 0


@pytest.mark.parametrize("operation", ["get", "update", "delete"])
def test_invalid_name_on_other_operations_is_invalid_argument(alice, operation):
    kwargs = {"password": "new"} if operation == "update" else {}
    error = expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, getattr(alice, operation), "no-host-here", **kwargs
    )
    assert "name" in error.fields


def test_in_use_is_false_in_every_answer(alice):
    alice.create(NAME, "u", "p")
    answers = [alice.get(NAME), alice.update(NAME, password="x"), *alice.list()["objects"]]
    assert [a["in_use"] for a in answers] == [False, False, False]
