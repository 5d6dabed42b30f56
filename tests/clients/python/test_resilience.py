"""Deadlines and retries: what the SDK's service config tells gRPC, seen through a
proxy in front of the real server that drops connections or never answers."""

from __future__ import annotations

import json
import time

import extrepo
import pytest
from extrepo import _channel

from .proxy import Proxy


def test_a_read_is_retried_after_a_dropped_connection(server, user, repo_name, client):
    name = repo_name()
    client.create(name, "puller", "s3cret")
    with (
        Proxy(server.address, drop_first=1) as proxy,
        extrepo.Client(proxy.address, username=user.name, api_key=user.api_key) as through,
    ):
        assert through.Repository.fetch(name).name == name
    assert proxy.connections == 2, "the first connection was dropped, the retry got through"


def test_a_write_is_not_retried(server, user, repo_name, client):
    name = repo_name()
    with (
        Proxy(server.address, drop_first=1) as proxy,
        extrepo.Client(proxy.address, username=user.name, api_key=user.api_key) as through,
    ):
        with pytest.raises(extrepo.Unavailable):
            through.create(name, "puller", "s3cret")
        assert proxy.connections == 1
        with pytest.raises(extrepo.NotFound):
            client.get(name)
        # A call after the reconnect backoff (0.25 s) finds the server again.
        time.sleep(0.6)
        assert through.create(name, "puller", "s3cret").name == name


def test_every_call_has_a_deadline(server, user):
    with (
        Proxy(server.address, hold=True) as proxy,
        extrepo.Client(
            proxy.address, username=user.name, api_key=user.api_key, timeout=0.5
        ) as through,
    ):
        started = time.monotonic()
        with pytest.raises(extrepo.DeadlineExceeded):
            through.Repository.fetch("registry.local/user1/image1")
        with pytest.raises(extrepo.DeadlineExceeded):
            through.create("registry.local/user1/image1", "puller", "s3cret")
        assert time.monotonic() - started < 5


def test_the_service_config_retries_reads_only():
    config = _channel.service_config(10)
    json.dumps(config)  # what the channel is given
    [reads, everything] = config["methodConfig"]
    assert {n["method"] for n in reads["name"]} == {"Get", "List"}
    assert reads["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert "retryPolicy" not in everything
    assert reads["timeout"] == everything["timeout"] == "10.000s"
