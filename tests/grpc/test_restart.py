"""Restarts drop nothing: a stop under load, a second signal, and kill -9.

A stop (SIGTERM/SIGINT) turns health NOT_SERVING first, keeps serving for the drain,
then refuses new calls with UNAVAILABLE until the port closes, and lets every call
it accepted finish: no client sees CANCELLED, over gRPC or through the gateway
(499), and every write answered OK is stored. kill -9 loses no acknowledged write
and leaves the database consistent (SQLite's integrity_check, and the counters
List's total_count reads equal to counting the rows).
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.gateway import start_gateway
from harness.live_server import LiveServer
from tests.support.api import Api, ApiError, GrpcApi, basic_authorization
from tests.support.rest_api import make_rest_api

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
DRAIN_SECONDS = 0.5
GRACE_SECONDS = 10


@dataclass(frozen=True)
class Outcome:
    transport: str
    method: str
    code: grpc.StatusCode
    message: str
    name: str
    at: float  # time.monotonic() when the answer came


class Load:
    """Clients that each send Create, then Get of what they created, one call after
    another, without pause, until told to stop: their calls are in flight at
    every moment of the stop, and they keep sending after refusals and after the
    port is closed, as a careless client would."""

    def __init__(self, apis: dict[str, list[Api]]) -> None:
        self.outcomes: list[Outcome] = []
        self.wrong: list[str] = []
        self._done = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(transport, n, api), daemon=True)
            for transport, transport_apis in apis.items()
            for n, api in enumerate(transport_apis)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(30)

    def _record(self, transport, method, code, message, name) -> None:
        self.outcomes.append(Outcome(transport, method, code, message, name, time.monotonic()))

    def _run(self, transport: str, worker: int, api: Api) -> None:
        try:
            self._send(transport, worker, api)
        except Exception as error:  # any other failure fails the test
            self.wrong.append(f"{transport} client {worker}: {error!r}")

    def _send(self, transport: str, worker: int, api: Api) -> None:
        i = 0
        while not self._done.is_set():
            i += 1
            name = f"restart.example.com/{transport}{worker}-{i}"
            try:
                api.create(name, "u", "p")
            except ApiError as error:
                self._record(transport, "Create", error.code, error.message, name)
                if error.code != grpc.StatusCode.UNAVAILABLE or "shutting down" not in (
                    error.message
                ):
                    time.sleep(0.005)  # the port is closed: each try fails at once
                continue
            self._record(transport, "Create", grpc.StatusCode.OK, "", name)
            try:
                got = api.get(name)
            except ApiError as error:
                self._record(transport, "Get", error.code, error.message, name)
                continue
            self._record(transport, "Get", grpc.StatusCode.OK, "", name)
            if got["name"] != name:
                self.wrong.append(f"Get {name} answered {got['name']}")


class HealthWatch:
    """A health Watch stream, as a client-side load balancer keeps one."""

    def __init__(self, address: str) -> None:
        self._channel = grpc.insecure_channel(address)
        self.statuses: list[tuple[float, int]] = []
        self.end: grpc.StatusCode | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stub = health_pb2_grpc.HealthStub(self._channel)
        try:
            for reply in stub.Watch(health_pb2.HealthCheckRequest(), timeout=60):
                self.statuses.append((time.monotonic(), reply.status))
            self.end = grpc.StatusCode.OK
        except grpc.RpcError as error:
            self.end = error.code()

    def first(self, status: int) -> float:
        return next(at for at, seen in self.statuses if seen == status)

    def close(self) -> None:
        self._thread.join(30)
        self._channel.close()


def _listed_names(api: Api) -> set[str]:
    names: set[str] = set()
    page = api.list(limit=100)
    while True:
        names.update(o["name"] for o in page["objects"])
        if page["meta"]["next"] is None:
            return names
        page = api.follow(page["meta"]["next"])


def test_a_stop_under_load_cancels_nothing_and_loses_nothing(tmp_path):
    server = LiveServer(
        tmp_path,
        env={
            "EXTREPO_SHUTDOWN_DRAIN_SECONDS": str(DRAIN_SECONDS),
            "EXTREPO_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        },
    ).start()
    key = server.create_user("restart")
    authorization = basic_authorization("restart", key)
    gateway_url, stop_gateway = start_gateway(server.address)
    channels = [grpc.insecure_channel(server.address) for _ in range(12)]
    rest_apis = [make_rest_api(gateway_url, authorization) for _ in range(4)]
    watch = HealthWatch(server.address)
    try:
        with Load(
            {
                "grpc": [GrpcApi(channel, authorization) for channel in channels],
                "rest": rest_apis,
            }
        ) as load:
            time.sleep(1.0)
            signalled = time.monotonic()
            code = server.stop(signal.SIGTERM)
            stopped = time.monotonic()
            time.sleep(0.2)  # the clients meet the closed port
    finally:
        watch.close()
        for channel in channels:
            channel.close()
        for api in rest_apis:
            api.client.close()
        stop_gateway()

    assert code == 0
    outcomes = load.outcomes
    codes = Counter((o.transport, o.code.name) for o in outcomes)
    print(f"outcomes: {dict(codes)}; stop took {stopped - signalled:.2f} s")
    assert not load.wrong
    # Not one call cancelled (gRPC CANCELLED, REST 499) nor failed otherwise.
    assert {o.code for o in outcomes} == {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}
    for transport in ("grpc", "rest"):
        assert codes[transport, "OK"] > 0 and codes[transport, "UNAVAILABLE"] > 0, codes

    # Health said NOT_SERVING first; calls were still served during the drain; only
    # then were new calls refused, each with an answer saying what to do.
    not_serving = watch.first(NOT_SERVING)
    unavailable = [o for o in outcomes if o.code == grpc.StatusCode.UNAVAILABLE]
    assert min(o.at for o in unavailable) > not_serving
    assert any(
        o.code == grpc.StatusCode.OK and o.at > not_serving + DRAIN_SECONDS / 2 for o in outcomes
    )
    refusals = [o for o in unavailable if o.transport == "grpc" and "shutting down" in o.message]
    assert refusals and all("retry" in o.message for o in refusals)
    # The Watch stream ended cleanly, and held nothing up: the stop took the drain
    # and moments, not the grace period.
    assert watch.end == grpc.StatusCode.OK
    assert stopped - signalled < DRAIN_SECONDS + 3 < GRACE_SECONDS
    entries = server.log_entries()
    assert any(e.get("msg") == "closed" and e["refused_calls"] >= 1 for e in entries)
    assert any(e.get("code") == "UNAVAILABLE" and e.get("caller") == "restart" for e in entries)

    # Every create answered OK is stored; none that failed left a row.
    created = {o.name for o in outcomes if o.method == "Create" and o.code == grpc.StatusCode.OK}
    with server, grpc.insecure_channel(server.address) as channel:
        assert _listed_names(GrpcApi(channel, authorization)) == created


def test_a_second_signal_cuts_the_drain_short(tmp_path):
    server = LiveServer(tmp_path, env={"EXTREPO_SHUTDOWN_DRAIN_SECONDS": "120"}).start()
    key = server.create_user("hurried")
    process = server.process
    assert process is not None
    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        api = GrpcApi(channel, basic_authorization("hurried", key))
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while health.Check(health_pb2.HealthCheckRequest(), timeout=5).status != NOT_SERVING:
            assert time.monotonic() < deadline, "health never turned NOT_SERVING"
            time.sleep(0.02)
        # Draining: health says NOT_SERVING, but calls are still carried out.
        assert api.create("hurried.example.com/app", "u", "p")["name"] == "hurried.example.com/app"
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert time.monotonic() - signalled < 5
    server.stop()


@dataclass
class Acknowledged:
    created: set[str]
    deleted: set[str]
    # Deletes sent but not answered (the process died): either state is right.
    unsure: set[str]


def _write_until_killed(server: LiveServer, authorization: str, round_: int) -> Acknowledged:
    """Creates, and deletes of every third one created, from 8 clients, until the
    server is killed with SIGKILL mid-stream; what was answered OK."""
    acked = Acknowledged(set(), set(), set())
    lock = threading.Lock()

    def client(worker: int) -> None:
        with grpc.insecure_channel(server.address) as channel:
            api = GrpcApi(channel, authorization)
            for i in range(100_000):
                name = f"h{i % 3}.example.com/r{round_}/w{worker}-{i}"
                try:
                    api.create(name, "u", "p")
                except ApiError:
                    return
                with lock:
                    acked.created.add(name)
                if i % 3 == 0:
                    try:
                        api.delete(name)
                    except ApiError:
                        with lock:
                            acked.unsure.add(name)
                        return
                    with lock:
                        acked.deleted.add(name)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.8)
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    for thread in threads:
        thread.join(30)
    return acked


def test_kill_9_loses_no_acknowledged_write(tmp_path, database, database_url):
    server = LiveServer(tmp_path, database_url=database_url).start()
    authorization = basic_authorization("killed", server.create_user("killed"))
    server.stop()
    engine = sa.create_engine(database_url)
    try:
        for round_ in range(3):
            server.start()
            acked = _write_until_killed(server, authorization, round_)
            assert acked.created, "no write was acknowledged before the kill"
            print(f"round {round_}: {len(acked.created)} creates and {len(acked.deleted)} deletes")

            if database == "sqlite":
                path = database_url.removeprefix("sqlite:///")
                with sqlite3.connect(path) as db:
                    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            with engine.connect() as db:
                names = set(
                    db.execute(
                        sa.text("SELECT name FROM repository WHERE name LIKE :p"),
                        {"p": f"%/r{round_}/%"},
                    ).scalars()
                )
                kept = acked.created - acked.deleted - acked.unsure
                assert kept <= names, f"lost: {sorted(kept - names)[:5]}"
                assert not names & acked.deleted, "a delete answered OK came back"
                _assert_counters_match_rows(db)
    finally:
        engine.dispose()
    # And the server starts on what the kills left, and answers from it.
    with server, grpc.insecure_channel(server.address) as channel:
        api = GrpcApi(channel, authorization)
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT count(*) FROM repository")).scalar_one()
        assert api.list()["meta"]["total_count"] == rows
        engine.dispose()


def _assert_counters_match_rows(db: sa.Connection) -> None:
    accounts = db.execute(
        sa.text(
            "SELECT a.id, a.repository_count,"
            " (SELECT count(*) FROM repository r WHERE r.namespace_id = a.id) FROM account a"
        )
    ).all()
    assert all(kept == counted for _, kept, counted in accounts), accounts
    counted: Counter[tuple[int, str]] = Counter()
    for namespace_id, name in db.execute(sa.text("SELECT namespace_id, name FROM repository")):
        counted[namespace_id, name.split("/", 1)[0]] += 1
    kept = {
        (namespace_id, host): count
        for namespace_id, host, count in db.execute(
            sa.text("SELECT namespace_id, host, repository_count FROM registry_count")
        )
        if count
    }
    assert kept == dict(counted)
