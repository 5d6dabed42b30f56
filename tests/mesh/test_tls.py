"""TLS on the public gRPC listener and on the gateway (HTTPS, and TLS from the gateway
to the server), and certificates replaced on disk served from the next connection on,
without a restart, by the server's listeners and the gateway alike."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import grpc
import httpx
import pytest

from harness.gateway import start_gateway
from harness.live_server import LiveServer
from harness.mesh_certs import MeshCA
from tests.support.api import GrpcApi, basic_authorization
from tests.support.rest_api import make_rest_api

# A fresh connection per channel: grpc would otherwise share one (and its TLS session)
# between channels to the same address, and a reload would not be seen.
FRESH = [("grpc.use_local_subchannel_pool", 1)]


def secure_api(address: str, ca_pem: bytes, authorization: str) -> GrpcApi:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca_pem)
    return GrpcApi(grpc.secure_channel(address, credentials, options=FRESH), authorization)


def replace(ca: MeshCA, cert: Path, key: Path) -> None:
    """Write a new pair the way a renewal agent does: to temporary files, then rename."""
    issued = ca.server()
    for path, content in ((key, issued.key_pem), (cert, issued.cert_pem)):
        temporary = path.with_suffix(".new")
        temporary.write_bytes(content)
        temporary.replace(path)
    time.sleep(0.05)  # a distinct modification time, whatever the file system's resolution


def test_tls_end_to_end_and_reloaded_without_restart(tmp_path):
    first, second = MeshCA("first CA"), MeshCA("second CA")
    server_cert, server_key = first.server().write(tmp_path, "server")
    gateway_cert, gateway_key = first.server().write(tmp_path, "gateway")
    (tmp_path / "first.pem").write_bytes(first.pem)
    env = {"EXTREPO_TLS_CERT_FILE": str(server_cert), "EXTREPO_TLS_KEY_FILE": str(server_key)}
    with LiveServer(tmp_path / "data", env=env, tls_ca=first.pem) as server:
        authorization = basic_authorization("tls", server.create_user("tls"))
        api = secure_api(server.address, first.pem, authorization)
        assert api.create("tls.example.com/app", "u", "p")["name"] == "tls.example.com/app"

        # A mesh service's client certificate is no identity on the public listener.
        mesh_client = first.issue(uri="spiffe://test.example/deployer")
        with_certificate = grpc.ssl_channel_credentials(
            root_certificates=first.pem,
            private_key=mesh_client.key_pem,
            certificate_chain=mesh_client.cert_pem,
        )
        as_mesh = GrpcApi(
            grpc.secure_channel(server.address, with_certificate, options=FRESH), None
        )
        with pytest.raises(Exception) as unauthenticated:
            as_mesh.get("tls.example.com/app")
        assert getattr(unauthenticated.value, "code", None) == grpc.StatusCode.UNAUTHENTICATED

        # Plaintext is not served any more.
        plain = GrpcApi(grpc.insecure_channel(server.address, options=FRESH), authorization)
        with pytest.raises(Exception) as refused:
            plain.get("tls.example.com/app")
        assert getattr(refused.value, "code", None) == grpc.StatusCode.UNAVAILABLE

        base_url, stop = start_gateway(
            server.address,
            args=[
                "-tls-cert",
                str(gateway_cert),
                "-tls-key",
                str(gateway_key),
                "-server-ca",
                str(tmp_path / "first.pem"),
            ],
            https_ca=tmp_path / "first.pem",
        )
        try:
            rest = make_rest_api(base_url, authorization)
            rest.client._transport = httpx.HTTPTransport(
                verify=ssl.create_default_context(cafile=str(tmp_path / "first.pem"))
            )
            assert rest.get("tls.example.com/app")["name"] == "tls.example.com/app"

            # Renewed certificates, from another CA, replace the files on disk.
            replace(second, server_cert, server_key)
            replace(second, gateway_cert, gateway_key)
            assert (
                secure_api(server.address, second.pem, authorization).get("tls.example.com/app")[
                    "name"
                ]
                == "tls.example.com/app"
            )
            with pytest.raises(Exception) as old_trust:
                secure_api(server.address, first.pem, authorization).get("tls.example.com/app")
            assert getattr(old_trust.value, "code", None) == grpc.StatusCode.UNAVAILABLE
            with httpx.Client(
                verify=ssl.create_default_context(cadata=second.pem.decode())
            ) as client:
                answer = client.get(f"{base_url}/healthz")
            # Served with the new certificate (trusted through the second CA only); its
            # connection to the server, made before the renewal, stays up.
            assert answer.status_code == 200
        finally:
            stop()
        assert server.process.poll() is None  # never restarted


def test_the_internal_listener_reloads_its_certificate(tmp_path):
    from extrepo.v1 import usage_service_pb2 as usage_pb
    from extrepo.v1 import usage_service_pb2_grpc as usage_grpc

    from harness.registries import free_port
    from tests.mesh.test_usages import DEPLOYER, Mesh

    mesh = Mesh(MeshCA("mesh CA"), tmp_path)
    port = free_port()
    env = mesh.env(port)
    client = mesh.ca.issue(uri=DEPLOYER)

    def list_usages(server_ca: bytes):
        credentials = grpc.ssl_channel_credentials(
            root_certificates=server_ca,
            private_key=client.key_pem,
            certificate_chain=client.cert_pem,
        )
        channel = grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=FRESH)
        return usage_grpc.UsageServiceStub(channel).ListUsages(
            usage_pb.ListUsagesRequest(namespace="nobody", repository="reg.example.com/a"),
            timeout=10,
        )

    with LiveServer(tmp_path / "data", env=env) as server:
        with pytest.raises(grpc.RpcError) as missing:
            list_usages(mesh.ca.pem)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND  # TLS and identity fine
        renewed = MeshCA("renewed server CA")
        replace(
            renewed,
            Path(env["EXTREPO_INTERNAL_TLS_CERT_FILE"]),
            Path(env["EXTREPO_INTERNAL_TLS_KEY_FILE"]),
        )
        with pytest.raises(grpc.RpcError) as renewed_ok:
            list_usages(renewed.pem)
        assert renewed_ok.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as old_trust:
            list_usages(mesh.ca.pem)
        assert old_trust.value.code() == grpc.StatusCode.UNAVAILABLE
        assert server.process.poll() is None
