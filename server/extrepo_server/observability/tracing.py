"""OpenTelemetry tracing: off unless EXTREPO_TRACING_ENDPOINT names an OTLP/HTTP
collector; then every gRPC call is a server span continuing the caller's W3C trace
context (`traceparent` metadata: the gateway sends it), with a client span per
database statement and per HTTP request to a registry beneath it.

Off costs nothing per call: the SDK is not even imported, no interceptor is
installed, statements and the registry client keep their plain code (each asks
`enabled()` once, when it is built). So `start()` must run before the components
are built (app.serve does it first).

Spans are exported by the SDK's batch processor from a thread of its own, never on
the event loop; when the collector is slow or down, spans beyond its queue are
dropped, calls are not held up.

What spans never carry: the API key (`authorization` metadata is not read by the
gRPC instrumentation), registry credentials or tokens (HTTP headers are never
captured: see `_NEVER_CAPTURED`), bound values of statements (only the SQL text with
its placeholders). This module imports nothing of ours: every layer may use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any
from urllib.parse import urlsplit

_TRACES_PATH = "/v1/traces"
# The httpx instrumentation would copy the HTTP headers these name into span
# attributes; a registry exchange's headers carry its Basic credentials, bearer
# tokens and session cookies, so they are ignored whatever they say.
_NEVER_CAPTURED = (
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST",
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE",
)

_provider: Any = None  # the SDK's TracerProvider while tracing is on
_tracer: Any = None

log = logging.getLogger("extrepo.tracing")


def check_endpoint(value: str) -> str:
    """`value` if it is empty (off) or an http(s) URL with a host; ValueError else."""
    if not value:
        return value
    # The value is never quoted back: a mistyped one might hold a credential.
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValueError("not a URL (e.g. http://127.0.0.1:4318)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "not an http(s) URL of an OTLP/HTTP collector (e.g. http://127.0.0.1:4318)"
        )
    if parts.username or parts.password:
        raise ValueError(
            "give no credentials in the URL (they would be logged); "
            "OTEL_EXPORTER_OTLP_HEADERS carries a collector's"
        )
    return value


def traces_url(endpoint: str) -> str:
    """Where spans go: `endpoint` as OTEL_EXPORTER_OTLP_ENDPOINT reads it, a base URL
    under which traces are sent to /v1/traces (a URL already ending so is kept)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(_TRACES_PATH) else base + _TRACES_PATH


def start(endpoint: str, *, service_name: str, version: str) -> None:
    """Turn tracing on for this process, exporting to `endpoint` (see traces_url).

    The standard OTEL_* variables the SDK reads still apply: OTEL_SERVICE_NAME and
    OTEL_RESOURCE_ATTRIBUTES (else the service is `service_name`), OTEL_TRACES_SAMPLER
    and OTEL_TRACES_SAMPLER_ARG (default: parentbased_always_on, so the gateway's
    decision is followed), OTEL_PROPAGATORS (default W3C tracecontext and baggage),
    OTEL_BSP_* (the batch processor's delay and queue)."""
    global _provider, _tracer
    # Imported here: a server with tracing off never loads the SDK.
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    for name in _NEVER_CAPTURED:
        os.environ.pop(name, None)
    # HTTP spans with the stable attribute names (url.full, http.response.status_code,
    # server.address), as the gateway's; the instrumentation's default is still the
    # old ones. An operator's own choice (e.g. "http/dup") stands.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    resource = Resource.create({SERVICE_VERSION: version})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(traces_url(endpoint))))
    # The global provider: the instrumentations and the propagator API find it there.
    trace.set_tracer_provider(provider)
    _provider = provider
    _tracer = provider.get_tracer("extrepo_server", version)
    log.info("tracing", extra={"endpoint": traces_url(endpoint)})


def enabled() -> bool:
    return _tracer is not None


def shutdown() -> None:
    """Export what is still queued and stop (at the server's stop)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


def server_interceptors(*, excluded_services: Collection[str] = ()) -> list[Any]:
    """The gRPC server interceptors tracing needs: none when it is off. First in the
    server's list, so that its span is current while the others and the handler
    run. Calls to `excluded_services` (health probes) make no span."""
    if _provider is None:
        return []
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    excluded = frozenset(excluded_services)

    def traced(details: Any) -> bool:
        method = details.method or ""
        service = method.split("/")[1] if method.count("/") == 2 else ""
        return service not in excluded

    return [aio_server_interceptor(tracer_provider=_provider, filter_=traced)]


def http_transport(transport: Any) -> Any:
    """`transport` (an httpx.AsyncBaseTransport), wrapped so that each request is a
    client span and carries `traceparent`, when tracing is on; else itself."""
    if _provider is None:
        return transport
    from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport

    return AsyncOpenTelemetryTransport(transport, tracer_provider=_provider)


def database_span(
    *,
    system: str,
    operation: str,
    collection: str | None,
    query_text: str,
    server_address: str | None = None,
    server_port: int | None = None,
) -> Callable[[], AbstractContextManager[Any]] | None:
    """A factory of spans for one prepared statement, named and attributed as the
    OpenTelemetry database conventions say (`db.system.name`, `db.operation.name`,
    `db.collection.name`, `db.query.text`; `db.system` too, its older name); None
    when tracing is off. `query_text` must be the parameterized SQL: bound values
    never go into a span."""
    tracer = _tracer
    if tracer is None:
        return None
    from opentelemetry.trace import SpanKind

    attributes: dict[str, Any] = {
        "db.system": system,
        "db.system.name": system,
        "db.operation.name": operation,
        "db.query.text": query_text,
    }
    if collection:
        attributes["db.collection.name"] = collection
    if server_address:
        attributes["server.address"] = server_address
        if server_port:
            attributes["server.port"] = server_port
    name = f"{operation} {collection}" if collection else operation
    from opentelemetry.trace import get_current_span

    def span() -> AbstractContextManager[Any]:
        # Only within a traced call or check: the background re-checks' polls of
        # their queue, every few seconds, would each be a trace of one statement.
        if not get_current_span().is_recording():
            return _NO_SPAN
        return tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    return span


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        pass


_NO_SPAN = nullcontext(_NoSpan())  # reusable: it holds no state


def span(name: str, attributes: Mapping[str, Any] | None = None) -> AbstractContextManager[Any]:
    """An internal span (current within the block) of this process's own work, a
    child of the current one or a new trace's root; with tracing off, a block that
    does nothing (its `set_attribute` included). For work that takes milliseconds
    or more, such as a registry check: not for the per-call path."""
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(name, attributes=attributes)


def add_trace_id_to(logger: logging.Logger) -> None:
    """Give `logger`'s lines the current trace's id (`trace_id`), when there is one
    and tracing is on; nothing is added to a logger while it is off."""
    if _provider is None:
        return
    from opentelemetry import trace

    get_span = trace.get_current_span

    class _TraceId(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            context = get_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
            return True

    logger.addFilter(_TraceId())
