"""GetPullAccess against the reference registry (token auth and Basic auth), through
the internal listener: the token really pulls its repository and no other, the
stored password is in no token answer, passwords go only where the policy allows,
tokens are reused, every hand-out is recorded without its secret."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import grpc
import httpx
import pytest
import sqlalchemy as sa
from extrepo.v1 import pull_access_service_pb2 as pb
from extrepo.v1 import pull_access_service_pb2_grpc as pb_grpc

from harness.live_server import LiveServer
from harness.mesh_certs import MeshCA
from harness.registries import free_port
from tests.mesh.test_usages import POLICY, Mesh
from tests.support.api import GrpcApi, basic_authorization
from tests.support.registries import OUTSIDER, PULLER

PULLER_ID = "spiffe://test.example/puller"
TRUSTED_ID = "spiffe://test.example/trusted-builder"
PULL_POLICY = (
    POLICY
    + f"""
[[service]]
identity = "{PULLER_ID}"
namespaces = ["*"]
calls = ["GetPullAccess"]

[[service]]
identity = "{TRUSTED_ID}"
namespaces = ["*"]
calls = ["GetPullAccess"]
allow_password = true
"""
)


class Pulling:
    def __init__(self, server: LiveServer, port: int, ca: MeshCA) -> None:
        self.server = server
        self.port = port
        self.ca = ca
        self.user = "owner"
        self.api = GrpcApi(
            grpc.insecure_channel(server.address),
            basic_authorization(self.user, server.create_user(self.user)),
        )

    def stub(self, identity: str) -> pb_grpc.PullAccessServiceStub:
        client = self.ca.issue(uri=identity)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.ca.pem,
            private_key=client.key_pem,
            certificate_chain=client.cert_pem,
        )
        channel = grpc.secure_channel(f"127.0.0.1:{self.port}", credentials)
        return pb_grpc.PullAccessServiceStub(channel)

    def access(self, repository: str, identity: str = PULLER_ID) -> pb.GetPullAccessResponse:
        return self.stub(identity).GetPullAccess(
            pb.GetPullAccessRequest(namespace=self.user, repository=repository), timeout=10
        )


@pytest.fixture(scope="module")
def pulling(tmp_path_factory, checking_env) -> Iterator[Pulling]:
    directory = tmp_path_factory.mktemp("pulling")
    mesh = Mesh(MeshCA(), directory)
    port = free_port()
    env = {
        **mesh.env(port),
        # Registries on loopback, trusted through the test CA; Create without checks.
        "EXTREPO_REGISTRY_ALLOW": checking_env["EXTREPO_REGISTRY_ALLOW"],
        "EXTREPO_REGISTRY_CA_FILE": checking_env["EXTREPO_REGISTRY_CA_FILE"],
    }
    (directory / "policy.toml").write_text(PULL_POLICY)
    with LiveServer(directory / "server", env=env) as server:
        yield Pulling(server, port, mesh.ca)


def test_a_token_that_pulls_this_repository_only(pulling, token_registry):
    name = f"{token_registry.host}/team/app"
    pulling.api.create(name, *PULLER)
    answer = pulling.access(name)
    assert answer.kind == pb.GetPullAccessResponse.TOKEN
    assert answer.registry == token_registry.host
    token = answer.auth.registrytoken
    assert token and not answer.auth.password and not answer.auth.auth
    assert answer.expire_time.seconds > 0
    # The stored password appears nowhere in the answer.
    assert PULLER[1].encode() not in answer.SerializeToString()
    assert PULLER[1] not in answer.docker_config_json
    assert json.loads(answer.docker_config_json) == {
        "auths": {token_registry.host: {"registrytoken": token}}
    }
    with httpx.Client(verify=token_registry.ca.client_context()) as client:
        bearer = {"authorization": f"Bearer {token}"}
        tags = client.get(f"https://{token_registry.host}/v2/team/app/tags/list", headers=bearer)
        assert tags.status_code == 200 and tags.json()["tags"] == ["1.0"]
        token_registry.seed("team/other")
        other = client.get(f"https://{token_registry.host}/v2/team/other/tags/list", headers=bearer)
        assert other.status_code == 401  # the token's scope is team/app only


def test_tokens_are_reused_until_near_expiry(pulling, token_registry):
    name = f"{token_registry.host}/team/app"
    if name not in [r["name"] for r in pulling.api.list(name=name)["objects"]]:
        pulling.api.create(name, *PULLER)
    first = pulling.access(name)
    issued = token_registry.issuer.issued
    second = pulling.access(name)
    assert second.auth.registrytoken == first.auth.registrytoken
    assert token_registry.issuer.issued == issued  # no new token was asked for


def test_a_basic_registry_hands_out_the_password_only_where_allowed(pulling, basic_registry):
    name = f"{basic_registry.host}/team/app"
    pulling.api.create(name, *PULLER)
    with pytest.raises(grpc.RpcError) as refused:
        pulling.access(name)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "allow_password" in refused.value.details()
    answer = pulling.access(name, TRUSTED_ID)
    assert answer.kind == pb.GetPullAccessResponse.PASSWORD
    assert (answer.auth.username, answer.auth.password) == PULLER
    assert base64.b64decode(answer.auth.auth).decode() == f"{PULLER[0]}:{PULLER[1]}"
    with httpx.Client(verify=basic_registry.ca.client_context()) as client:
        tags = client.get(
            f"https://{basic_registry.host}/v2/team/app/tags/list",
            headers={"authorization": f"Basic {answer.auth.auth}"},
        )
    assert tags.status_code == 200


def test_stored_credentials_the_registry_refuses(pulling, token_registry):
    name = f"{token_registry.host}/team/refused"
    pulling.api.create(name, OUTSIDER[0], "not-the-password")
    with pytest.raises(grpc.RpcError) as refused:
        pulling.access(name)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "refused the username and password" in refused.value.details()


def test_a_registry_that_is_down_is_unavailable(pulling):
    name = f"127.0.0.1:{free_port()}/team/app"
    pulling.api.create(name, *PULLER)
    with pytest.raises(grpc.RpcError) as down:
        pulling.access(name)
    assert down.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "retry later" in down.value.details()


def test_every_hand_out_is_recorded_without_its_secret(pulling, token_registry):
    name = f"{token_registry.host}/team/app"
    if name not in [r["name"] for r in pulling.api.list(name=name)["objects"]]:
        pulling.api.create(name, *PULLER)
    pulling.access(name)
    engine = sa.create_engine(f"sqlite:///{pulling.server.data_dir / 'extrepo.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT object, actor, reason, state FROM audit_action "
                "WHERE action = 'Pull Access' AND object LIKE :n"
            ),
            {"n": f"%/repository/{name}/"},
        ).all()
        everything = str(connection.execute(sa.text("SELECT * FROM audit_action")).all())
    engine.dispose()
    assert [row[1:] for row in rows] == [(PULLER_ID, "TOKEN", "Success")] * len(rows)
    assert rows
    assert PULLER[1] not in everything and "eyJ" not in everything
    log = pulling.server.log_text()
    assert "pull access handed out" in log
    assert PULLER[1] not in log and "eyJ" not in log


def test_a_slow_registry_delays_only_its_own_requests(pulling, token_registry, test_ca):
    import http.server
    import threading
    import time

    from harness.registries import HttpsServer, answer

    def slow(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.path == "/v2/":
            realm = f"https://127.0.0.1:{server.port}/token"
            answer(handler, 401, b"{}", {"www-authenticate": f'Bearer realm="{realm}",service="s"'})
        else:  # the token service takes its time
            time.sleep(2)
            answer(handler, 200, b'{"token": "slow-token", "expires_in": 300}')

    server = HttpsServer(test_ca.server_context("slow"), slow)
    fast_name = f"{token_registry.host}/team/app"
    if fast_name not in [r["name"] for r in pulling.api.list(name=fast_name)["objects"]]:
        pulling.api.create(fast_name, *PULLER)
    slow_name = f"{server.host}/team/app"
    pulling.api.create(slow_name, *PULLER)
    finished: list[str] = []
    try:
        slow_call = threading.Thread(
            target=lambda: (pulling.access(slow_name), finished.append("slow"))
        )
        slow_call.start()
        time.sleep(0.3)  # the slow request is waiting on its token service
        # A new token from the fast registry (the cache is bypassed: another consumer's
        # repository would do the same).
        token_registry.issuer.users[PULLER[0]].pull.add("team/other2")
        pulling.api.create(f"{token_registry.host}/team/other2", *PULLER)
        pulling.access(f"{token_registry.host}/team/other2")
        finished.append("fast")
        slow_call.join()
    finally:
        server.close()
    assert finished == ["fast", "slow"]
