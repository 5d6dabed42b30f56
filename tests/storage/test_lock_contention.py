"""One slow write must not stop the server: while another process holds the database's
write lock, a Create waits off the event loop (up to EXTREPO_DB_LOCK_TIMEOUT_SECONDS),
reads and health checks keep answering at once, and a Create that never gets the lock
answers UNAVAILABLE with a retry hint, having changed nothing. On SQLite (another
process's write transaction) and on PostgreSQL (a table lock held by another session).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import grpc
import httpx
import psycopg
import pytest
import sqlalchemy as sa
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from harness.gateway import start_gateway
from harness.live_server import LiveServer
from tests.support.api import ApiError, basic_authorization, grpc_api

LOCK_TIMEOUT = 2.0
# A read on a free event loop takes milliseconds; a loop stuck behind the waiting
# write would take the whole lock timeout.
PROMPT = 0.5


@pytest.fixture
def locked_server(database_url, tmp_path) -> Iterator[LiveServer]:
    env = {"EXTREPO_DB_LOCK_TIMEOUT_SECONDS": str(LOCK_TIMEOUT)}
    with LiveServer(tmp_path / "server", database_url=database_url, env=env) as server:
        yield server


@contextmanager
def write_lock_held_elsewhere(database_url: str) -> Iterator[None]:
    """Another process's transaction holding what a Create needs."""
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")  # SQLite's one write lock
    else:
        connection = psycopg.connect(url.set(drivername="postgresql").render_as_string(False))
        connection.execute("LOCK TABLE repository IN EXCLUSIVE MODE")  # reads still pass
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_reads_and_health_answer_while_a_write_waits_then_it_fails_cleanly(
    locked_server, database_url
):
    key = locked_server.create_user("lock")
    api = grpc_api(locked_server, "lock", key)
    api.create("lock.example.com/kept", "u", "p")
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(locked_server.address))

    with write_lock_held_elsewhere(database_url), ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        waiting = pool.submit(api.create, "lock.example.com/blocked", "u", "p")
        time.sleep(0.3)  # the Create is now waiting for the lock
        for _ in range(5):
            assert not waiting.done(), "the Create waits for the lock"
            got, took = _timed(lambda: api.get("lock.example.com/kept"))
            assert got["name"] == "lock.example.com/kept" and took < PROMPT, took
            listed, took = _timed(lambda: api.list())
            assert listed["meta"]["total_count"] == 1 and took < PROMPT, took
            reply, took = _timed(lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=5))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING and took < PROMPT, took
            time.sleep(0.1)
        with pytest.raises(ApiError) as caught:
            waiting.result(30)
        waited = time.monotonic() - started

    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "lock" in caught.value.message and "retry" in caught.value.message
    assert LOCK_TIMEOUT - 0.2 < waited < LOCK_TIMEOUT + 3, waited
    # Nothing of the failed Create was written, and the server writes again at once.
    assert api.list()["meta"]["total_count"] == 1
    assert api.create("lock.example.com/after", "u", "p")["name"] == "lock.example.com/after"
    assert api.list()["meta"]["total_count"] == 2


def test_the_refusal_carries_a_retry_hint(locked_server, database_url):
    key = locked_server.create_user("hint")
    channel = grpc.insecure_channel(locked_server.address)
    from extrepo.v1 import repository_service_pb2 as pb
    from extrepo.v1 import repository_service_pb2_grpc as pb_grpc

    stub = pb_grpc.RepositoryServiceStub(channel)
    metadata = (("authorization", basic_authorization("hint", key)),)
    request = pb.CreateRequest(name="hint.example.com/app", username="u", password="p")
    with write_lock_held_elsewhere(database_url), pytest.raises(grpc.RpcError) as caught:
        stub.Create(request, metadata=metadata, timeout=30)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    status = status_pb2.Status.FromString(
        dict(caught.value.trailing_metadata())["grpc-status-details-bin"]
    )
    retry = error_details_pb2.RetryInfo()
    assert [d for d in status.details if d.Unpack(retry)], "a RetryInfo detail"
    assert retry.retry_delay.ToMilliseconds() >= 500
    info = error_details_pb2.ErrorInfo()
    assert [d for d in status.details if d.Unpack(info)], "an ErrorInfo detail"
    assert (info.domain, info.reason) == ("extrepo.io", "DATABASE_LOCKED")


def test_a_write_that_gets_the_lock_in_time_succeeds(locked_server, database_url):
    key = locked_server.create_user("late")
    api = grpc_api(locked_server, "late", key)
    with ThreadPoolExecutor(1) as pool:
        with write_lock_held_elsewhere(database_url):
            waiting = pool.submit(api.create, "late.example.com/app", "u", "p")
            time.sleep(0.5)
            assert not waiting.done()
        assert waiting.result(30)["name"] == "late.example.com/app"
    assert api.get("late.example.com/app")["name"] == "late.example.com/app"


def test_over_rest_the_refusal_is_a_503_that_says_why_with_retry_after(locked_server, database_url):
    key = locked_server.create_user("rest")
    base_url, stop = start_gateway(locked_server.address)
    try:
        with write_lock_held_elsewhere(database_url):
            reply = httpx.post(
                f"{base_url}/api/repo/v1/repository/",
                json={"name": "rest.example.com/app", "username": "u", "password": "p"},
                headers={"Authorization": basic_authorization("rest", key)},
                timeout=30,
            )
    finally:
        stop()
    assert reply.status_code == 503, reply.text
    assert "database lock" in reply.json()["error"] and "retry" in reply.json()["error"]
    assert reply.headers["Retry-After"] == "1"
