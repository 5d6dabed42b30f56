"""Which addresses credential checks may connect to, and connecting only there.

The service makes requests to hosts its users name, with credentials they give. A
user could name `169.254.169.254` (a cloud's metadata service), `localhost:6379` or
`db.internal`, and use the answers (or their timing) to reach what only the server
can. So a host is resolved once, every address it resolves to is judged, and the
connection goes to an address that was judged: resolving again at connect time
could give another (DNS rebinding). Only globally routable unicast addresses are
allowed, unless the allow-list (EXTREPO_REGISTRY_ALLOW) names the address's network
or the host itself: on-premise registries, and the tests' registries on loopback.

`PinnedBackend` is httpcore's network backend with that rule in `connect_tcp`: TLS
(server name, certificate check) and the Host header still use the name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore

from . import resolver

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForbiddenAddress(Exception):
    """The host resolves only to addresses checks may not connect to."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to {address}")
        self.host = host
        self.address = address


class AddressPolicy:
    """`allow`: comma-separated CIDR networks, addresses and host[:port] names that
    are allowed although not globally routable. ValueError names a bad entry."""

    def __init__(self, allow: str = "") -> None:
        networks: list[IpNetwork] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in allow.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or " " in entry:
                    raise ValueError(f"'{entry[:64]}' is neither a network nor a host") from None
                hosts.add(entry.lower())
        self._networks = tuple(networks)
        self._hosts = frozenset(hosts)

    def allows_host(self, host: str, port: int) -> bool:
        """Whether the allow-list names this host (with or without its port)."""
        host = host.lower().strip("[]")
        return host in self._hosts or f"{host}:{port}" in self._hosts

    def allows(self, address: IpAddress) -> bool:
        reached = _reached(address)
        if any(a in network for network in self._networks for a in (address, reached)):
            return True
        # is_global is False for loopback, private (RFC 1918, ULA), link-local (the
        # metadata address), shared (100.64/10), unspecified, documentation; Python
        # 3.11 still calls a few reserved or deprecated ranges global: refused too.
        return (
            reached.is_global
            and not reached.is_multicast
            and not reached.is_reserved
            and not (isinstance(reached, ipaddress.IPv6Address) and reached.is_site_local)
            and reached not in _NAT64_LOCAL_USE
        )


# RFC 6052: 64:ff9b::/96 carries an IPv4 address in its last 32 bits, which a NAT64
# gateway connects to; RFC 8215's local-use prefix is never globally routable.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def _reached(address: IpAddress) -> IpAddress:
    """The IPv4 address a connection to `address` ends at when it embeds one:
    IPv4-mapped (::ffff:127.0.0.1), NAT64 (64:ff9b::a9fe:a9fe is 169.254.169.254
    behind a NAT64 gateway), 6to4 (2002:7f00:1::); else `address` itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, connecting only to addresses the policy allows,
    resolved once per connection."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolve(host, port)
        if not self._policy.allows_host(host, port):
            refused = [a for a in addresses if not self._policy.allows(a)]
            if refused:
                # One forbidden answer refuses the host: a name resolving to a public
                # and a private address is the rebinding trick's set-up.
                raise ForbiddenAddress(host, str(refused[0]))
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"no address for {host}")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        found = await resolver.resolve(host.strip("[]"), port)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"{host} does not resolve") from exc
    seen: list[IpAddress] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%")[0])
        if address not in seen:
            seen.append(address)
    if not seen:
        raise httpcore.ConnectError(f"{host} does not resolve")
    return seen
