"""Repository names, registry hosts and namespaces: the grammar, case by case."""

from __future__ import annotations

import pytest
from extrepo_server.domain.errors import InvalidArgument
from extrepo_server.domain.names import (
    MAX_NAME_LENGTH,
    host_problem,
    name_problem,
    namespace_problem,
    parse_name,
)


@pytest.mark.parametrize(
    ("name", "host", "path"),
    [
        ("registry.local/user1/image1", "registry.local", "user1/image1"),
        ("localhost:5000/team/app", "localhost:5000", "team/app"),
        ("localhost/app", "localhost", "app"),
        ("10.0.0.1:443/a/b/c", "10.0.0.1:443", "a/b/c"),
        ("[::1]:5000/app", "[::1]:5000", "app"),
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


@pytest.mark.parametrize("host", ["", "reg io", "-reg.io", "reg.io:", "reg.io:x", "REG.io"])
def test_invalid_hosts(host):
    assert host_problem(host) is not None


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
    ],
)
def test_invalid_namespaces(namespace, reason):
    problem = namespace_problem(namespace)
    assert problem is not None and reason in problem
