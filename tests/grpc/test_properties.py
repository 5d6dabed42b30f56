"""Property-based: no request, however wrong, is answered as a server fault.

Hypothesis builds requests for every RPC of the API from the messages' own
descriptors, so every field of every request (and any field added later) is
covered, and sends them over gRPC, authenticated, to the real server. Strings
are any Unicode but lone surrogates (protobuf cannot carry them): odd code points,
controls, combining and right-to-left marks, empty, and megabytes; integers go to
both ends of int32; cursors are real ones, real ones altered, the JSON that once
crashed the parser, and noise. Raw bytes that are no protobuf at all go to every
method too. The properties:

- the answer is OK or a caller's code, never INTERNAL, UNKNOWN or UNAVAILABLE;
- an error message is short (it quotes inputs in part) and holds no traceback
  or Python class name;
- what is accepted is what the API documents: a host in brackets is an IPv6
  address, a host of digits an IPv4 one, credentials within their limits.

Most examples attack one field and keep the others valid, so each check of a
request is reached, not only the first one that refuses it; the rest attack
every field at once. Examples are derandomized (the same every run, as the REST
suite's) and bounded to run in well under a minute on 2 cores. Run against the
server as it was before issue 10, these examples found every class it lists:
JSON cursors with 1e999 (OverflowError) and deep nesting (RecursionError), a
4,301-digit port, whole inputs echoed in messages, garbage IPv6 hosts and
over-long credentials accepted, corrupt bodies answered UNKNOWN.
"""

from __future__ import annotations

import base64
import ipaddress
import operator
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from extrepo.v1 import repository_service_pb2 as pb
from extrepo_server.domain.credentials import MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH
from google.protobuf.descriptor import FieldDescriptor
from google.rpc import error_details_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api import basic_authorization

SERVICE = pb.DESCRIPTOR.services_by_name["RepositoryService"]
METHODS = [method.name for method in SERVICE.methods]
# Every field of every RPC's request, each attacked in a run of its own.
FIELDS = [
    (method.name, field.name) for method in SERVICE.methods for field in method.input_type.fields
]
# Examples per run (and database): enough for each kind of attack on a field to
# come up several times; ~2,600 calls in all, ~12 s per database here.
FIELD_EXAMPLES = 100
EVERY_FIELD_EXAMPLES = 100
RAW_EXAMPLES = 60

CALLERS_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,  # a request over grpc's 4 MB
}
MAX_MESSAGE = 1000
TRACEBACK = re.compile(r"Traceback|<class |\.py\"|line \d+, in |Error:|Exception")
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

# -- strings ------------------------------------------------------------------

ANY_CHARACTER = st.characters(exclude_categories=("Cs",))
ODD_PIECES = st.sampled_from(
    [
        "\x00",
        "\n",
        "\r\n",
        "\t",
        "\x7f",
        "\u202e",  # right-to-left override
        "\ufeff",
        "\u0301",  # a combining accent
        "\U0010ffff",
        "\U0001f600",
        "İ",
        "ß",
        "%",
        "%00",
        "%FF",
        "..",
        "/",
        "//",
        ":",
        "[",
        "]",
        "@",
        "?",
        "#",
        "\\",
        "'",
        '"',
    ]
)
TEXT = st.lists(st.one_of(ODD_PIECES, st.text(ANY_CHARACTER, max_size=12)), max_size=8).map("".join)


def sizes(*marks: int) -> st.SearchStrategy[int]:
    """Sizes from 1 to the largest mark, the marks themselves often: left alone,
    hypothesis draws mostly small numbers, and the sizes that broke were large."""
    return st.one_of(st.sampled_from(marks), st.integers(1, max(marks)))


def huge(*units: str, largest: int = 300_000) -> st.SearchStrategy[str]:
    """A unit repeated into a long string (up to ~1 MB of UTF-8)."""
    return st.builds(operator.mul, st.sampled_from(units), sizes(1_000, 10_000, largest))


# -- hosts, names, filters --------------------------------------------------------
# Hostile values are flat lists of attacks, one drawn with equal chances, so that
# each kind comes up often enough in a bounded run.

