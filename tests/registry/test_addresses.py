"""The address policy of outbound registry calls (registry/addresses.py): which
addresses a check may connect to, judged after resolution. The connection-level proof
(a refused host is never connected to) is in test_check.py."""

from __future__ import annotations

import ipaddress

import pytest
from extrepo_server.registry.addresses import AddressPolicy


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - an address judged, not bound
        "224.0.0.1",
        "198.18.0.1",  # benchmarking
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::",
        "::1",
        "fd00:ec2::254",  # AWS metadata over IPv6 (ULA)
        "fe80::1",
        "fec0::1",  # site-local (deprecated)
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "::7f00:1",  # IPv4-compatible (deprecated)
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
        "64:ff9b:1::a00:1",  # NAT64 local-use prefix
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2001::1",  # Teredo
    ],
)
def test_what_is_not_globally_routable_is_refused(address):
    assert not AddressPolicy().allows(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:4700::1111",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34 (IPv6-only hosts with DNS64)
        "2002:5db8:d822::1",
    ],
)
def test_public_addresses_are_allowed(address):
    assert AddressPolicy().allows(ipaddress.ip_address(address))


def test_the_allow_list_opens_its_networks_in_every_form():
    policy = AddressPolicy("10.0.0.0/8, 127.0.0.0/8")
    for address in ("10.9.9.9", "127.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a09:909"):
        assert policy.allows(ipaddress.ip_address(address)), address
    for address in ("192.168.0.1", "169.254.169.254", "::1"):
        assert not policy.allows(ipaddress.ip_address(address)), address
    assert AddressPolicy("::1").allows(ipaddress.ip_address("::1"))


def test_the_allow_list_names_hosts_with_or_without_a_port():
    policy = AddressPolicy("registry.corp, Mirror.Corp:5000")
    assert policy.allows_host("registry.corp", 443)
    assert policy.allows_host("REGISTRY.corp", 5000)
    assert policy.allows_host("mirror.corp", 5000)
    assert not policy.allows_host("mirror.corp", 443)
    assert not policy.allows_host("other.corp", 443)


@pytest.mark.parametrize("entry", ["10.0.0.0/99", "not a host", "10.0.0.1/8/8"])
def test_a_bad_allow_list_entry_is_named(entry):
    with pytest.raises(ValueError, match="neither a network nor a host"):
        AddressPolicy(f"127.0.0.0/8,{entry}")
