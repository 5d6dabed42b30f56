"""The server's Prometheus endpoint, scraped from a real server: calls by method and
code, latency, auth failures, credential checks per registry host, pool use, build
info; parsed with prometheus-client's own parser."""

from __future__ import annotations

import contextlib

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.live_server import LiveServer
from harness.registries import free_port
from tests.support.api import ApiError, grpc_api
from tests.support.registries import PULLER


def scrape(address: str) -> dict[tuple[str, frozenset], float]:
    text = httpx.get(f"http://{address}/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_calls_failures_checks_and_build_are_counted(tmp_path, checking_env, basic_registry):
    address = f"127.0.0.1:{free_port()}"
    env = {**checking_env, "EXTREPO_METRICS_ADDRESS": address}
    with LiveServer(tmp_path, env=env) as server:
        api = grpc_api(server, "metrics", server.create_user("metrics"))
        before = scrape(address)
        name = f"{basic_registry.host}/team/app"
        api.create(name, *PULLER)
        for _ in range(3):
            api.get(name)
        with contextlib.suppress(ApiError):
            api.get("reg.example.com/absent")
        with contextlib.suppress(ApiError):
            grpc_api(server, "metrics", "ek_wrong_wrong_wrong").get(name)
        after = scrape(address)

    get = {
        "grpc_type": "unary",
        "grpc_service": "extrepo.v1.RepositoryService",
        "grpc_method": "Get",
    }
    assert (
        value(after, "grpc_server_handled_total", **get, grpc_code="OK")
        - value(before, "grpc_server_handled_total", **get, grpc_code="OK")
        == 3
    )
    assert value(after, "grpc_server_handled_total", **get, grpc_code="NOT_FOUND") == 1
    assert value(after, "grpc_server_handled_total", **get, grpc_code="UNAUTHENTICATED") == 1
    assert value(after, "grpc_server_started_total", **get) >= 5
    assert value(after, "grpc_server_handling_seconds_count", **get) >= 5
    assert value(after, "grpc_server_handling_seconds_bucket", **get, le="+Inf") >= 5
    assert (
        value(
            after,
            "extrepo_grpc_server_in_flight_calls",
            grpc_service=get["grpc_service"],
            grpc_method="Get",
        )
        == 0
    )
    assert value(after, "extrepo_auth_failures_total", reason="invalid") >= 1
    host = basic_registry.host
    assert value(after, "extrepo_registry_checks_total", registry_host=host, state="VERIFIED") == 1
    assert value(after, "extrepo_registry_check_seconds_count", registry_host=host) == 1
    assert ("extrepo_build_info", frozenset({("version", "0.1.0")})) in after
    assert ("extrepo_db_pool_size", frozenset()) in after


def test_no_metrics_endpoint_unless_configured(tmp_path):
    with LiveServer(tmp_path) as server:
        assert "serving metrics" not in server.log_text()
