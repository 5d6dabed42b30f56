"""Throttling of failed authentication, per API key id and per client address.

Every call that fails to authenticate is counted against its client's address and,
when the key it presents names an id, against that key id: in-memory fixed windows
(the `limits` library) that open at the first failure. A client or a key id that
reaches its limit is refused for the rest of its window: its calls answer
RESOURCE_EXHAUSTED with the seconds left (a google.rpc.RetryInfo), without the key
being looked up, so a correct guess would not even be noticed. One warning line is
logged when a refusal starts, not one per refused call; never a key, only its id.

The key-id limit is the strict one (few failures: the owner of a key rarely mistypes
it), the client limit the generous one (many users may share an address behind
NAT). A valid call pays nothing: a cached principal never reaches this module, and
a verified one costs two dictionary lookups (of the refusal tables) before its
lookup; the counters are touched by failures only.

Behind the REST gateway every caller's gRPC peer is the gateway. grpc-gateway sends
`x-forwarded-for` with the address it saw appended to what the request claimed, so
from a trusted proxy (the configured networks: by default loopback, where `make
run` puts the gateway) the client is the nearest address in that list that is not a
trusted proxy itself, read from the right; anything further left is the client's own
claim and never believed. A caller that is not a trusted proxy is its peer address,
whatever metadata it sends. IPv6 clients count per /64, the block one host gets.

Counters live in this process: several replicas each count their own, so a client
spread over N replicas gets N times the failures before every replica refuses it.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from ..domain.errors import ResourceExhausted

log = logging.getLogger("extrepo.security")

# Real key ids are 16 hex characters (api_keys.generate; the column holds 32). A longer
# one cannot exist, so it is counted against the client only, and never logged.
_MAX_KEY_ID_LENGTH = 32
# The refusal tables drop expired entries once they hold this many.
_PURGE_AT = 1_000
# What a client string may hold of an address it did not prove (x-forwarded-for).
_MAX_CLIENT_LENGTH = 64

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[IpNetwork, ...]:
    """`127.0.0.0/8, ::1, 10.1.2.3` as networks (a bare address is a network of one);
    ValueError naming the entry that is neither."""
    networks = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"'{entry[:_MAX_CLIENT_LENGTH]}' is not an IP address or network (CIDR)"
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _peer_host(peer: str) -> str:
    """The address of a gRPC peer: `ipv4:1.2.3.4:5678` -> `1.2.3.4`,
    `ipv6:[::1]:5678` -> `::1`; anything else (a unix socket) as it is."""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return rest.rpartition(":")[0].strip("[]")
    return peer


class ClientAddresses:
    """Which client a call comes from (see the module's docstring)."""

    def __init__(self, trusted_proxies: Iterable[IpNetwork]) -> None:
        self._trusted = tuple(trusted_proxies)

    def _is_trusted(self, address) -> bool:
        return any(address in network for network in self._trusted)

    def of(self, peer: str, forwarded_for: str | None) -> str:
        host = _peer_host(peer)
        address = _address(host)
        if address is None:
            return host[:_MAX_CLIENT_LENGTH]
        if forwarded_for and self._is_trusted(address):
            for hop in reversed(forwarded_for.split(",")):
                hop_address = _address(hop)
                if hop_address is None:  # not an address: a client's own claim, as said
                    return "forwarded:" + hop.strip()[:_MAX_CLIENT_LENGTH]
                address = hop_address
                if not self._is_trusted(address):
                    break
        return _bucket(address)


def _bucket(address) -> str:
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class FailureThrottle:
    """Counts failed authentication and refuses clients and key ids that failed too
    often (see the module's docstring)."""

    def __init__(
        self,
        *,
        per_client: int,
        per_key: int,
        window_seconds: int,
        trusted_proxies: Iterable[IpNetwork] = (),
        on_refusal: Callable[[str, str, str | None], None] | None = None,
    ) -> None:
        """`on_refusal(by, client, key_id)` hears of each refusal as it starts (`by`:
        "client" or "key"), as the warning line does: the audit log records it."""
        self.clients = ClientAddresses(trusted_proxies)
        self._window = window_seconds
        self._on_refusal = on_refusal
        self._limiter = FixedWindowRateLimiter(MemoryStorage())
        self._client_limit = RateLimitItemPerSecond(per_client, window_seconds)
        self._key_limit = RateLimitItemPerSecond(per_key, window_seconds)
        # Who is refused, until when (time.time(), as `limits` counts).
        self._refused_clients: dict[str, float] = {}
        self._refused_keys: dict[str, float] = {}

    def check_client(self, client: str) -> None:
        """Refuse (ResourceExhausted) a client whose failures reached the limit."""
        if self._refused_clients:
            _refuse_if_listed(
                self._refused_clients,
                client,
                "too many failed authentication attempts from your address",
            )

    def check_key(self, key_id: str) -> None:
        """Refuse (ResourceExhausted) a key id whose failures reached the limit."""
        if self._refused_keys:
            _refuse_if_listed(
                self._refused_keys,
                key_id,
                "too many failed authentication attempts with this API key",
            )

    def failed(self, client: str, key_id: str | None) -> None:
        """Count one failed authentication of `client` (with `key_id`, if it named one)."""
        if len(key_id or "") > _MAX_KEY_ID_LENGTH:
            key_id = None
        self._count(self._client_limit, "client", client, self._refused_clients, client, key_id)
        if key_id is not None:
            self._count(self._key_limit, "key", key_id, self._refused_keys, client, key_id)

    def _count(
        self, limit, kind: str, name: str, refused: dict[str, float], client: str, key_id
    ) -> None:
        self._limiter.hit(limit, kind, name)
        stats = self._limiter.get_window_stats(limit, kind, name)
        if stats.remaining > 0:
            return
        if len(refused) >= _PURGE_AT:
            now = time.time()
            for stale in [k for k, until in refused.items() if until <= now]:
                del refused[stale]
        refused[name] = stats.reset_time
        log.warning(
            "failed authentication throttled",
            extra={
                "by": kind,
                "client": client,
                "key_id": key_id or "-",
                "failures": limit.amount,
                "window_seconds": self._window,
                "refused_seconds": _seconds_left(stats.reset_time),
            },
        )
        if self._on_refusal is not None:
            self._on_refusal(kind, client, key_id)


def _seconds_left(until: float) -> int:
    return max(1, math.ceil(until - time.time()))


def _refuse_if_listed(refused: dict[str, float], name: str, message: str) -> None:
    until = refused.get(name)
    if until is None:
        return
    if until <= time.time():
        del refused[name]  # the window is over: counting starts afresh
        return
    seconds = _seconds_left(until)
    raise ResourceExhausted(f"{message}; retry in {seconds} s", retry_after_seconds=seconds)
