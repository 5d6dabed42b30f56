"""The server as a process: health, reflection, error details, logging, shutdown, config."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import grpc
import pytest
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc
from google.protobuf import descriptor_pool
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from harness.live_server import REPO_ROOT, LiveServer
from tests.support.api import ApiError, GrpcApi, basic_authorization

SERVICE = "extrepo.v1.RepositoryService"


def test_health_reports_serving(grpc_channel):
    stub = health_pb2_grpc.HealthStub(grpc_channel)
    for service in ("", SERVICE):
        reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_describes_the_service(grpc_channel):
    database = ProtoReflectionDescriptorDatabase(grpc_channel)
    assert SERVICE in database.get_services()
    pool = descriptor_pool.DescriptorPool(database)
    service = pool.FindServiceByName(SERVICE)
    assert [m.name for m in service.methods] == [
        "Get",
        "Update",
        "Delete",
        "List",
        "Create",
        "ValidateRepository",
    ]
    create = pool.FindMessageTypeByName("extrepo.v1.CreateRequest")
    assert {f.name for f in create.fields} == {"namespace", "name", "username", "password"}


def test_no_response_message_can_carry_credentials():
    for message in (pb.Repository, pb.GetResponse, pb.ListResponse, pb.ListMeta):
        fields = {f.name for f in message.DESCRIPTOR.fields}
        assert not fields & {"username", "password"}, message


def test_invalid_argument_carries_a_bad_request_detail(grpc_channel, new_user):
    user = new_user()
    stub = pb_grpc.RepositoryServiceStub(grpc_channel)
    metadata = (("authorization", basic_authorization(user.name, user.api_key)),)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Create(pb.CreateRequest(name="Nope", username="u"), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailer = dict(caught.value.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(trailer)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == caught.value.details()
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    assert {v.field for v in bad_request.field_violations} == {"name", "password"}


def test_one_log_line_per_call_without_secrets(server, grpc_channel, new_user):
    user = new_user("logged")
    api = GrpcApi(grpc_channel, basic_authorization(user.name, user.api_key))
    password, username = "pw-that-must-never-be-logged", "user-that-must-never-be-logged"
    api.create("logs.example.com/app", username, password)
    api.update("logs.example.com/app", password=password + "2")
    api.get("logs.example.com/app")

    server.wait_for_log(lambda e: e.get("caller") == user.name and "Get" in e["method"])
    calls = [entry for entry in server.log_entries() if entry.get("caller") == user.name]
    assert [c["method"].rsplit("/", 1)[1] for c in calls] == ["Create", "Update", "Get"]
    for call in calls:
        assert call["code"] == "OK"
        assert call["duration_ms"] >= 0
        assert call["method"].startswith(f"/{SERVICE}/")
    text = server.log_text()
    for secret in (password, username, user.api_key, user.api_key.rsplit("_", 1)[1]):
        assert secret not in text


def test_failed_calls_are_logged_with_their_code(server, grpc_channel):
    def refused_lists():
        return [
            e
            for e in server.log_entries()
            if e.get("code") == "UNAUTHENTICATED" and e.get("method", "").endswith("/List")
        ]

    # Other tests' refused calls are in the shared server's log too (some by callers
    # whose account was deleted, logged under their name): look at this call's line.
    before = len(refused_lists())
    api = GrpcApi(grpc_channel, basic_authorization("ghost", "ek_0_0"))
    with pytest.raises(ApiError) as caught:
        api.list()
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    deadline = time.monotonic() + 10
    while len(refused_lists()) <= before and time.monotonic() < deadline:
        time.sleep(0.02)
    new = refused_lists()[before:]
    assert len(new) == 1 and new[0]["caller"] == "-", new


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_shutdown_loses_nothing(tmp_path, sig):
    """Stop the server under load: every call it answered OK is stored; calls it
    refused while stopping (UNAVAILABLE, never CANCELLED) left nothing behind;
    none failed in any other way."""
    server = LiveServer(tmp_path).start()
    key = server.create_user("shutdown")
    outcomes: list[tuple[grpc.StatusCode, str]] = []
    started = threading.Barrier(5)

    def hammer(worker: int):
        with grpc.insecure_channel(server.address) as channel:
            api = GrpcApi(channel, basic_authorization("shutdown", key))
            started.wait()
            for i in range(2000):
                name = f"shutdown.example.com/w{worker}-{i}"
                try:
                    api.create(name, "u", "p")
                    outcomes.append((grpc.StatusCode.OK, name))
                except ApiError as exc:
                    outcomes.append((exc.code, name))
                    return

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(0.3)
    code = server.stop(sig)
    for thread in threads:
        thread.join(30)
    assert code == 0
    assert '"msg": "stopped"' in server.log_text()

    answered = [name for status, name in outcomes if status == grpc.StatusCode.OK]
    refused = [(status, name) for status, name in outcomes if status != grpc.StatusCode.OK]
    assert answered and len(refused) == 4, outcomes[-8:]
    assert {status for status, _ in refused} == {grpc.StatusCode.UNAVAILABLE}
    with server, grpc.insecure_channel(server.address) as channel:
        api = GrpcApi(channel, basic_authorization("shutdown", key))
        assert api.list()["meta"]["total_count"] == len(answered)
        for name in answered[-4:]:
            assert api.get(name)["name"] == name


def test_bad_configuration_fails_at_start_with_the_setting_named(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "extrepo_server", "serve", "--address", "nonsense"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "address" in result.stderr and "host:port" in result.stderr
