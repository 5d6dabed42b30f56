"""Repository names, registry hosts and namespaces: the grammar, case by case."""

from __future__ import annotations

import ipaddress

import pytest
from extrepo_server.domain.errors import QUOTE_LIMIT, InvalidArgument
from extrepo_server.domain.names import (
    MAX_HOST_LENGTH,
    MAX_NAME_LENGTH,
    host_problem,
    name_problem,
    namespace_problem,
    parse_name,
)
from hypothesis import given, settings
from hypothesis import strategies as st

# The longest message a problem may have: its fixed text and a quoted prefix or two.
MAX_PROBLEM_LENGTH = 300


@pytest.mark.parametrize(
    ("name", "host", "path"),
    [
        ("registry.local/user1/image1", "registry.local", "user1/image1"),
        ("localhost:5000/team/app", "localhost:5000", "team/app"),
        ("localhost/app", "localhost", "app"),
        ("10.0.0.1:443/a/b/c", "10.0.0.1:443", "a/b/c"),
        ("[::1]:5000/app", "[::1]:5000", "app"),
        ("[2001:db8::8a2e:370:7334]/a", "[2001:db8::8a2e:370:7334]", "a"),
        ("[::]/app", "[::]", "app"),
        ("192.168.0.1/app", "192.168.0.1", "app"),
        ("0.0.0.0:1/app", "0.0.0.0:1", "app"),
        ("reg.123abc.io/app", "reg.123abc.io", "app"),
        (
            "my-reg.example.com/a_b/c__d/e-f/g.h/i---j",
            "my-reg.example.com",
            "a_b/c__d/e-f/g.h/i---j",
        ),
    ],
)
def test_valid_names_split_into_host_and_path(name, host, path):
    parsed = parse_name(name)
    assert (parsed.full, parsed.host, parsed.path) == (name, host, path)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is required"),
        ("myrepo", "no registry host"),
        ("library/ubuntu", "is not a registry host"),
        ("Reg.io/app", "must be lowercase"),
        ("reg.io/App", "path component 'App' is invalid"),
        ("reg.io/app:latest", "a tag"),
        ("reg.io/app@sha256:" + "0" * 64, "a digest"),
        ("reg.io//app", "empty path component"),
        ("reg.io/app/", "empty path component"),
        ("reg.io:0/app", "out of range"),
        ("reg.io:65536/app", "out of range"),
        ("reg.io/a..b", "path component 'a..b' is invalid"),
        ("reg.io/-a", "path component '-a' is invalid"),
        ("reg.io/" + "a" * MAX_NAME_LENGTH, f"at most {MAX_NAME_LENGTH}"),
        # Docker's grammar takes any hex digits and colons in brackets: not here.
        ("[:::::::::::::]/img", "not a valid IPv6 address"),
        ("[1::2::3]/img", "not a valid IPv6 address"),
        ("[12345::1]/img", "not a valid IPv6 address"),
        ("[1:2:3:4:5:6:7:8:9]/img", "not a valid IPv6 address"),
        ("[:]:5000/img", "not a valid IPv6 address"),
        ("[fe80::1%eth0]/img", "not a valid registry host"),
        ("[FE80::1]/img", "must be lowercase"),
        # ... and a host of digits and dots is read as an IPv4 address by resolvers.
        ("999.1.1.1/img", "not a valid IPv4 address"),
        ("1.2.3.256/img", "not a valid IPv4 address"),
        ("1.2.3/img", "not a valid IPv4 address"),
        ("1.2.3.4.5/img", "not a valid IPv4 address"),
        ("01.2.3.4/img", "not a valid IPv4 address"),
        ("123:5000/img", "not a valid IPv4 address"),
        ("reg.io:" + "9" * 5000 + "/img", f"at most {MAX_NAME_LENGTH}"),
        ("reg.io:" + "9" * 240 + "/img", "out of range"),
        ("reg.io:000000/img", "out of range"),
    ],
)
def test_invalid_names_say_why(name, reason):
    problem = name_problem(name)
    assert problem is not None and reason in problem
    with pytest.raises(InvalidArgument) as caught:
        parse_name(name, field="repo")
    assert [(v.field, v.description) for v in caught.value.violations] == [("repo", problem)]


def test_a_name_of_exactly_the_maximum_length_is_valid():
    name = "reg.io/" + "a" * (MAX_NAME_LENGTH - len("reg.io/"))
    assert len(name) == MAX_NAME_LENGTH and name_problem(name) is None


@pytest.mark.parametrize("host", ["reg.io", "localhost:1", "a.b.c:65535", "[fe80::1]"])
def test_valid_hosts(host):
    assert host_problem(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "",
        "reg io",
        "-reg.io",
        "reg.io:",
        "reg.io:x",
        "REG.io",
        "[:::::::::::::]",
        "256.0.0.1",
        "reg.io:" + "9" * 4301,  # once past int()'s digit limit: INTERNAL
        "r" * (MAX_HOST_LENGTH + 1),
    ],
)
def test_invalid_hosts(host):
    problem = host_problem(host)
    assert problem is not None and len(problem) <= MAX_PROBLEM_LENGTH


def test_a_long_host_is_refused_by_its_length_quoting_only_a_prefix():
    host = "reg.io:" + "9" * 1_000_000
    problem = host_problem(host)
    assert problem is not None
    assert f"is {len(host)} characters long; at most {MAX_HOST_LENGTH}" in problem
    assert "9" * (QUOTE_LIMIT + 1) not in problem


def _host_oracle(host: str) -> bool:
    """An independent reading of a valid host's address part, by ipaddress alone."""
    address = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if address.startswith("["):
        ipaddress.IPv6Address(address[1:-1])  # raises when it is not one
    elif address.replace(".", "").isdigit():
        ipaddress.IPv4Address(address)
    return True


_HOST_ALPHABET = st.sampled_from("0123456789abcdef:.[]-")


@settings(max_examples=500, deadline=None)
@given(st.text(_HOST_ALPHABET, max_size=50) | st.text(max_size=30))
def test_any_host_is_answered_briefly_and_an_accepted_one_is_a_real_address(host):
    problem = host_problem(host)
    if problem is None:
        assert _host_oracle(host)
    else:
        assert len(problem) <= MAX_PROBLEM_LENGTH


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400) | st.text(_HOST_ALPHABET, max_size=30).map(lambda h: h + "/app"))
def test_any_name_is_answered_with_a_short_reason(name):
    problem = name_problem(name)
    if problem is None:
        assert _host_oracle(parse_name(name).host)
    else:
        assert len(problem) <= MAX_PROBLEM_LENGTH


@pytest.mark.parametrize("namespace", ["alice", "a", "team-1", "a_b", "x" * 39])
def test_valid_namespaces(namespace):
    assert namespace_problem(namespace) is None


@pytest.mark.parametrize(
    ("namespace", "reason"),
    [
        ("repository", "reserved"),
        ("registry", "reserved"),
        ("usage", "reserved"),
        ("Alice", "not a valid namespace"),
        ("-a", "not a valid namespace"),
        ("a-", "not a valid namespace"),
        ("x" * 40, "not a valid namespace"),
        ("", "not a valid namespace"),
        ("x" * 10_000, "not a valid namespace"),
        ("a\nb", "not a valid namespace"),
    ],
)
def test_invalid_namespaces(namespace, reason):
    problem = namespace_problem(namespace)
    assert problem is not None and reason in problem
    assert len(problem) <= MAX_PROBLEM_LENGTH and "\n" not in problem
