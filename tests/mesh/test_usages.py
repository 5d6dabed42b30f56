"""The internal listener and UsageService: mesh services with a client certificate
from the mesh CA record which repositories they use; `in_use` follows over gRPC and
REST; a repository in use is not deleted (also when the two race, on SQLite and on
PostgreSQL with two replicas); callers without the right certificate or policy are
refused with the right code."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography.fernet import Fernet
from extrepo.v1 import usage_service_pb2 as pb
from extrepo.v1 import usage_service_pb2_grpc as pb_grpc

from harness.gateway import start_gateway
from harness.live_server import LiveServer
from harness.mesh_certs import Issued, MeshCA
from harness.registries import free_port
from tests.support.api import ApiError, GrpcApi, basic_authorization
from tests.support.rest_api import make_rest_api

DEPLOYER = "spiffe://test.example/deployer"
READER = "spiffe://test.example/reader"
NARROW = "spiffe://test.example/narrow"
UNLISTED = "spiffe://test.example/stranger"
_names = itertools.count(1)

POLICY = f"""
[[service]]
identity = "{DEPLOYER}"
namespaces = ["*"]
calls = ["*"]

[[service]]
identity = "{READER}"
namespaces = ["*"]
calls = ["ListUsages"]

[[service]]
identity = "{NARROW}"
namespaces = ["only-this-one"]
calls = ["*"]

