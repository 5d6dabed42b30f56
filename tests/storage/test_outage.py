"""PostgreSQL stopped under traffic: calls answer UNAVAILABLE (never INTERNAL, never a
hang), and once it is back the same server processes answer OK again by themselves.

The cluster here is this module's own, so stopping it disturbs no other test.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest

from harness.live_server import LiveServer
from harness.postgres import PostgresCluster
from tests.support.api import ApiError, GrpcApi, basic_authorization

UNAVAILABLE_MESSAGE = "the database is unavailable; retry shortly"


@dataclass
class Outcome:
    phase: str
    replica: int
    code: grpc.StatusCode
    message: str
    seconds: float


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with PostgresCluster() as own:
        yield own


@pytest.fixture(scope="module")
def servers(cluster, tmp_path_factory) -> Iterator[list[LiveServer]]:
    url = cluster.create_database("outage")
    env = {"EXTREPO_SECRET_KEYS": "YnJhbmQtbmV3LWtleS1mb3ItdGhlLW91dGFnZS10ZXM="}
    live = [
        LiveServer(tmp_path_factory.mktemp(f"outage{n}"), database_url=url, env=env).start()
        for n in range(2)
    ]
    try:
        yield live
    finally:
        for server in live:
            server.stop()


class Traffic:
    """Threads calling Get and Create through both servers until stopped."""

    def __init__(self, servers: list[LiveServer], user: str, key: str) -> None:
        self.phase = "up"
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._names = itertools.count()
        self._lock = threading.Lock()
        self._channels = [grpc.insecure_channel(s.address) for s in servers]
        self._apis = [GrpcApi(c, basic_authorization(user, key)) for c in self._channels]
        self._apis[0].create("outage.example.com/known", "u", "p")
        self._threads = [
            threading.Thread(target=self._run, args=(worker,), daemon=True) for worker in range(4)
        ]

    def _run(self, worker: int) -> None:
        replica = worker % 2
        api = self._apis[replica]
        while not self._stop.is_set():
            phase = self.phase
            started = time.monotonic()
            try:
                if worker < 2:
                    api.get("outage.example.com/known")
                else:
                    api.create(f"outage.example.com/w{worker}/n{next(self._names)}", "u", "p")
                code, message = grpc.StatusCode.OK, ""
            except ApiError as exc:
                code, message = exc.code, exc.message
            # A call that straddles a change of phase belongs to neither.
            if self.phase != phase:
                phase = f"{phase}->{self.phase}"
            with self._lock:
                self.outcomes.append(
                    Outcome(phase, replica, code, message, time.monotonic() - started)
                )
            time.sleep(0.005)

    def start(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        for channel in self._channels:
            channel.close()

    def of(self, phase: str) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.phase == phase]

    def wait_for(self, phase: str, predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.of(phase)):
                return True
            time.sleep(0.05)
        return False


def _both_replicas(code: grpc.StatusCode, at_least: int):
    def check(outcomes: list[Outcome]) -> bool:
        per_replica = Counter(o.replica for o in outcomes if o.code == code)
        return all(per_replica[r] >= at_least for r in (0, 1))

    return check


def test_unavailable_while_postgres_is_down_then_recovery_without_restart(cluster, servers):
    key = servers[0].create_user("outage")
    traffic = Traffic(servers, "outage", key).start()
    try:
        assert traffic.wait_for("up", _both_replicas(grpc.StatusCode.OK, 20), 30)

        traffic.phase = "stopping"
        cluster.stop("fast")
        traffic.phase = "down"
        assert traffic.wait_for("down", _both_replicas(grpc.StatusCode.UNAVAILABLE, 20), 30)
        time.sleep(1)

        traffic.phase = "starting"
        cluster.start()
        traffic.phase = "back"
        assert traffic.wait_for("back", _both_replicas(grpc.StatusCode.OK, 1), 30)
        traffic.phase = "after"
        assert traffic.wait_for("after", _both_replicas(grpc.StatusCode.OK, 50), 30)
    finally:
        traffic.stop()

    everything = traffic.outcomes
    codes = Counter(o.code for o in everything)
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
    assert grpc.StatusCode.INTERNAL not in codes
    assert all(o.message == UNAVAILABLE_MESSAGE for o in everything if o.code != grpc.StatusCode.OK)
    down = traffic.of("down")
    assert {o.code for o in down} == {grpc.StatusCode.UNAVAILABLE}, Counter(o.code for o in down)
    # Failing fast: a refused connection answers at once, never the loop held for long.
    assert max(o.seconds for o in down) < 3, max(o.seconds for o in down)
    assert {o.code for o in traffic.of("up")} == {grpc.StatusCode.OK}
    after = traffic.of("after")
    assert {o.code for o in after} == {grpc.StatusCode.OK}, [
        (o.replica, o.code, o.message) for o in after if o.code != grpc.StatusCode.OK
    ]
    for server in servers:
        assert server.process is not None and server.process.poll() is None
        assert "unexpected error" not in server.log_text()


def test_a_restart_between_calls_costs_no_failed_read(cluster, servers):
    """Pooled connections all die with a restart. A read finding its connection dead
    drops the pool and retries once on a new connection: the caller sees OK."""
    # The test's own admin engine still holds connections from before the last
    # outage; a write on one would (rightly) fail once. Start it afresh.
    servers[0].admin_api.components.engine.dispose()
    key = servers[0].create_user("restart")
    apis = [
        GrpcApi(grpc.insecure_channel(s.address), basic_authorization("restart", key))
        for s in servers
    ]
    apis[0].create("restart.example.com/app", "u", "p")
    for api in apis:
        api.get("restart.example.com/app")  # a pooled connection on each server

    cluster.stop("fast")
    cluster.start()
    cluster.wait_accepting()

    for api in apis:
        assert api.get("restart.example.com/app")["name"] == "restart.example.com/app"
        assert api.list()["meta"]["total_count"] == 1
    # Writes are not retried (one may have landed): at most one UNAVAILABLE each,
    # and the pool was already renewed by the reads above, so none here.
    for n, api in enumerate(apis):
        api.create(f"restart.example.com/after{n}", "u", "p")
