"""The Registry resource over gRPC and REST: the registries a namespace's repositories
live on, with the original attributes, the list envelope and paging, namespaces and
access, and the `registry` URI of every repository answer resolving to one."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from extrepo.v1 import registry_service_pb2 as registry_pb
from extrepo.v1 import registry_service_pb2_grpc as registry_pb_grpc

from tests.conftest import unique_name
from tests.support.api import ApiError, basic_authorization


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
    # The reason fits a registry listing: it names no filter this listing lacks.
    assert "belongs to another listing" in foreign.value.message
    assert "registry filter" not in foreign.value.message


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


@pytest.mark.parametrize("transport_name", ["grpc", "rest"])
def test_a_plain_http_registry_is_not_ssl(tmp_path, transport_name):
    """A host listed in EXTREPO_REGISTRY_PLAIN_HTTP_HOSTS is reached over HTTP: port 80
    unless the host names one; the other hosts keep HTTPS."""
    from harness.gateway import start_gateway
    from harness.live_server import LiveServer
    from tests.support.api import grpc_api
    from tests.support.rest_api import make_rest_api

    env = {"EXTREPO_REGISTRY_PLAIN_HTTP_HOSTS": "plain.example.com, plain.example.com:8000"}
    with LiveServer(tmp_path, env=env) as server:
        key = server.create_user("plain")
        stop = None
        if transport_name == "grpc":
            api = grpc_api(server, "plain", key)
        else:
            base_url, stop = start_gateway(server.address)
            api = make_rest_api(base_url, basic_authorization("plain", key))
        try:
            names = ("plain.example.com/app", "plain.example.com:8000/app", "tls.example.com/a")
            for name in names:
                api.create(name, "u", "p")
            seen = {
                r["host"]: (r["is_ssl"], r["port"], r["name"]) for r in api.registries()["objects"]
            }
            assert seen == {
                "plain.example.com": (False, 80, "plain.example.com"),
                "plain.example.com:8000": (False, 8000, "plain.example.com:8000"),
                "tls.example.com": (True, 443, "tls.example.com"),
            }
            assert api.registry("plain.example.com")["port"] == 80
        finally:
            if stop is not None:
                stop()


def test_every_docker_hub_name_is_docker_hub(alice):
    hub_hosts = ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]
    for host in hub_hosts:
        alice.create(f"{host}/library/app", "u", "p")
    alice.create("docker.example.com/library/app", "u", "p")  # a lookalike is not
    for host in hub_hosts:
        hub = alice.registry(host)
        assert (hub["name"], hub["is_docker_registry"], hub["is_ssl"], hub["port"]) == (
            "Docker Hub",
            True,
            True,
            443,
        ), host
    other = alice.registry("docker.example.com")
    assert (other["name"], other["is_docker_registry"]) == ("docker.example.com", False)


def test_the_unnamespaced_paths_are_the_callers_namespace(alice, new_user, connect):
    created = alice.create("mine.example.com/app", "u", "p")
    me = created["namespace"]
    assert alice.registries() == alice.registries(namespace=me)
    assert alice.registry("mine.example.com") == alice.registry("mine.example.com", namespace=me)
    assert alice.registries()["objects"][0]["resource_uri"] == (
        f"/api/repo/v1/{me}/registry/mine.example.com/"
    )
    # Another user's own namespace shows nothing of alice's.
    bob = connect(new_user("bob"))
    assert bob.registries()["meta"]["total_count"] == 0
    with pytest.raises(ApiError) as hidden:
        bob.registry("mine.example.com")
    assert hidden.value.code == grpc.StatusCode.NOT_FOUND
    with pytest.raises(ApiError) as refused:
        bob.registries(namespace=me)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_host_no_repository_uses_is_not_found(alice):
    alice.create("used.example.com/app", "u", "p")
    with pytest.raises(ApiError) as missing:
        alice.registry("unused.example.com")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    assert missing.value.message.startswith("registry 'unused.example.com' is not used by any")
    # A repository's path is not a registry, and a port is part of the host.
    with pytest.raises(ApiError) as other_port:
        alice.registry("used.example.com:5000")
    assert other_port.value.code == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("not a host", "is not a valid registry host"),
        ("Reg.Example.com", "must be lowercase"),
        ("reg.example.com:99999", "out of range"),
        ("r" * 300 + ".io", "at most 253"),
    ],
)
def test_a_malformed_host_is_invalid_argument(alice, host, says):
    with pytest.raises(ApiError) as bad:
        alice.registry(host)
    assert bad.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert bad.value.fields == {"host"}
    assert says in bad.value.message
    assert "r" * 100 not in bad.value.message  # a short prefix of an input at most


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"limit": 101}, {"limit"}),
        ({"limit": -1}, {"limit"}),
        ({"offset": -1}, {"offset"}),
        ({"limit": 500, "offset": -3}, {"limit", "offset"}),
        ({"cursor": "not-a-cursor"}, {"cursor"}),
    ],
)
def test_bad_paging_fields_are_invalid_argument(alice, fields, bad):
    with pytest.raises(ApiError) as refused:
        alice.registries(**fields)
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.fields == bad


def test_a_cursor_alone_continues_the_listing(new_user, connect, grpc_channel):
    user = new_user("cursor")
    alice = connect(user)
    hosts = [f"c{i}.example.com" for i in range(5)]
    for host in hosts:
        alice.create(f"{host}/app", "u", "p")
    first = alice.registries(limit=2)
    assert _hosts(first) == hosts[:2]
    cursor = parse_qs(urlsplit(first["meta"]["next"]).query)["cursor"][0]
    # The cursor without its offset: it carries the offset it was issued for.
    second = alice.registries(limit=2, cursor=cursor)
    assert (_hosts(second), second["meta"]["offset"]) == (hosts[2:4], 2)
    # A cursor belongs to the offset it was issued for: another one is refused.
    with pytest.raises(ApiError) as moved:
        alice.registries(limit=2, offset=1, cursor=cursor)
    assert moved.value.fields == {"cursor"}
    if alice.transport == "grpc":
        # gRPC callers get that cursor plainly, as next_page_token; empty on the last page.
        stub = registry_pb_grpc.RegistryServiceStub(grpc_channel)
        metadata = (("authorization", basic_authorization(user.name, user.api_key)),)
        page = stub.ListRegistries(registry_pb.ListRegistriesRequest(limit=2), metadata=metadata)
        assert page.next_page_token == cursor
        seen, token = [], ""
        while True:
            page = stub.ListRegistries(
                registry_pb.ListRegistriesRequest(limit=2, cursor=token), metadata=metadata
            )
            seen += [r.host for r in page.objects]
            token = page.next_page_token
            if not token:
                break
        assert seen == hosts
    else:
        body = alice.client.get("/api/repo/v1/registry/", params={"limit": 2}).json()
        assert list(body) == ["meta", "objects"], "no next_page_token over REST"
        assert set(body["meta"]) == {"limit", "next", "offset", "previous", "total_count"}


def test_ip_literal_hosts_have_their_port(alice):
    alice.create("[::1]:5000/app", "u", "p")
    alice.create("[fe80::1]/app", "u", "p")
    alice.create("10.0.0.7:8443/app", "u", "p")
    ports = {r["host"]: r["port"] for r in alice.registries()["objects"]}
    assert ports == {"10.0.0.7:8443": 8443, "[::1]:5000": 5000, "[fe80::1]": 443}
    one = alice.registry("[::1]:5000")
    assert one["resource_uri"].endswith("/registry/[::1]:5000/")
    if alice.transport == "rest":
        # The URI as given, brackets and colons unescaped, reaches GetRegistry.
        answer = alice.client.get(one["resource_uri"])
        assert answer.status_code == 200, answer.text
        assert answer.json() == one
