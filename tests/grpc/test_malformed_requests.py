"""Raw malformed protobuf frames: a caller's mistake, answered INVALID_ARGUMENT.

The bytes go through a raw channel method (no serializer), to every method of the
API and to the open services (health's Check and Watch, reflection's stream),
with credentials and without. A corrupt body once answered UNKNOWN with the
parser's Python exception class in the message and logged a traceback per call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import grpc
import pytest
from extrepo.v1 import repository_service_pb2 as pb

from harness.live_server import LiveServer
from tests.support.api import basic_authorization

API_METHODS = [
    f"/extrepo.v1.RepositoryService/{m.name}"
    for m in pb.DESCRIPTOR.services_by_name["RepositoryService"].methods
]
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_WATCH = "/grpc.health.v1.Health/Watch"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

# Each is refused by the protobuf parser of every request message here.
MALFORMED = {
    "a tag cut short": b"\xff",
    "a varint of eleven bytes": b"\x08" + b"\xff" * 10 + b"\x01",
    "a length beyond the body": b"\x12\x05ab",
    "a string of invalid UTF-8": b"\x0a\x02\xc3\x28",  # field 1 is a string in each
    "wire type 7": b"\x0f",
    "an end of group never started": b"\x1c",
    "groups nested past the limit": b"\x0b" * 200,
    "garbage": bytes(range(256)) * 4,
}
PLAIN_MESSAGE = "is not a valid protocol buffers encoding"


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[LiveServer, grpc.Channel, tuple]]:
    with LiveServer(tmp_path_factory.mktemp("malformed")) as server:
        key = server.create_user("raw")
        metadata = (("authorization", basic_authorization("raw", key)),)
        with grpc.insecure_channel(server.address) as channel:
            yield server, channel, metadata


def _raw_call(channel: grpc.Channel, method: str, body: bytes, metadata) -> grpc.RpcError:
    """Send `body` as it is; the call must fail, and its error is returned."""
    with pytest.raises(grpc.RpcError) as caught:
        if method == HEALTH_WATCH:
            list(channel.unary_stream(method)(body, metadata=metadata, timeout=10))
        elif method == REFLECTION:
            list(channel.stream_stream(method)(iter([body]), metadata=metadata, timeout=10))
        else:
            channel.unary_unary(method)(body, metadata=metadata, timeout=10)
    return caught.value


def _assert_plain(error: grpc.RpcError) -> None:
    details = error.details() or ""
    assert "<class" not in details and "Error" not in details and "Traceback" not in details
    assert len(details) < 300


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_is_invalid_argument_everywhere(live, body):
    _, channel, metadata = live
    for method in [*API_METHODS, HEALTH_CHECK, HEALTH_WATCH, REFLECTION]:
        error = _raw_call(channel, method, body, metadata)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, error.details())
        assert PLAIN_MESSAGE in error.details()
        _assert_plain(error)


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_without_credentials_the_api_asks_for_them_first(live, body):
    _, channel, _ = live
    for metadata in ((), (("authorization", "Basic bm9ib2R5Om5vcGU="),)):
        for method in API_METHODS:
            error = _raw_call(channel, method, body, metadata)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, method
            _assert_plain(error)
        for method in (HEALTH_CHECK, HEALTH_WATCH, REFLECTION):  # open: parsed at once
            assert _raw_call(channel, method, body, metadata).code() == (
                grpc.StatusCode.INVALID_ARGUMENT
            )


def test_a_well_formed_body_with_unknown_fields_is_still_read(live):
    _, channel, metadata = live
    body = pb.GetRequest(name="reg.io/absent").SerializeToString() + b"\x98\x06\x01"
    error = _raw_call(channel, API_METHODS[0], body, metadata)
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_each_malformed_call_logs_one_short_line_and_no_traceback(live):
    server, channel, metadata = live
    get = "/extrepo.v1.RepositoryService/Get"
    time.sleep(0.5)  # the lines of earlier calls are written
    before = len(server.log_entries())
    _raw_call(channel, get, b"\xff", metadata)
    _raw_call(channel, REFLECTION, b"\xff", metadata)
    deadline = time.monotonic() + 10
    while True:  # lines are written in batches, a moment after the answers
        entries = [e for e in server.log_entries()[before:] if e.get("method") in (get, REFLECTION)]
        methods = sorted(e["method"] for e in entries)
        if methods == sorted([get, REFLECTION]) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert methods == sorted([get, REFLECTION]), entries
    for entry in entries:
        assert entry["level"] == "info" and entry["code"] == "INVALID_ARGUMENT"
        assert len(json.dumps(entry)) < 300
    text = server.log_text()
    assert "Traceback" not in text and "DecodeError" not in text