VALID_HOSTS = st.sampled_from(
    ["reg.io", "localhost", "localhost:5000", "10.0.0.1", "[::1]", "[fe80::1]:443", "a-b.c.d"]
)
BARE_HOSTS = st.sampled_from(["reg.io", "localhost", "10.0.0.1", "[::1]"])
HOST_ATTACKS = [
    st.from_regex(r"\[[0-9a-f:]{1,30}\]", fullmatch=True),  # IPv6-like, mostly not
    st.from_regex(r"\[[0-9a-fA-F:.%]{0,24}\]", fullmatch=True),
    st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,4}){0,5}", fullmatch=True),  # IPv4-like
    st.builds(lambda host, port: f"{host}:{port}", BARE_HOSTS, st.integers(-10, 10**7)),
    st.builds(  # ports of up to thousands of digits (int() refuses 4,301 and more)
        lambda host, digits: f"{host}:{'9' * digits}", BARE_HOSTS, sizes(240, 4301, 10_000)
    ),
    st.from_regex(r"[a-zA-Z0-9.-]{1,30}(:[0-9]{0,6})?", fullmatch=True),
]
PATHS = st.from_regex(r"[a-z0-9]{1,8}([._-][a-z0-9]{1,6})?(/[a-z0-9]{1,8}){0,2}", fullmatch=True)
VALID_NAMES = st.builds(lambda host, path: f"{host}/{path}", VALID_HOSTS, PATHS)
NAME_ATTACKS = [
    *(st.builds(lambda host, path: f"{host}/{path}", hosts, PATHS) for hosts in HOST_ATTACKS),
    st.builds(lambda name, tail: name + tail, VALID_NAMES, TEXT),
    TEXT,
    huge("a", "/", "reg.io/", "é"),
]


def registry_attacks(user: str) -> list[st.SearchStrategy[str]]:
    def uri(host: str) -> str:
        return f"/api/repo/v1/{user}/registry/{host}/"

    return [
        *HOST_ATTACKS,
        *(hosts.map(uri) for hosts in HOST_ATTACKS[3:5]),
        TEXT.map(lambda t: f"/api/repo/v1/{t}/registry/reg.io/"),
        TEXT,
        huge("r", ":", "9", largest=1_000_000),
    ]


# -- cursors ---------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _json_cursor(number: str) -> str:  # the layout cursors once had
    return _b64(f'{{"d":"a","n":"reg.io/a","o":{number},"f":["",""]}}'.encode())


def _altered(token: str, position: int, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position % len(raw)] ^= 1 << bit
    return _b64(bytes(raw))


def cursor_attacks(issued: list[str]) -> list[st.SearchStrategy[str]]:
    real = st.sampled_from(issued)
    return [
        # What crashed the JSON parser: nesting beyond the stack, numbers beyond a float.
        st.builds(
            operator.mul, st.sampled_from([b"[", b"{", b'{"a":']), sizes(1_000, 100_000, 200_000)
        ).map(_b64),
        st.one_of(
            st.sampled_from(["1e999", "-1e999", "Infinity", "-Infinity", "NaN"]),
            st.from_regex(r"-?[0-9]{1,3}(\.[0-9]+)?[eE][+-]?[0-9]{3,5}", fullmatch=True),
        ).map(_json_cursor),
        st.binary(max_size=600).map(_b64),
        st.builds(_altered, real, st.integers(0, 400), st.integers(0, 7)),
        st.builds(lambda token, cut: token[:cut], real, st.integers(0, 400)),
        real,  # right, but maybe for other filters or another offset
        TEXT,
        huge("A", "[", "%"),
    ]


# -- fields of any request ----------------------------------------------------------

INT32 = st.one_of(
    st.sampled_from([0, 1, -1, 25, 100, 101, 2**31 - 1, -(2**31)]),
    st.integers(-(2**31), 2**31 - 1),
)


def credential_attacks(unit: str, limit: int, largest: int) -> list[st.SearchStrategy[str]]:
    return [
        st.just(""),
        TEXT,
        st.sampled_from([limit, limit + 1]).map(unit.__mul__),
        huge(unit, "é", "\x00", "\U0010ffff", largest=largest),
    ]


