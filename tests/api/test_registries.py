"""The Registry resource over gRPC and REST: the registries a namespace's repositories
live on, with the original attributes, the list envelope and paging, namespaces and
access, and the `registry` URI of every repository answer resolving to one."""

from __future__ import annotations

import grpc
import pytest

from tests.conftest import unique_name
from tests.support.api import ApiError


def _hosts(page: dict) -> list[str]:
    return [r["host"] for r in page["objects"]]


def test_a_registry_has_the_original_attributes(alice):
    alice.create("reg.example.com/team/app", "u", "p")
    alice.create("reg.example.com/team/other", "u", "p")
    alice.create("localhost:5000/app", "u", "p")
    alice.create("docker.io/library/app", "u", "p")
    me = alice.get("reg.example.com/team/app")["namespace"]

    registry = alice.registry("reg.example.com")
    assert {k: registry[k] for k in registry if k != "last_verification"} == {
        "host": "reg.example.com",
        "name": "reg.example.com",
        "port": 443,
        "is_ssl": True,
        "is_docker_registry": False,
        "resource_uri": f"/api/repo/v1/{me}/registry/reg.example.com/",
        "namespace": me,
        "repository_count": 2,
    }
    # The session's server does not check (EXTREPO_VERIFICATION=off): none has finished.
    assert registry["last_verification"]["state"] == "PENDING"
    assert registry["last_verification"].get("check_time") is None

    local = alice.registry("localhost:5000")
    assert (local["port"], local["is_ssl"], local["name"]) == (5000, True, "localhost:5000")
    hub = alice.registry("docker.io")
    assert (hub["name"], hub["is_docker_registry"], hub["port"]) == ("Docker Hub", True, 443)


def test_the_registry_uri_of_a_repository_resolves(alice):
    created = alice.create("uri.example.com/team/app", "u", "p")
    if alice.transport == "rest":
        # Followed as a client of the original API would: the URI is a path that works.
        answer = alice.client.get(created["registry"])
        assert answer.status_code == 200, answer.text
        registry = answer.json()
    else:
        namespace = created["registry"].split("/")[4]
        registry = alice.registry("uri.example.com", namespace=namespace)
    assert registry["resource_uri"] == created["registry"]
    assert registry["host"] == "uri.example.com"


def test_list_envelope_and_paging(alice):
    hosts = [f"h{i:02d}.example.com" for i in range(7)]
    for host in reversed(hosts):
        alice.create(f"{host}/app", "u", "p")
    first = alice.registries(limit=3)
    assert first["meta"]["total_count"] == 7
    assert first["meta"]["previous"] is None
    assert _hosts(first) == hosts[:3]
    second = alice.follow_registries(first["meta"]["next"])
    assert _hosts(second) == hosts[3:6]
    assert second["meta"]["offset"] == 3
    third = alice.follow_registries(second["meta"]["next"])
    assert _hosts(third) == hosts[6:]
    assert third["meta"]["next"] is None
    back = alice.follow_registries(third["meta"]["previous"])
    assert _hosts(back) == hosts[3:6]
    assert _hosts(alice.registries(limit=2, offset=5)) == hosts[5:]
    assert "/registry/?" in first["meta"]["next"]


def test_a_registry_goes_with_its_last_repository_and_comes_back(alice):
    alice.create("gone.example.com/a", "u", "p")
    alice.create("gone.example.com/b", "u", "p")
    alice.delete("gone.example.com/a")
    assert alice.registry("gone.example.com")["repository_count"] == 1
    alice.delete("gone.example.com/b")
    with pytest.raises(ApiError) as gone:
        alice.registry("gone.example.com")
    assert gone.value.code == grpc.StatusCode.NOT_FOUND
    assert "is not used by any repository" in gone.value.message
    assert alice.registries()["meta"]["total_count"] == 0
    alice.create("gone.example.com/c", "u", "p")
    assert alice.registry("gone.example.com")["repository_count"] == 1


def test_bad_hosts_and_cursors(alice):
    with pytest.raises(ApiError) as bad:
        alice.registry("not a host")
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.value.fields == {"host"}
    alice.create("cur.example.com/a", "u", "p")
    alice.create("cur.example.com/b", "u", "p")
    repository_cursor = alice.list(limit=1)["meta"]["next"].split("cursor=")[1]
    with pytest.raises(ApiError) as foreign:
        alice.registries(cursor=repository_cursor, offset=1)
    assert foreign.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert foreign.value.fields == {"cursor"}


def test_namespaces_and_access(server, new_user, connect):
    owner, member, outsider = new_user("owner"), new_user("member"), new_user("outsider")
    org = unique_name("org")
    server.create_org(org, owner.name)
    server.add_member(org, member.name, "member")
    connect(owner).create("org.example.com/app", "u", "p", namespace=org)
    # The owner's and the member's views of the organization; not their own namespaces.
    for user in (owner, member):
        api = connect(user)
        page = api.registries(namespace=org)
        assert _hosts(page) == ["org.example.com"]
        assert api.registry("org.example.com", namespace=org)["namespace"] == org
        assert api.registries()["meta"]["total_count"] == 0
    with pytest.raises(ApiError) as refused:
        connect(outsider).registries(namespace=org)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(ApiError) as refused_one:
        connect(outsider).registry("org.example.com", namespace=org)
    assert refused_one.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_registries_need_credentials(connect):
    with pytest.raises(ApiError) as refused:
        connect().registries()
    assert refused.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_a_plain_http_registry_is_not_ssl(tmp_path):
    from harness.live_server import LiveServer
    from tests.support.api import grpc_api

    env = {"EXTREPO_REGISTRY_PLAIN_HTTP_HOSTS": "plain.example.com:8000"}
    with LiveServer(tmp_path, env=env) as server:
        api = grpc_api(server, "plain", server.create_user("plain"))
        api.create("plain.example.com:8000/app", "u", "p")
        registry = api.registry("plain.example.com:8000")
        assert (registry["is_ssl"], registry["port"]) == (False, 8000)
