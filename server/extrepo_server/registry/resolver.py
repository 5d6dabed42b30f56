"""Looking up registry host names without tying up the event loop's default executor.

`getaddrinfo` holds a thread until the system resolver answers or gives up (glibc:
5 s per try and name server, two tries by default). A check's deadline ends the
check's wait, not the lookup. Anyone may name a host whose DNS never answers; on the
loop's shared executor (a handful of threads on a small machine) a few such names
would hold every thread for many seconds after their checks ended, and every other
user's checks would then time out waiting for a thread. So:

- an IP address needs no lookup at all;
- names are looked up on threads of their own (RESOLVER_THREADS);
- a name whose lookup is still running is not looked up again: checks naming it wait
  for that lookup, so one dead name costs one thread however often it is named.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor

RESOLVER_THREADS = 16

_executor = ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="extrepo-resolve")
_running: dict[tuple[str, int], Future] = {}
_lock = threading.Lock()


async def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` (a name or an address, without brackets) resolves to,
    for TCP, in the resolver's order, duplicates kept. socket.gaierror if it does not
    resolve."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    lookup = _lookup(host, port)
    # shield: a check that gives up must not cancel a lookup others may be awaiting.
    infos = await asyncio.shield(asyncio.wrap_future(lookup))
    return [info[4][0] for info in infos]


def lookups_running() -> int:
    """How many lookups are on the resolver's threads or waiting for one."""
    with _lock:
        return len(_running)


def _lookup(host: str, port: int) -> Future:
    key = (host.lower(), port)
    with _lock:
        lookup = _running.get(key)
        if lookup is not None:
            return lookup
        lookup = _executor.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        _running[key] = lookup
    # Outside the lock: the callback runs at once if the lookup already ended.
    lookup.add_done_callback(lambda done: _forget(key, done))
    return lookup


def _forget(key: tuple[str, int], done: Future) -> None:
    with _lock:
        if _running.get(key) is done:
            del _running[key]