def field_strategies(
    user: str, issued: list[str]
) -> dict[str, tuple[st.SearchStrategy, st.SearchStrategy]]:
    """For each field name: (a valid value, a hostile one). Fields not named here
    get generic ones by type, so a field added to a request is fuzzed too."""
    return {
        "namespace": (
            st.sampled_from(["", user]),
            st.one_of(TEXT, huge("n", "N", "-", "\u202e", largest=20_000), st.just("x" * 40)),
        ),
        "name": (VALID_NAMES, st.one_of(NAME_ATTACKS)),
        "registry": (
            st.one_of(VALID_HOSTS, VALID_HOSTS.map(lambda h: f"/api/repo/v1/{user}/registry/{h}/")),
            st.one_of(registry_attacks(user)),
        ),
        "limit": (st.integers(0, 100), INT32),
        "offset": (st.integers(0, 50), INT32),
        "cursor": (st.sampled_from(["", *issued]), st.one_of(cursor_attacks(issued))),
        "username": (
            st.from_regex(r"[a-z_$+]{1,20}", fullmatch=True),
            st.one_of(credential_attacks("u", MAX_USERNAME_LENGTH, 100_000)),
        ),
        "password": (
            st.from_regex(r"[ -~]{1,60}", fullmatch=True),
            st.one_of(credential_attacks("p", MAX_PASSWORD_LENGTH, 300_000)),
        ),
    }


def _by_type(field: FieldDescriptor) -> tuple[st.SearchStrategy, st.SearchStrategy]:
    if field.type == FieldDescriptor.TYPE_STRING:
        return st.just(""), st.one_of(TEXT, huge("x", "é"))
    if field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32):
        return st.just(0), INT32
    if field.type == FieldDescriptor.TYPE_BOOL:
        return st.just(False), st.booleans()
    raise AssertionError(f"no strategy for {field.full_name}: add one to this suite")


def request_strategy(
    method: str, user: str, issued: list[str], target: str | None
) -> st.SearchStrategy:
    """Requests of `method` with the field `target` hostile and the others valid,
    or (target None) every field hostile. A proto3 `optional` field other than the
    target is sometimes not sent at all."""
    message = request_message(method)
    named = field_strategies(user, issued)
    fields = message.DESCRIPTOR.fields
    choices = {f.name: named.get(f.name) or _by_type(f) for f in fields}

    @st.composite
    def build(draw):
        values = {}
        for field in fields:
            valid, hostile = choices[field.name]
            attacked = target in (None, field.name)
            if field.has_presence and field.name != target and draw(st.booleans()):
                continue  # not sent
            values[field.name] = draw(hostile if attacked else valid)
        return message(**values)

    return build()


def request_message(method: str):
    return getattr(pb, SERVICE.methods_by_name[method].input_type.name)


# -- the properties --------------------------------------------------------------


def _host_is_what_it_looks_like(host: str) -> bool:
    """An accepted host read by ipaddress alone: brackets hold an IPv6 address,
    digits and dots are an IPv4 one."""
    address = host if host.endswith("]") else host.rsplit(":", 1)[0]
    try:
        if address.startswith("["):
            ipaddress.IPv6Address(address[1:-1])
        elif re.fullmatch(r"[0-9.]+", address):
            ipaddress.IPv4Address(address)
    except ValueError:
        return False
    return True


def _violated_fields(error: grpc.RpcError) -> set[str]:
    fields = set()
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                bad_request = error_details_pb2.BadRequest()
                if detail.Unpack(bad_request):
                    fields |= {v.field for v in bad_request.field_violations}
    return fields


def check_answer(method: str, request, call: Callable[[], object]) -> tuple[str, set[str]]:
    """Call, check the properties; returns the answer's code and the fields it refused."""
    try:
        reply = call()
    except grpc.RpcError as error:
        details = error.details() or ""
        assert error.code() in CALLERS_CODES, (error.code(), details[:300])
        assert len(details) <= MAX_MESSAGE, details[:300]
        assert not TRACEBACK.search(details), details[:300]
        return error.code().name, _violated_fields(error)
    if method in ("Create", "Update"):
        for field, limit in (("username", MAX_USERNAME_LENGTH), ("password", MAX_PASSWORD_LENGTH)):
            assert len(getattr(request, field)) <= limit, f"{field} over its limit was accepted"
    if method == "Create":
        assert _host_is_what_it_looks_like(reply.repository.name.partition("/")[0]), reply
    return "OK", set()


