"""Every wrong input is the caller's mistake: INVALID_ARGUMENT, never INTERNAL, UNKNOWN or 5xx,
with a message that quotes at most a short prefix of the input. Over gRPC and REST.

Each case is one that once failed: a JSON cursor with `1e999` or 100,000 brackets
(INTERNAL), a port of 4,301+ digits (INTERNAL), a 10,000-character namespace or a
1 MB filter echoed whole (the reply itself too big to send), a garbage IPv6 host
accepted, a 3.9 MB password stored. REST sends what a URL can carry through httpx
(64 KB a component) and the gateway (1 MiB a body), gRPC the sizes that failed.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from cryptography.fernet import Fernet
from extrepo_server.domain.credentials import MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH
from extrepo_server.domain.paging import Cursor, Direction, encode_cursor
from extrepo_server.security.cursors import CursorSigner

from tests.api.test_repositories import expect_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT
# Room for the fixed text of a message and a 64-character quote or two.
MAX_MESSAGE = 400


def _big(api, grpc_size: int, rest_size: int) -> int:
    """The size that failed in the issue over gRPC; over REST one whose URL still fits
    the gateway's 16 KiB of request line and headers (a longer URL is the gateway's
    431, tests/rest/test_hardening.py)."""
    return grpc_size if api.transport == "grpc" else rest_size


def expect_invalid(fields: set[str], call, *args, **kwargs):
    error = expect_error(INVALID, call, *args, **kwargs)
    assert error.fields == fields, error
    assert len(error.message) <= MAX_MESSAGE, error.message[:500]
    assert "Traceback" not in error.message and "<class" not in error.message
    return error


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- cursors ------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e999", "-1e999", "Infinity", "NaN"])
def test_a_json_cursor_with_an_unbounded_number_is_refused(alice, number):
    cursor = _token(f'{{"d":"a","n":"a.io/x","o":{number},"f":["",""]}}'.encode())
    error = expect_invalid({"cursor"}, alice.list, cursor=cursor)
    assert "drop the cursor" in error.message


def test_a_deeply_nested_cursor_is_refused_by_its_length(alice):
    cursor = _token(b"[" * _big(alice, 100_000, 9_000))
    error = expect_invalid({"cursor"}, alice.list, cursor=cursor)
    assert f"is {len(cursor)} characters long" in error.message
    assert "[[[[" not in error.message and cursor[:20] not in error.message


def _next_cursor(page: dict) -> tuple[int, str]:
    query = parse_qs(urlsplit(page["meta"]["next"]).query)
    return int(query["offset"][0]), query["cursor"][0]


def test_an_altered_or_forged_cursor_is_refused(alice):
    for i in range(3):
        alice.create(f"reg.io/app{i}", "u", "p")
    offset, cursor = _next_cursor(alice.list(limit=1))
    assert alice.list(limit=1, offset=offset, cursor=cursor)["objects"][0]["name"] == "reg.io/app1"

    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-40] ^= 0x01  # a byte of the name
    altered = _token(bytes(raw))
    # The right layout, signed with a key the service does not have.
    forged = encode_cursor(
        Cursor(Direction.AFTER, "reg.io/app0", offset, ("", "")),
        CursorSigner([Fernet.generate_key().decode()]),
    )
    for bad in (altered, forged, cursor[:-2], cursor + "AA", "%%%", "é" * 8):
        error = expect_invalid({"cursor"}, alice.list, limit=1, offset=offset, cursor=bad)
        assert "drop the cursor" in error.message, bad


# -- ports, hosts, lengths ------------------------------------------------------


@pytest.mark.parametrize("digits", [4301, 5000])
def test_a_registry_filter_with_a_port_of_thousands_of_digits_is_refused(alice, digits):
    namespace = alice.create("reg.io/app", "u", "p")["namespace"]
    port = "9" * digits
    for registry in (f"reg.io:{port}", f"/api/repo/v1/{namespace}/registry/reg.io:{port}/"):
        error = expect_invalid({"registry"}, alice.list, registry=registry)
        assert "characters long" in error.message and port[:100] not in error.message


def test_a_registry_filter_with_a_port_out_of_range_is_refused(alice):
    error = expect_invalid({"registry"}, alice.list, registry="reg.io:" + "9" * 200)
    assert "out of range" in error.message


@pytest.mark.parametrize("port", ["9" * 5000, "9" * 240, "65536"])
def test_a_name_with_a_port_of_many_digits_is_refused_by_every_method(alice, port):
    name = f"reg.io:{port}/app"
    expect_invalid({"name"}, alice.create, name, "u", "p")
    expect_invalid({"name"}, alice.get, name)
    expect_invalid({"name"}, alice.update, name, password="p")
    expect_invalid({"name"}, alice.delete, name)
    expect_invalid({"name"}, alice.list, name=name)


def test_a_huge_namespace_is_quoted_in_part(alice):
    namespace = "n" * 10_000
    for call, args in ((alice.list, ()), (alice.get, ("reg.io/app",))):
        error = expect_invalid({"namespace"}, call, *args, namespace=namespace)
        assert "n" * 64 + "..." in error.message and "n" * 65 not in error.message
    expect_invalid({"namespace"}, alice.create, "reg.io/app", "u", "p", namespace=namespace)


def test_a_huge_registry_filter_is_refused_by_its_length(alice):
    registry = "r" * _big(alice, 1_000_000, 12_000)
    error = expect_invalid({"registry"}, alice.list, registry=registry)
    assert f"is {len(registry)} characters long" in error.message


@pytest.mark.parametrize(
    "name",
    [
        "[:::::::::::::]/img",
        "[1::2::3]/img",
        "[12345::]/img",
        "[1:2:3:4:5:6:7:8:9]:5000/img",
        "999.1.1.1/img",
        "1.2.3/img",
        "10.0.0.256:5000/img",
    ],
)
def test_a_host_that_is_no_ip_address_is_refused(alice, name):
    error = expect_invalid({"name"}, alice.create, name, "u", "p")
    assert "not a valid IPv" in error.message


def test_real_ip_address_hosts_are_names(alice):
    for name in ("[::1]:5000/img", "[2001:db8::1]/team/img", "10.0.0.1:5000/img"):
        assert alice.create(name, "u", "p")["name"] == name
        assert alice.get(name)["name"] == name


# -- credentials --------------------------------------------------------------


def test_credentials_at_their_limits_are_stored(server, new_user, connect):
    user = new_user("limits")
    api = connect(user)
    username, password = "u" * MAX_USERNAME_LENGTH, "p" * MAX_PASSWORD_LENGTH
    api.create("reg.io/big", username, password)
    assert server.admin_api.stored_credentials(user.name, "reg.io/big") == (username, password)
    api.update("reg.io/big", password=password[:-1] + "q")
    assert server.admin_api.stored_credentials(user.name, "reg.io/big")[1][-1] == "q"


def test_credentials_over_their_limits_are_refused_naming_field_and_limit(alice):
    too_long_user, too_long_password = (
        "u" * (MAX_USERNAME_LENGTH + 1),
        "p" * (MAX_PASSWORD_LENGTH + 1),
    )
    error = expect_invalid({"password"}, alice.create, "reg.io/a", "u", too_long_password)
    assert f"at most {MAX_PASSWORD_LENGTH}" in error.message
    error = expect_invalid({"username"}, alice.create, "reg.io/a", too_long_user, "p")
    assert f"at most {MAX_USERNAME_LENGTH}" in error.message
    expect_invalid(
        {"username", "password"}, alice.create, "reg.io/a", too_long_user, too_long_password
    )

    alice.create("reg.io/a", "u", "p")
    expect_invalid({"password"}, alice.update, "reg.io/a", password=too_long_password)
    expect_invalid({"username"}, alice.update, "reg.io/a", username=too_long_user)


def test_a_password_of_megabytes_is_refused(alice):
    # The gateway takes bodies of up to 1 MiB; over gRPC, the 3.9 MB once stored.
    password = "p" * _big(alice, 3_900_000, 1_000_000)
    error = expect_invalid({"password"}, alice.create, "reg.io/huge", "u", password)
    assert f"is {len(password)} characters long" in error.message
    expect_error(grpc.StatusCode.NOT_FOUND, alice.get, "reg.io/huge")
