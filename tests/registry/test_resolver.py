"""Name lookups of checks (registry/resolver.py): a check waits neither for the event
loop's shared executor nor for a lookup of another name that hangs, and a name whose
DNS never answers costs one lookup however many checks name it.

The hanging DNS server is simulated by holding `socket.getaddrinfo` for one name (the
operating system's resolver, not ours); every other name goes to the real one."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from extrepo_server.domain.ports import PullCredentials, VerificationState
from extrepo_server.registry import resolver
from extrepo_server.registry.addresses import AddressPolicy
from extrepo_server.registry.client import RegistryClient

from tests.support.registries import PULLER

S = VerificationState
DEAD = "dns-never-answers.example"


def _client(test_ca, allow: str, timeout: float) -> RegistryClient:
    return RegistryClient(
        timeout_seconds=timeout, policy=AddressPolicy(allow), ca_file=str(test_ca.pem)
    )


@pytest.fixture
def dead_name(monkeypatch):
    """`DEAD` resolves only once the test ends; `calls` lists every name looked up."""
    real = socket.getaddrinfo
    release = threading.Event()
    calls = []

    def getaddrinfo(host, *args, **kwargs):
        calls.append(host)
        if host == DEAD:
            release.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "temporary failure")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield calls
    release.set()
    deadline = time.monotonic() + 10
    while resolver.lookups_running() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_check_does_not_wait_for_the_loops_default_executor(basic_registry, test_ca):
    """Whatever holds the loop's default executor (here: its one thread, asleep)
    leaves checks alone, by address or by name."""

    async def run():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1))
        busy = loop.run_in_executor(None, time.sleep, 3)
        by_name = f"localhost:{basic_registry.port}"
        client = _client(test_ca, f"127.0.0.0/8,{by_name}", timeout=2)
        try:
            started = time.monotonic()
            results = [
                await client.check(host, "team/app", PullCredentials(*PULLER))
                for host in (basic_registry.host, by_name)
            ]
            return results, time.monotonic() - started, busy.done()
        finally:
            await client.aclose()
            await busy

    results, elapsed, busy_done = asyncio.run(run())
    for result in results:
        assert result.verification.state is S.VERIFIED, result.verification.reason
    assert not busy_done and elapsed < 2.5


def test_a_hanging_name_costs_one_lookup_and_blocks_no_other_check(
    dead_name, basic_registry, test_ca
):
    async def run():
        client = _client(test_ca, f"127.0.0.0/8,localhost:{basic_registry.port}", timeout=1)
        credentials = PullCredentials(*PULLER)
        try:
            dead = await asyncio.gather(
                *(client.check(f"{DEAD}:443", "team/app", credentials) for _ in range(20))
            )
            running = resolver.lookups_running()
            # Again, while the first lookup still hangs: no new lookup either.
            again = await client.check(f"{DEAD}:443", "team/app", credentials)
            alive = await client.check(f"localhost:{basic_registry.port}", "team/app", credentials)
            return [*dead, again], running, alive
        finally:
            await client.aclose()

    dead, running, alive = asyncio.run(run())
    for result in dead:
        assert result.verification.state is S.REGISTRY_UNREACHABLE
        assert DEAD in result.verification.reason and "1 s" in result.verification.reason
    assert dead_name.count(DEAD) == 1, "one lookup for 21 checks of one name"
    assert running == 1
    assert alive.verification.state is S.VERIFIED, alive.verification.reason


def test_an_address_is_not_looked_up(dead_name):
    assert asyncio.run(resolver.resolve("203.0.113.7", 443)) == ["203.0.113.7"]
    assert asyncio.run(resolver.resolve("2001:db8::1", 443)) == ["2001:db8::1"]
    assert dead_name == []


def test_a_name_that_does_not_resolve_raises_gaierror():
    with pytest.raises(socket.gaierror):
        asyncio.run(resolver.resolve("no-such-host.invalid", 443))
    assert resolver.lookups_running() == 0