@pytest.fixture(scope="module")
def caller(server, grpc_channel) -> tuple[str, tuple, list[str]]:
    """A user of its own with a few repositories, and cursors the server issued."""
    user = "propfuzz"
    metadata = (("authorization", basic_authorization(user, server.create_user(user))),)
    stub = grpc_channel.unary_unary(
        f"/{SERVICE.full_name}/Create",
        request_serializer=pb.CreateRequest.SerializeToString,
        response_deserializer=pb.CreateResponse.FromString,
    )
    for i in range(4):
        stub(
            pb.CreateRequest(name=f"reg.io/seed{i}", username="u", password="p"), metadata=metadata
        )
    list_call = grpc_channel.unary_unary(
        f"/{SERVICE.full_name}/List",
        request_serializer=pb.ListRequest.SerializeToString,
        response_deserializer=pb.ListResponse.FromString,
    )
    issued, request = [], pb.ListRequest(limit=1)
    while True:
        meta = list_call(request, metadata=metadata).meta
        for link in (meta.next, meta.previous):
            query = parse_qs(urlsplit(link.value).query)
            issued += query.get("cursor", [])
        if not meta.HasField("next"):
            break
        query = parse_qs(urlsplit(meta.next.value).query)
        request = pb.ListRequest(limit=1, offset=int(query["offset"][0]), cursor=query["cursor"][0])
    assert len(issued) >= 4
    return user, metadata, issued


def _rpc(channel: grpc.Channel, method: str):
    output = getattr(pb, SERVICE.methods_by_name[method].output_type.name)
    return channel.unary_unary(
        f"/{SERVICE.full_name}/{method}",
        request_serializer=request_message(method).SerializeToString,
        response_deserializer=output.FromString,
    )


def _run(channel, caller, method: str, target: str | None, examples: int) -> tuple[set, set]:
    """Run the property over `examples` requests; the codes answered and the fields
    refused."""
    user, metadata, issued = caller
    rpc = _rpc(channel, method)
    codes: set[str] = set()
    refused: set[str] = set()

    @settings(SETTINGS, max_examples=examples)
    @given(request_strategy(method, user, issued, target))
    def property_holds(request):
        code, fields = check_answer(
            method, request, lambda: rpc(request, metadata=metadata, timeout=30)
        )
        codes.add(code)
        refused.update(fields)

    property_holds()
    return codes, refused


@pytest.mark.parametrize(("method", "field"), FIELDS, ids=[f"{m}.{f}" for m, f in FIELDS])
def test_no_value_of_a_field_is_answered_as_a_server_fault(grpc_channel, caller, method, field):
    codes, refused = _run(grpc_channel, caller, method, field, FIELD_EXAMPLES)
    # The attacks reached the field's own check: the other fields were valid.
    assert field in refused, (refused, codes)


@pytest.mark.parametrize("method", METHODS)
def test_no_request_of_wrong_fields_is_answered_as_a_server_fault(grpc_channel, caller, method):
    codes, refused = _run(grpc_channel, caller, method, None, EVERY_FIELD_EXAMPLES)
    assert "INVALID_ARGUMENT" in codes and len(refused) > 1, (refused, codes)


@pytest.mark.parametrize("method", METHODS)
def test_no_byte_string_is_answered_as_a_server_fault(grpc_channel, caller, method):
    _, metadata, _ = caller
    rpc = grpc_channel.unary_unary(f"/{SERVICE.full_name}/{method}")

    @settings(SETTINGS, max_examples=RAW_EXAMPLES)
    @given(st.binary(max_size=2000))
    def property_holds(body):
        check_answer("raw", body, lambda: rpc(body, metadata=metadata, timeout=30))

    property_holds()
