"""The Grafana dashboard and the Prometheus alert rules in deploy/ use only metrics
that the server and the gateway really export: every metric name in their queries
is looked up in a scrape of a live server and a live gateway."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harness.gateway import start_gateway
from harness.live_server import LiveServer
from harness.registries import free_port
from tests.support.api import grpc_api

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Our metric names: the gRPC ones of the grpc-prometheus family, and ours.
METRIC = re.compile(r"\b(grpc_server_[a-z_]+|extrepo_[a-z_]+)\b")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def queries() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana/extrepo-dashboard.json").read_text())
    found = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    found += [r["expr"] for g in rules["groups"] for r in g["rules"]]
    return found


def exported(address: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(httpx.get(f"http://{address}/metrics").text):
        names.add(family.name)
        if family.type == "counter":  # the parser names a counter family without _total
            names.add(family.name + "_total")
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_the_dashboard_and_alerts_use_exists(tmp_path):
    server_metrics, gateway_metrics = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    with LiveServer(tmp_path, env={"EXTREPO_METRICS_ADDRESS": server_metrics}) as server:
        api = grpc_api(server, "dash", server.create_user("dash"))
        api.create("reg.example.com/app", "u", "p")  # so that call series exist
        base_url, stop = start_gateway(server.address, args=["-metrics-listen", gateway_metrics])
        try:
            httpx.get(f"{base_url}/healthz")
            names = exported(server_metrics) | exported(gateway_metrics)
        finally:
            stop()
    # Series that appear only once something happened, declared (with HELP/TYPE) anyway.
    used = {m for q in queries() for m in METRIC.findall(q)}
    assert used, "no metric found in the dashboard or the rules"
    missing = sorted(
        m
        for m in used
        if m not in names
        and not any(m.endswith(s) and m.removesuffix(s) in names for s in HISTOGRAM_SUFFIXES)
    )
    assert missing == []
    assert len(queries()) >= 15