[[service]]
identity = "deployer.mesh.internal"
namespaces = ["*"]
calls = ["CreateUsage"]
"""


@dataclass
class Mesh:
    ca: MeshCA
    directory: Path

    def env(self, port: int) -> dict[str, str]:
        cert, key = self.ca.server().write(self.directory, f"server{port}")
        (self.directory / "ca.pem").write_bytes(self.ca.pem)
        (self.directory / "policy.toml").write_text(POLICY)
        return {
            "EXTREPO_INTERNAL_ADDRESS": f"127.0.0.1:{port}",
            "EXTREPO_INTERNAL_TLS_CERT_FILE": str(cert),
            "EXTREPO_INTERNAL_TLS_KEY_FILE": str(key),
            "EXTREPO_MESH_CA_FILE": str(self.directory / "ca.pem"),
            "EXTREPO_MESH_POLICY_FILE": str(self.directory / "policy.toml"),
        }


def mesh_stub(port: int, ca: MeshCA, client: Issued | None) -> pb_grpc.UsageServiceStub:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.pem,
        private_key=client.key_pem if client else None,
        certificate_chain=client.cert_pem if client else None,
    )
    return pb_grpc.UsageServiceStub(grpc.secure_channel(f"127.0.0.1:{port}", credentials))


@dataclass
class Running:
    server: LiveServer
    internal_port: int
    gateway_url: str
    mesh: Mesh

    def stub(self, client: Issued | None) -> pb_grpc.UsageServiceStub:
        return mesh_stub(self.internal_port, self.mesh.ca, client)

    def user(self, transport: str = "grpc"):
        name = f"meshuser{next(_names)}"
        authorization = basic_authorization(name, self.server.create_user(name))
        if transport == "grpc":
            return name, GrpcApi(grpc.insecure_channel(self.server.address), authorization)
        return name, make_rest_api(self.gateway_url, authorization)


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Running]:
    directory = tmp_path_factory.mktemp("mesh")
    mesh = Mesh(MeshCA(), directory)
    port = free_port()
    with LiveServer(directory / "server", env=mesh.env(port)) as server:
        gateway_url, stop = start_gateway(server.address)
        try:
            yield Running(server, port, gateway_url, mesh)
        finally:
            stop()


@pytest.fixture(scope="module")
def deployer(running) -> Issued:
    return running.mesh.ca.issue(uri=DEPLOYER)


def create(stub, namespace: str, repository: str, consumer: str) -> pb.CreateUsageResponse:
    return stub.CreateUsage(
        pb.CreateUsageRequest(namespace=namespace, repository=repository, consumer=consumer),
        timeout=10,
    )


def remove(stub, namespace: str, repository: str, consumer: str) -> pb.DeleteUsageResponse:
    return stub.DeleteUsage(
        pb.DeleteUsageRequest(namespace=namespace, repository=repository, consumer=consumer),
        timeout=10,
    )


@pytest.mark.parametrize("transport", ["grpc", "rest"])
def test_in_use_follows_usages_and_delete_waits_for_the_last(running, deployer, transport):
    namespace, api = running.user(transport)
    name = "reg.example.com/team/app"
    assert api.create(name, "u", "p")["in_use"] is False
    stub = running.stub(deployer)

    first = create(stub, namespace, name, "/api/app/v1/service/one/")
    assert first.created and first.usage.recorded_by == DEPLOYER
    assert first.usage.create_time.seconds > 0
    again = create(stub, namespace, name, "/api/app/v1/service/one/")
    assert not again.created and again.usage.create_time == first.usage.create_time
    create(stub, namespace, name, "/api/app/v1/service/two/")
    assert api.get(name)["in_use"] is True
    assert api.list(name=name)["objects"][0]["in_use"] is True

    with pytest.raises(ApiError) as refused:
        api.delete(name)
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "REPOSITORY_IN_USE"
    assert "'/api/app/v1/service/one/'" in refused.value.message
    if transport == "rest":
        answer = api.client.delete(f"/api/repo/v1/repository/{name}/")
        assert answer.status_code == 409
        assert "is in use by" in answer.json()["error"]

    listed = stub.ListUsages(
        pb.ListUsagesRequest(namespace=namespace, repository=name, page_size=1), timeout=10
    )
    assert [u.consumer for u in listed.usages] == ["/api/app/v1/service/one/"]
    assert listed.total_size == 2
    rest = stub.ListUsages(
        pb.ListUsagesRequest(
            namespace=namespace, repository=name, page_token=listed.next_page_token
        ),
        timeout=10,
    )
    assert [u.consumer for u in rest.usages] == ["/api/app/v1/service/two/"]
    assert rest.next_page_token == ""

    assert remove(stub, namespace, name, "/api/app/v1/service/one/").in_use is True
    assert api.get(name)["in_use"] is True
    last = remove(stub, namespace, name, "/api/app/v1/service/two/")
    assert last.deleted and not last.in_use
    assert not remove(stub, namespace, name, "/api/app/v1/service/two/").deleted  # idempotent
    assert api.get(name)["in_use"] is False
    api.delete(name)


def test_usages_of_what_does_not_exist(running, deployer):
    namespace, _ = running.user()
    stub = running.stub(deployer)
    for ns, repository in (
        (namespace, "reg.example.com/none"),
        ("no-such-ns", "reg.example.com/a"),
    ):
        with pytest.raises(grpc.RpcError) as missing:
            create(stub, ns, repository, "c")
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as bad:
        create(stub, namespace, "not a name", "")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as no_namespace:
        create(stub, "", "reg.example.com/a", "c")
    assert no_namespace.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no namespace of its own" in no_namespace.value.details()


@pytest.mark.parametrize(
    ("client", "code"),
    [
        ("none", grpc.StatusCode.UNAVAILABLE),  # the handshake wants a certificate
        ("other-ca", grpc.StatusCode.UNAVAILABLE),
        ("expired", grpc.StatusCode.UNAVAILABLE),
        ("no-san", grpc.StatusCode.UNAUTHENTICATED),
        ("unlisted", grpc.StatusCode.PERMISSION_DENIED),
        ("reader", grpc.StatusCode.PERMISSION_DENIED),  # may list, not create
        ("narrow", grpc.StatusCode.PERMISSION_DENIED),  # another namespace
    ],
)
def test_who_is_refused(running, client, code):
    namespace, api = running.user()
    api.create("reg.example.com/app", "u", "p")
    ca = running.mesh.ca
    certificate = {
        "none": None,
        "other-ca": MeshCA("another CA").issue(uri=DEPLOYER),
        "expired": ca.issue(uri=DEPLOYER, expired=True),
        "no-san": ca.issue(),
        "unlisted": ca.issue(uri=UNLISTED),
        "reader": ca.issue(uri=READER),
        "narrow": ca.issue(uri=NARROW),
    }[client]
    with pytest.raises(grpc.RpcError) as refused:
        create(running.stub(certificate), namespace, "reg.example.com/app", "c")
    assert refused.value.code() == code, refused.value.details()
    assert api.get("reg.example.com/app")["in_use"] is False


def test_a_dns_identity_and_what_its_policy_allows(running):
    namespace, api = running.user()
    api.create("reg.example.com/app", "u", "p")
    stub = running.stub(running.mesh.ca.issue(dns=("deployer.mesh.internal",)))
    assert create(stub, namespace, "reg.example.com/app", "c").usage.recorded_by == (
        "deployer.mesh.internal"
    )
    with pytest.raises(grpc.RpcError) as refused:
        remove(stub, namespace, "reg.example.com/app", "c")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "may not call DeleteUsage" in refused.value.details()


def test_a_user_key_is_no_identity_on_the_internal_listener(running):
    name, _ = running.user()
    key = running.server.create_key(name)
    stub = running.stub(None)  # no client certificate: only the key
    with pytest.raises(grpc.RpcError) as refused:
        stub.ListUsages(
            pb.ListUsagesRequest(namespace=name, repository="reg.example.com/app"),
            metadata=(("authorization", basic_authorization(name, key)),),
            timeout=10,
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_the_public_listener_has_no_usage_service(running, deployer):
    name, _ = running.user()
    key = running.server.create_key(name)
    public = pb_grpc.UsageServiceStub(grpc.insecure_channel(running.server.address))
    with pytest.raises(grpc.RpcError) as missing:
        public.CreateUsage(
            pb.CreateUsageRequest(namespace=name, repository="reg.example.com/a", consumer="c"),
            metadata=(("authorization", basic_authorization(name, key)),),
            timeout=10,
        )
    assert missing.value.code() == grpc.StatusCode.UNIMPLEMENTED


def race(create_usage, delete_repository) -> tuple[object, object]:
    results: list[object] = [None, None]
    barrier = threading.Barrier(2)

    def run(index, work):
        barrier.wait()
        try:
            results[index] = work()
        except (grpc.RpcError, ApiError) as exc:
            results[index] = exc

    threads = [
        threading.Thread(target=run, args=(0, create_usage)),
        threading.Thread(target=run, args=(1, delete_repository)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results[0], results[1]


def _race_rounds(usage_stub, api, namespace: str, rounds: int) -> dict[str, int]:
    outcomes = {"usage first": 0, "delete first": 0}
    for n in range(rounds):
        name = f"race.example.com/app{n}"
        api.create(name, "u", "p")
        usage, deleted = race(
            lambda name=name: create(usage_stub, namespace, name, "c"),
            lambda name=name: api.delete(name),
        )
        if isinstance(usage, pb.CreateUsageResponse):
            # The usage landed: the delete must have been refused, the repository kept.
            assert isinstance(deleted, ApiError), (n, deleted)
            assert deleted.code == grpc.StatusCode.FAILED_PRECONDITION
            assert api.get(name)["in_use"] is True
            outcomes["usage first"] += 1
        else:
            assert usage.code() == grpc.StatusCode.NOT_FOUND, usage
            assert deleted is None  # the delete succeeded
            outcomes["delete first"] += 1
    return outcomes


def test_usage_and_delete_racing_on_sqlite(running, deployer):
    namespace, api = running.user()
    outcomes = _race_rounds(running.stub(deployer), api, namespace, 30)
    print("race outcomes:", outcomes)
    assert sum(outcomes.values()) == 30


def test_usage_and_delete_racing_on_postgresql_replicas(postgres, tmp_path):
    url = postgres.create_database("meshrace")
    mesh = Mesh(MeshCA(), tmp_path)
    ports = [free_port(), free_port()]
    keys = {"EXTREPO_SECRET_KEYS": Fernet.generate_key().decode()}  # shared by replicas
    first = LiveServer(tmp_path / "one", database_url=url, env={**mesh.env(ports[0]), **keys})
    with first:
        second = LiveServer(tmp_path / "two", database_url=url, env={**mesh.env(ports[1]), **keys})
        with second:
            name = "racer"
            key = first.create_user(name)
            api = GrpcApi(grpc.insecure_channel(second.address), basic_authorization(name, key))
            stub = mesh_stub(ports[0], mesh.ca, mesh.ca.issue(uri=DEPLOYER))
            outcomes = _race_rounds(stub, api, name, 30)
    print("race outcomes:", outcomes)
    assert sum(outcomes.values()) == 30


def test_usages_are_on_the_owner_record(running, deployer):
    """Each CreateUsage and DeleteUsage answers with its audit entry (trailing
    metadata), which the namespace's owner reads in their log: who, which repository,
    which consumer; a call that changed nothing is marked UNCHANGED."""
    namespace, api = running.user("grpc")
    name = "reg.example.com/team/audited"
    api.create(name, "u", "p")
    stub = running.stub(deployer)
    consumer = "/api/app/v1/service/audited/"
    request = pb.CreateUsageRequest(namespace=namespace, repository=name, consumer=consumer)
    _, call = stub.CreateUsage.with_call(request, timeout=10)
    uri = dict(call.trailing_metadata())["x-dockercloud-action-uri"]
    assert uri.startswith(f"/api/audit/v1/{namespace}/action/")
    stub.CreateUsage(request, timeout=10)
    remove(stub, namespace, name, consumer)
    with pytest.raises(grpc.RpcError) as refused:
        create(stub, namespace, "reg.example.com/team/missing", consumer)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND

    log = api.actions()["objects"]
    usage_entries = [e for e in log if e["action"].startswith("Usage")]
    assert [(e["action"], e["reason"], e["code"]) for e in usage_entries] == [
        ("Usage Create", "", "NOT_FOUND"),
        ("Usage Delete", "", "OK"),
        ("Usage Create", "UNCHANGED", "OK"),
        ("Usage Create", "", "OK"),
    ]
    assert {(e["actor"], e["detail"], e["is_user_action"]) for e in usage_entries} == {
        (DEPLOYER, f"consumer={consumer}", False)
    }
    assert usage_entries[-1]["resource_uri"] == uri
    assert usage_entries[1]["object"] == f"/api/repo/v1/{namespace}/repository/{name}/"
