"""Authentication by default: a service added to the server is closed unless opened.

The server is built in this process from the same wiring as `extrepo-server serve`
(app.build and app.create_server), with one throwaway service added beside the
API's, and called over a real port. Only health and reflection answer without
credentials; the throwaway service, unary and streaming alike, needs them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import grpc
import pytest
from extrepo_server.admin import Admin
from extrepo_server.app import OPEN_SERVICES, Service, api_services, build, create_server
from extrepo_server.config import Settings
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from tests.support.api import basic_authorization

THROWAWAY = "extrepo.test.Throwaway"


async def _echo(request: bytes, context) -> bytes:
    return request


async def _echo_twice(request: bytes, context):
    yield request
    yield request


def _throwaway_service() -> Service:
    handler = grpc.method_handlers_generic_handler(
        THROWAWAY,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(_echo),
            "EchoTwice": grpc.unary_stream_rpc_method_handler(_echo_twice),
        },
    )
    return Service(THROWAWAY, lambda server: server.add_generic_rpc_handlers((handler,)))


class InProcessServer:
    """The server's own wiring, run on an event loop in a thread of this process."""

    def __init__(self, settings: Settings, services_of) -> None:
        self.components = build(settings)
        self.admin = Admin(self.components, settings)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server, self.port, _ = self._run(
            create_server(settings, self.components, services_of(self.components))
        )

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)

    def close(self) -> None:
        self._run(self._server.stop(None))
        self._run(self.components.registries.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.components.repositories.close()
        self.components.engine.dispose()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[InProcessServer, grpc.Channel, str]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("services"), address="127.0.0.1:0")
    server = InProcessServer(
        settings, lambda components: [*api_services(components), _throwaway_service()]
    )
    server.admin.create_user("svc")
    authorization = basic_authorization("svc", server.admin.create_key("svc").token)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield server, channel, authorization
    finally:
        channel.close()
        server.close()


def _echo_calls(channel: grpc.Channel):
    return (
        lambda metadata: channel.unary_unary(f"/{THROWAWAY}/Echo")(
            b"ping", metadata=metadata, timeout=10
        ),
        lambda metadata: b"".join(
            channel.unary_stream(f"/{THROWAWAY}/EchoTwice")(b"ping", metadata=metadata, timeout=10)
        ),
    )


@pytest.mark.parametrize("kind", ["unary", "server-streaming"])
def test_a_new_service_refuses_calls_without_credentials(served, kind):
    _, channel, _ = served
    call = _echo_calls(channel)[kind != "unary"]
    for metadata in ((), (("authorization", "Basic bm9ib2R5Om5vcGU="),)):
        with pytest.raises(grpc.RpcError) as caught:
            call(metadata)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, kind


@pytest.mark.parametrize(
    ("kind", "answer"), [("unary", b"ping"), ("server-streaming", b"pingping")]
)
def test_a_new_service_serves_authenticated_callers(served, kind, answer):
    _, channel, authorization = served
    call = _echo_calls(channel)[kind != "unary"]
    assert call((("authorization", authorization),)) == answer


def test_only_health_and_reflection_are_open(served):
    _, channel, _ = served
    assert {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} == OPEN_SERVICES
    health = health_pb2_grpc.HealthStub(channel)
    api = ("extrepo.v1.RepositoryService", "extrepo.v1.RegistryService", "extrepo.v1.ActionService")
    for name in ("", THROWAWAY, *api):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
    listed = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert listed == {THROWAWAY, *api, *OPEN_SERVICES}
