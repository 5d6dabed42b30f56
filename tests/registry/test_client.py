"""The outbound registry client against real HTTP servers on loopback: what `GET /v2/`
tells about a host, within the timeout, without blocking the event loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from extrepo_server.domain.ports import RegistryPingOutcome
from extrepo_server.registry.addresses import AddressPolicy
from extrepo_server.registry.challenge import parse_challenge
from extrepo_server.registry.client import RegistryClient

# The test servers listen on loopback, which checks refuse unless allowed.
LOOPBACK_ALLOWED = AddressPolicy("127.0.0.0/8")

BEARER = 'Bearer realm="http://127.0.0.1:1/token",service="registry.test",scope="x"'


class _Registry(BaseHTTPRequestHandler):
    """Answers /v2/ as the server's `behaviour` says (set per server below)."""

    def do_GET(self):
        b = self.server.behaviour  # type: ignore[attr-defined]
        time.sleep(b.get("delay", 0))
        self.send_response(b["status"])
        for name, value in b.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def registry() -> Iterator:
    servers = []

    def start(status: int, headers: dict[str, str] | None = None, delay: float = 0) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
        server.daemon_threads = True
        server.behaviour = {"status": status, "headers": headers or {}, "delay": delay}
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _ping(host: str, *, plain_http: bool = True, timeout: float = 5):
    async def go():
        client = RegistryClient(
            timeout_seconds=timeout,
            plain_http_hosts=frozenset({host} if plain_http else ()),
            policy=LOOPBACK_ALLOWED,
        )
        try:
            return await client.ping(host)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_a_registry_asking_for_a_bearer_token(registry):
    host = registry(
        401, {"Docker-Distribution-API-Version": "registry/2.0", "WWW-Authenticate": BEARER}
    )
    ping = _ping(host)
    assert ping.outcome is RegistryPingOutcome.AUTH_REQUIRED
    assert ping.challenge.scheme == "bearer"
    assert ping.challenge.params == {
        "realm": "http://127.0.0.1:1/token",
        "service": "registry.test",
        "scope": "x",
    }


def test_an_open_registry(registry):
    ping = _ping(registry(200, {"Docker-Distribution-API-Version": "registry/2.0"}))
    assert ping.outcome is RegistryPingOutcome.OPEN and ping.challenge is None


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, {}),  # any web server answering 200
        (404, {}),
        (401, {"WWW-Authenticate": "Negotiate"}),
        (500, {"Docker-Distribution-API-Version": "registry/2.0"}),
    ],
)
def test_what_is_not_a_registry(registry, status, headers):
    ping = _ping(registry(status, headers))
    assert ping.outcome is RegistryPingOutcome.NOT_A_REGISTRY
    assert str(status) in ping.reason or "header" in ping.reason or "challenge" in ping.reason


def test_a_closed_port_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{probe.getsockname()[1]}"
    ping = _ping(host)
    assert ping.outcome is RegistryPingOutcome.UNREACHABLE
    assert host in ping.reason


def test_https_to_a_plain_http_server_is_a_tls_error(registry):
    host = registry(200, {"Docker-Distribution-API-Version": "registry/2.0"})
    assert _ping(host, plain_http=False).outcome is RegistryPingOutcome.TLS_ERROR


def test_a_slow_registry_times_out_without_blocking_the_loop(registry):
    host = registry(200, {"Docker-Distribution-API-Version": "registry/2.0"}, delay=3)

    async def go():
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        client = RegistryClient(
            timeout_seconds=0.5, plain_http_hosts=frozenset({host}), policy=LOOPBACK_ALLOWED
        )
        started = time.monotonic()
        ping = await client.ping(host)
        elapsed = time.monotonic() - started
        ticker.cancel()
        await client.aclose()
        return ping, elapsed, ticks

    ping, elapsed, ticks = asyncio.run(go())
    assert ping.outcome is RegistryPingOutcome.UNREACHABLE and "0.5 s" in ping.reason
    assert elapsed < 2.5, "the total timeout bounds the check, not the server's delay"
    # ~50 ticks of 10 ms fit in the 0.5 s wait; a blocked loop would run none.
    assert ticks >= 10


@pytest.mark.parametrize(
    ("header", "scheme", "params"),
    [
        ('Basic realm="Registry Realm"', "basic", {"realm": "Registry Realm"}),
        (
            'bearer Realm="https://a/t", service=reg',
            "bearer",
            {"realm": "https://a/t", "service": "reg"},
        ),
        ('Bearer realm="a \\"quoted\\" b"', "bearer", {"realm": 'a "quoted" b'}),
        ("Bearer", "bearer", {}),
    ],
)
def test_challenges_parse(header, scheme, params):
    challenge = parse_challenge(header)
    assert challenge is not None
    assert (challenge.scheme, challenge.params) == (scheme, params)


def test_an_empty_challenge_is_none():
    assert parse_challenge("") is None
    assert parse_challenge("   ") is None
