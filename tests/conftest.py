"""Fixtures: one real server per database, fresh users per test, two transports.

Every API case takes the `connect` fixture (or a ready `alice`), which is
parametrized over `grpc` and `rest`: the same case runs through the generated gRPC
stubs and through the real grpc-gateway over HTTP. The session's `server` is
parametrized over databases: SQLite, and a real PostgreSQL that the tests start
themselves (harness/postgres.py), so every case that uses it runs on both.

EXTREPO_TEST_DATABASES=sqlite (or postgresql) narrows that, for a quicker local run;
`make test` and CI run both.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest

from harness.live_server import LiveServer
from harness.postgres import PostgresCluster
from tests.support.api import Api, GrpcApi, basic_authorization

# Real registries for the credential checks' tests.
pytest_plugins = ["tests.support.registries"]

TRANSPORTS = ["grpc", "rest"]
ALL_DATABASES = ("sqlite", "postgresql")
DATABASES = [
    d.strip() for d in os.environ.get("EXTREPO_TEST_DATABASES", "").split(",") if d.strip()
]
if not set(DATABASES) <= set(ALL_DATABASES):
    raise pytest.UsageError(f"EXTREPO_TEST_DATABASES: choose among {', '.join(ALL_DATABASES)}")
DATABASES = DATABASES or list(ALL_DATABASES)
_names = itertools.count(1)
_databases = itertools.count(1)


@dataclass(frozen=True)
class User:
    name: str
    api_key: str


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for the whole session (its own binaries, a free port)."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session", params=DATABASES)
def database(request) -> str:
    """Which database the session's server (and the storage cases) run on."""
    return request.param


@pytest.fixture
def database_url(request, database, tmp_path) -> str:
    """A fresh, empty database of this kind, for one test."""
    if database == "postgresql":
        return request.getfixturevalue("postgres").create_database(f"t{next(_databases)}")
    return f"sqlite:///{tmp_path / 'fresh.db'}"


# The session's server takes every suite's deliberate failures (wrong keys, missing
# credentials, schemathesis without credentials) from one loopback client within
# a minute: its failed-authentication limits are lifted so that one suite cannot
# lock the next out. The throttle has its own servers (tests/grpc/test_brute_force.py).
SHARED_SERVER_ENV = {
    "EXTREPO_AUTH_FAILURES_PER_CLIENT": "1000000",
    "EXTREPO_AUTH_FAILURES_PER_KEY": "1000000",
}


@pytest.fixture(scope="session")
def server(request, database, tmp_path_factory) -> Iterator[LiveServer]:
    url = None
    if database == "postgresql":
        url = request.getfixturevalue("postgres").create_database("api")
    live = LiveServer(
        tmp_path_factory.mktemp(f"server-{database}"), database_url=url, env=SHARED_SERVER_ENV
    )
    with live:
        yield live
    print(live.log_text()[-2000:])


@pytest.fixture(scope="session")
def grpc_channel(server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.address) as channel:
        yield channel


@pytest.fixture(scope="session")
def gateway_url(server) -> Iterator[str]:
    from harness.gateway import start_gateway

    base_url, stop = start_gateway(server.address)
    try:
        yield base_url
    finally:
        stop()


def unique_name(prefix: str) -> str:
    return f"{prefix}{next(_names)}x{os.getpid() % 1000}"


@pytest.fixture
def new_user(server) -> Callable[[str], User]:
    """Make a user with an API key (names are unique across the session)."""

    def make(prefix: str = "user") -> User:
        name = unique_name(prefix)
        return User(name, server.create_user(name))

    return make


@pytest.fixture(params=TRANSPORTS)
def transport(request) -> str:
    return request.param


@pytest.fixture
def connect(request, transport, grpc_channel) -> Callable[..., Api]:
    """`connect(user)`: an Api over this test's transport.

    `connect(authorization=...)` sends a raw authorization header instead.
    """

    def make(user: User | None = None, *, authorization: str | None = None) -> Api:
        if user is not None:
            authorization = basic_authorization(user.name, user.api_key)
        if transport == "grpc":
            return GrpcApi(grpc_channel, authorization)
        from tests.support.rest_api import make_rest_api

        return make_rest_api(request.getfixturevalue("gateway_url"), authorization)

    return make


@pytest.fixture
def own_server(tmp_path) -> Iterator[LiveServer]:
    """A server of the test's own (SQLite), for tests that restart it or read its files;
    its authentication cache lasts 0.2 s, so a revoked key fails soon."""
    with LiveServer(tmp_path, env={"EXTREPO_AUTH_CACHE_SECONDS": "0.2"}) as server:
        yield server


@pytest.fixture
def alice(new_user, connect) -> Api:
    """A fresh user's API, over this test's transport."""
    return connect(new_user("alice"))
