"""OpenTelemetry tracing: one trace from a REST client's `traceparent` through the
real gateway and the real server to the database and to a registry, as a real
OTLP/HTTP receiver gets it (harness/otlp_receiver.py); nothing at all with tracing
off; never a secret in what is exported."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator

import httpx
import pydantic
import pytest
import sqlalchemy as sa
from extrepo.v1 import pull_access_service_pb2 as pull_pb
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc
from extrepo_server.config import Settings
from extrepo_server.observability import tracing
from extrepo_server.observability.tracing import traces_url
from extrepo_server.storage.statements import PreparedStatement

from harness.gateway import start_gateway
from harness.live_server import LiveServer
from harness.mesh_certs import MeshCA
from harness.otlp_receiver import OtlpReceiver, Span
from harness.registries import free_port
from tests.mesh.test_pull_access import PULL_POLICY, PULLER_ID, Pulling
from tests.mesh.test_usages import Mesh
from tests.support.api import basic_authorization
from tests.support.registries import PULLER

# Spans leave in batches every 100 ms instead of every 5 s (the SDKs' default).
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}


def traceparent() -> tuple[str, str, str]:
    """A W3C traceparent header (sampled) with a new trace id, and its two ids."""
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{parent_id}-01", trace_id, parent_id


def one(spans: list[Span], **match) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert len(found) == 1, f"{match}: {found}"
    return found[0]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced(receiver, checking_env, tmp_path_factory) -> Iterator[tuple[LiveServer, str]]:
    """A server and a gateway both exporting to `receiver`, credential checks on.
    The server is asked to capture every HTTP header of registry requests into
    spans (the httpx instrumentation's own setting): it must not."""
    env = {
        **checking_env,
        **FAST_EXPORT,
        "EXTREPO_TRACING_ENDPOINT": receiver.url,
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST": ".*",
        "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE": ".*",
    }
    with LiveServer(tmp_path_factory.mktemp("traced"), env=env) as server:
        url, stop = start_gateway(
            server.address, args=["-otlp-endpoint", receiver.url], env=FAST_EXPORT
        )
        try:
            yield server, url
        finally:
            stop()


@pytest.fixture(scope="module")
def user(traced) -> tuple[str, str]:
    server, _ = traced
    return "tracy", server.create_user("tracy")


def assert_no_secret(receiver: OtlpReceiver, *secret_values: str) -> None:
    exported = b"".join(receiver.raw)
    assert exported, "nothing was exported"
    for value in secret_values:
        assert value.encode() not in exported, f"{value[:12]}... was exported"


def test_a_rest_call_is_one_trace_from_the_gateway_to_the_database(receiver, traced, user):
    server, url = traced
    header, trace_id, parent_id = traceparent()
    authorization = basic_authorization(*user)
    answer = httpx.get(
        f"{url}/api/repo/v1/repository/",
        headers={"authorization": authorization, "traceparent": header},
    )
    assert answer.status_code == 200, answer.text

    def complete(spans: list[Span]) -> bool:
        mine = [s for s in spans if s.trace_id == trace_id]
        return {s.service for s in mine} == {"extrepo-gateway", "extrepo-server"} and any(
            "db.system" in s.attributes for s in mine
        )

    spans = [s for s in receiver.wait_for(complete) if s.trace_id == trace_id]
    # The gateway's span continues the client's; its gRPC call is a client span in it.
    rest = one(spans, service="extrepo-gateway", kind="SERVER")
    assert rest.parent_span_id == parent_id and rest.name == "GET"
    assert rest.attributes["http.response.status_code"] == 200
    call = one(spans, service="extrepo-gateway", kind="CLIENT")
    assert call.parent_span_id == rest.span_id
    assert call.attributes["rpc.method"].endswith("RepositoryService/List")
    # The server's span continues the gateway's client span (traceparent metadata).
    served = one(spans, service="extrepo-server", kind="SERVER")
    assert served.parent_span_id == call.span_id
    assert served.name == "/extrepo.v1.RepositoryService/List"
    assert served.attributes["rpc.grpc.status_code"] == 0
    # The statements run inside it, as the database conventions name them.
    statements = [s for s in spans if "db.system" in s.attributes]
    assert all(s.parent_span_id == served.span_id for s in statements)
    select = next(s for s in statements if s.attributes["db.collection.name"] == "repository")
    assert select.kind == "CLIENT" and select.name == "SELECT repository"
    assert select.attributes["db.system"] == select.attributes["db.system.name"] == "sqlite"
    assert select.attributes["db.operation.name"] == "SELECT"
    assert select.attributes["db.query.text"].startswith("SELECT ")

    # Statements outside a traced call (the background re-checks poll their queue
    # from the start) make no span: every one has a parent.
    assert all(s.parent_span_id for s in receiver.spans() if "db.system" in s.attributes)

    # The call's log lines carry the trace id, on both sides.
    line = server.wait_for_log(lambda e: e.get("msg") == "call" and e.get("trace_id") == trace_id)
    assert line and line[0]["method"].endswith("/List")
    # Never the API key, nor the Authorization header that carries it.
    assert_no_secret(receiver, user[1], authorization, authorization.split()[1])


def test_a_credential_check_is_in_the_trace_of_its_call(
    receiver, traced, user, basic_registry, web_server
):
    _, url = traced
    header, trace_id, _ = traceparent()
    authorization = basic_authorization(*user)
    answer = httpx.post(
        f"{url}/api/repo/v1/repository/",
        headers={"authorization": authorization, "traceparent": header},
        json={
            "name": f"{basic_registry.host}/team/app",
            "username": PULLER[0],
            "password": PULLER[1],
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["verification"]["state"] == "VERIFIED"

    def served_span(spans: list[Span]) -> bool:
        # It ends after its children: once it is exported, so are they.
        return any(
            s.trace_id == trace_id and s.kind == "SERVER" and s.service == "extrepo-server"
            for s in spans
        )

    spans = [s for s in receiver.wait_for(served_span) if s.trace_id == trace_id]
    served = one(spans, service="extrepo-server", kind="SERVER")
    assert served.name == "/extrepo.v1.RepositoryService/Create"
    # The check is a span of the call; GET /v2/ (the challenge), GET /v2/ with the
    # credentials, tags/list are client spans in it, naming the registry, with
    # their answers' status.
    check = one(spans, service="extrepo-server", name="registry check")
    assert check.parent_span_id == served.span_id
    assert check.attributes == {
        "extrepo.registry.host": basic_registry.host,
        "extrepo.repository.path": "team/app",
        "extrepo.verification.state": "VERIFIED",
    }
    outbound = [
        s
        for s in spans
        if s.service == "extrepo-server" and s.kind == "CLIENT" and "db.system" not in s.attributes
    ]
    assert len(outbound) >= 3, outbound
    for span in outbound:
        assert span.parent_span_id == check.span_id
        assert span.name == "GET"
        assert span.attributes["server.address"] == "127.0.0.1"
        assert basic_registry.host in span.attributes["url.full"]
    assert [s.attributes["http.response.status_code"] for s in outbound].count(200) >= 2
    assert any(s.attributes.get("db.operation.name") == "INSERT" for s in spans)
    # Neither the registry password nor the Basic header made of it, though the
    # server was asked to capture every header.
    registry_basic = base64.b64encode(f"{PULLER[0]}:{PULLER[1]}".encode()).decode()
    assert_no_secret(receiver, PULLER[1], registry_basic, user[1], authorization.split()[1])

    # What a registry receives: the trace context of the call, in `traceparent`.
    header, trace_id, _ = traceparent()
    answer = httpx.post(
        f"{url}/api/repo/v1/repository/",
        headers={"authorization": authorization, "traceparent": header},
        json={"name": f"{web_server.host}/team/app", "username": "u", "password": "p"},
        timeout=10,
    )
    assert answer.json()["verification"]["state"] == "NOT_A_REGISTRY"
    sent = [
        {k.lower(): v for k, v in headers.items()}.get("traceparent", "")
        for _, _, headers in web_server.requests
    ]
    assert any(value.split("-")[1:2] == [trace_id] for value in sent), sent


def test_statements_on_postgresql_name_their_server(receiver, postgres, tmp_path):
    """Over gRPC straight to the server (traceparent metadata, as the gateway sends
    it), on PostgreSQL: the server span continues it, the statements name the
    database server."""
    env = {**FAST_EXPORT, "EXTREPO_TRACING_ENDPOINT": receiver.url}
    url = postgres.create_database("traced")
    with LiveServer(tmp_path, database_url=url, env=env) as server:
        key = server.create_user("pg")
        header, trace_id, parent_id = traceparent()
        with server.channel() as channel:
            pb_grpc.RepositoryServiceStub(channel).List(
                pb.ListRequest(),
                metadata=(
                    ("authorization", basic_authorization("pg", key)),
                    ("traceparent", header),
                ),
            )
        spans = receiver.wait_for(
            lambda spans: any(s.trace_id == trace_id and s.kind == "SERVER" for s in spans)
        )
    spans = [s for s in spans if s.trace_id == trace_id]
    served = one(spans, kind="SERVER")
    assert served.parent_span_id == parent_id
    statements = [s for s in spans if s.parent_span_id == served.span_id]
    assert statements, spans
    for statement in statements:
        assert statement.attributes["db.system.name"] == "postgresql"
        assert statement.attributes["server.address"] == "127.0.0.1"
        assert statement.attributes["server.port"] == postgres.port
    assert_no_secret(receiver, key)


def test_a_pull_token_hand_out_is_traced_without_the_token(
    receiver, tmp_path, checking_env, token_registry
):
    """On the internal listener too: GetPullAccess continues the mesh caller's trace,
    its token request is a span of it, and neither the stored password nor the
    token handed out is in what is exported."""
    mesh, port = Mesh(MeshCA(), tmp_path), free_port()
    env = {
        **mesh.env(port),
        **FAST_EXPORT,
        "EXTREPO_TRACING_ENDPOINT": receiver.url,
        "EXTREPO_REGISTRY_ALLOW": checking_env["EXTREPO_REGISTRY_ALLOW"],
        "EXTREPO_REGISTRY_CA_FILE": checking_env["EXTREPO_REGISTRY_CA_FILE"],
    }
    (tmp_path / "policy.toml").write_text(PULL_POLICY)
    with LiveServer(tmp_path / "server", env=env) as server:
        pulling = Pulling(server, port, mesh.ca)
        name = f"{token_registry.host}/team/app"
        pulling.api.create(name, *PULLER)
        header, trace_id, parent_id = traceparent()
        answer = pulling.stub(PULLER_ID).GetPullAccess(
            pull_pb.GetPullAccessRequest(namespace=pulling.user, repository=name),
            metadata=(("traceparent", header),),
            timeout=10,
        )
        token = answer.auth.registrytoken
        assert token
        spans = receiver.wait_for(
            lambda spans: any(s.trace_id == trace_id and s.kind == "SERVER" for s in spans)
        )
    spans = [s for s in spans if s.trace_id == trace_id]
    served = one(spans, kind="SERVER")
    assert served.name == "/extrepo.v1.PullAccessService/GetPullAccess"
    assert served.parent_span_id == parent_id
    outbound = [s for s in spans if "url.full" in s.attributes]
    assert {s.parent_span_id for s in outbound} == {served.span_id}
    assert any("scope=repository" in s.attributes["url.full"] for s in outbound), outbound
    registry_basic = base64.b64encode(f"{PULLER[0]}:{PULLER[1]}".encode()).decode()
    assert_no_secret(receiver, token, PULLER[1], registry_basic)


def test_with_tracing_off_nothing_is_exported(tmp_path):
    """No EXTREPO_TRACING_ENDPOINT and no -otlp-endpoint: not a byte, although the
    client sends traceparent and the standard OTLP variable names a collector."""
    with OtlpReceiver() as receiver:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **FAST_EXPORT}
        with LiveServer(tmp_path, env=env) as server:
            url, stop = start_gateway(server.address, env=env)
            try:
                key = server.create_user("quiet")
                header, _, _ = traceparent()
                answer = httpx.get(
                    f"{url}/api/repo/v1/repository/",
                    headers={
                        "authorization": basic_authorization("quiet", key),
                        "traceparent": header,
                    },
                )
                assert answer.status_code == 200
                lines = server.wait_for_log(lambda e: e.get("caller") == "quiet")
                assert lines and "trace_id" not in lines[0]
            finally:
                assert stop() == 0
            time.sleep(0.3)  # several export intervals
        # Both stopped (a stop flushes what is queued): still nothing.
        assert receiver.raw == []
        assert "tracing" not in {e.get("msg") for e in server.log_entries()}


@pytest.mark.parametrize(
    ("endpoint", "traces"),
    [
        ("", None),
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("https://collector.example.com/", "https://collector.example.com/v1/traces"),
        ("http://collector:4318/otlp", "http://collector:4318/otlp/v1/traces"),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
    ],
)
def test_the_endpoint_is_a_collectors_base_url(endpoint, traces):
    settings = Settings(tracing_endpoint=endpoint)
    assert settings.tracing_endpoint == endpoint
    if traces is not None:
        assert traces_url(endpoint) == traces


@pytest.mark.parametrize(
    "endpoint", ["collector:4318", "grpc://collector:4317", "http://", "http://u:p@collector:4318"]
)
def test_a_bad_endpoint_stops_the_start(endpoint):
    with pytest.raises(pydantic.ValidationError, match="tracing_endpoint"):
        Settings(tracing_endpoint=endpoint)


def test_off_leaves_the_call_path_as_it_is():
    """Tracing not started (this test process never starts it): no interceptor,
    statements keep their plain methods, the registry transport is unwrapped."""
    assert not tracing.enabled()
    assert tracing.server_interceptors(excluded_services={"grpc.health.v1.Health"}) == []
    engine = sa.create_engine("sqlite://")
    statement = PreparedStatement(engine, sa.select(sa.literal(1)))
    assert not {"all_on", "first_on", "execute_on"} & vars(statement).keys()
    transport = object()
    assert tracing.http_transport(transport) is transport
    with tracing.span("nothing") as span:
        span.set_attribute("still", "nothing")
