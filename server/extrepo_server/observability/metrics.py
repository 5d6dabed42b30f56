"""The server's Prometheus metrics, on a registry of their own (not the library's
process-wide default), served on EXTREPO_METRICS_ADDRESS by a thread of the
prometheus-client library: a scrape never runs on the event loop.

gRPC metrics use the names of go-grpc-prometheus and py-grpc-prometheus
(`grpc_server_started_total`, `grpc_server_handled_total`,
`grpc_server_handling_seconds`), so their dashboards and alerts work unchanged.
Label children are looked up once per method and code (`CallMetrics`): a call costs
a few dictionary lookups and four metric updates.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

REGISTRY = CollectorRegistry(auto_describe=True)

# Latency buckets for calls that take from ~0.1 ms (a cached Get) to seconds (a Create
# that checks its credentials against a registry).
_CALL_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)

STARTED = Counter(
    "grpc_server_started_total",
    "RPCs started on the server.",
    ["grpc_type", "grpc_service", "grpc_method"],
    registry=REGISTRY,
)
HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
    registry=REGISTRY,
)
HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status, in seconds.",
    ["grpc_type", "grpc_service", "grpc_method"],
    buckets=_CALL_BUCKETS,
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "extrepo_grpc_server_in_flight_calls",
    "RPCs being served now.",
    ["grpc_service", "grpc_method"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "extrepo_auth_failures_total",
    "Calls refused at authentication, by cause (missing, malformed, invalid, throttled).",
    ["reason"],
    registry=REGISTRY,
)
REGISTRY_CHECKS = Counter(
    "extrepo_registry_checks_total",
    "Credential checks against third-party registries, by registry host and outcome.",
    ["registry_host", "state"],
    registry=REGISTRY,
)
REGISTRY_CHECK_SECONDS = Histogram(
    "extrepo_registry_check_seconds",
    "How long credential checks took, by registry host.",
    ["registry_host"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
BUILD = Info("extrepo_build", "The running server's version.", registry=REGISTRY)

# Registry hosts are named by users: past this many distinct ones, the rest share the
# label "other", so that no user can grow the series without bound.
MAX_REGISTRY_HOSTS = 500
_hosts: set[str] = set()
_hosts_lock = threading.Lock()


def registry_host_label(host: str) -> str:
    if host in _hosts:
        return host
    with _hosts_lock:
        if len(_hosts) < MAX_REGISTRY_HOSTS:
            _hosts.add(host)
            return host
    return "other"


def record_check(host: str, state: str, seconds: float) -> None:
    label = registry_host_label(host)
    REGISTRY_CHECKS.labels(label, state).inc()
    REGISTRY_CHECK_SECONDS.labels(label).observe(seconds)


class CallMetrics:
    """The metric children of one method, bound once."""

    __slots__ = ("_handled", "_method", "_service", "_type", "in_flight", "seconds", "started")

    def __init__(self, full_method: str, grpc_type: str) -> None:
        service, _, method = full_method.lstrip("/").partition("/")
        self._service, self._method, self._type = service, method, grpc_type
        self.started = STARTED.labels(grpc_type, service, method)
        self.seconds = HANDLING_SECONDS.labels(grpc_type, service, method)
        self.in_flight = IN_FLIGHT.labels(service, method)
        self._handled: dict[str, Counter] = {}

    def handled(self, code: str) -> Counter:
        child = self._handled.get(code)
        if child is None:
            child = self._handled[code] = HANDLED.labels(
                self._type, self._service, self._method, code
            )
        return child


class PoolCollector:
    """The database pool's use at scrape time (`pool` is a SQLAlchemy pool): how many
    pooled connections are lent out and how many the pool keeps."""

    def __init__(self, pool_of) -> None:
        self._pool_of = pool_of  # a callable: the engine's pool is replaced after an outage

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        pool = self._pool_of()
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        if callable(checked_out):
            yield GaugeMetricFamily(
                "extrepo_db_pool_connections_in_use",
                "Pooled database connections lent out now (writes on threads).",
                value=checked_out(),
            )
        if callable(size):
            yield GaugeMetricFamily(
                "extrepo_db_pool_size", "Connections the database pool keeps.", value=size()
            )


def serve_metrics(address: str, version: str, pool_of) -> object:
    """Start the /metrics HTTP server on `address` (host:port) in its own thread; returns
    the server (`shutdown()` stops it)."""
    from prometheus_client import start_http_server

    BUILD.info({"version": version})
    REGISTRY.register(PoolCollector(pool_of))
    host, _, port = address.rpartition(":")
    server, _thread = start_http_server(int(port), addr=host, registry=REGISTRY)
    return server
