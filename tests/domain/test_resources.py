"""Resource URIs and the registry filter of List: bounded, checked, quoted briefly."""

from __future__ import annotations

import pytest
from extrepo_server.domain.errors import QUOTE_LIMIT, InvalidArgument
from extrepo_server.domain.resources import (
    MAX_REGISTRY_FILTER_LENGTH,
    parse_registry_filter,
    registry_uri,
)


@pytest.mark.parametrize(
    ("value", "host"),
    [
        ("reg.io", "reg.io"),
        ("localhost:5000", "localhost:5000"),
        ("/api/repo/v1/team/registry/reg.io/", "reg.io"),
        ("/api/repo/v1/registry/[::1]:5000", "[::1]:5000"),
    ],
)
def test_a_host_or_a_resource_uri_selects_a_host(value, host):
    assert parse_registry_filter(value, "team") == host


def test_the_longest_resource_uri_fits_the_bound():
    uri = registry_uri("n" * 39, "h" * 250 + ":99")
    assert len(uri) == MAX_REGISTRY_FILTER_LENGTH
    assert parse_registry_filter(uri, "n" * 39) == "h" * 250 + ":99"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/api/repo/v1/other/registry/reg.io/", "belongs to namespace 'other'"),
        ("/api/repo/v1/team/registry/", "is not a registry resource URI"),
        ("/elsewhere/reg.io/", "is not a registry resource URI"),
        ("reg.io:" + "9" * 4301, f"at most {MAX_REGISTRY_FILTER_LENGTH}"),
        ("/api/repo/v1/team/registry/reg.io:" + "9" * 5000 + "/", "characters long"),
        ("/api/repo/v1/team/registry/reg.io:" + "9" * 200 + "/", "out of range"),
        (
            "x" * 1_000_000,
            "is 1000000 characters long; a registry host or resource URI is at most",
        ),
        ("[:::::::::::::]", "not a valid IPv6 address"),
        ("/api/repo/v1/team/registry/300.1.1.1/", "not a valid IPv4 address"),
    ],
)
def test_a_wrong_filter_says_why_in_a_few_words(value, reason):
    with pytest.raises(InvalidArgument) as caught:
        parse_registry_filter(value, "team")
    (violation,) = caught.value.violations
    assert violation.field == "registry" and reason in violation.description
    assert len(violation.description) < 300
    if len(value) > QUOTE_LIMIT:  # quoted, if at all, in part
        assert value[: QUOTE_LIMIT + 1] not in violation.description
