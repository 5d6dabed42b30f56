"""A request id on every call: the one a client sends (if sane) or a new one, back in
the answer, in the gateway's access line and the server's call line, and in every
error body (google.rpc.RequestInfo): over gRPC and through the gateway."""

from __future__ import annotations

import json
import re
import time

import grpc
import httpx
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc
from google.rpc import error_details_pb2, status_pb2

from tests.support.api import basic_authorization

REQUEST_INFO = "type.googleapis.com/google.rpc.RequestInfo"


def call_lines(server, request_id: str) -> list[dict]:
    deadline = time.monotonic() + 5
    while True:
        lines = []
        for line in server.log_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "call" and entry.get("request_id") == request_id:
                lines.append(entry)
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_over_grpc(server, grpc_channel, new_user):
    user = new_user("rid")
    stub = pb_grpc.RepositoryServiceStub(grpc_channel)
    metadata = (("authorization", basic_authorization(user.name, user.api_key)),)
    _, call = stub.List.with_call(
        pb.ListRequest(), metadata=(*metadata, ("x-request-id", "grpc-rid-1"))
    )
    assert ("x-request-id", "grpc-rid-1") in call.trailing_metadata()
    assert call_lines(server, "grpc-rid-1")[0]["method"].endswith("/List")

    # No id sent (or a silly one): a new one, 16 hex characters, in the error too.
    try:
        stub.Get(
            pb.GetRequest(name="reg.example.com/absent"),
            metadata=(*metadata, ("x-request-id", "bad id!")),
        )
    except grpc.RpcError as error:
        given = dict(error.trailing_metadata())["x-request-id"]
        status = status_pb2.Status.FromString(
            dict(error.trailing_metadata())["grpc-status-details-bin"]
        )
    assert re.fullmatch(r"[0-9a-f]{16}", given)
    info = error_details_pb2.RequestInfo()
    assert status.details[-1].Unpack(info) and info.request_id == given
    assert call_lines(server, given)[0]["code"] == "NOT_FOUND"


def test_through_the_gateway(server, gateway_url, new_user):
    user = new_user("rid")
    headers = {"authorization": basic_authorization(user.name, user.api_key)}
    with httpx.Client(base_url=gateway_url, headers=headers) as client:
        answer = client.get("/api/repo/v1/repository/", headers={"x-request-id": "rest-rid-1"})
        assert answer.status_code == 200
        assert answer.headers["x-request-id"] == "rest-rid-1"
        assert call_lines(server, "rest-rid-1")[0]["method"].endswith("/List")

        missing = client.get("/api/repo/v1/repository/reg.example.com/absent/")
        assert missing.status_code == 404
        given = missing.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", given)
        details = missing.json()["details"]
        assert {"@type": REQUEST_INFO, "request_id": given, "serving_data": ""} in details
        assert call_lines(server, given)[0]["code"] == "NOT_FOUND"
