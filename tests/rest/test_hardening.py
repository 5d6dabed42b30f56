"""The REST gateway's hardening (issue 10), over real HTTP to the real gateway binary in
front of the real server: no caller's mistake answered 5xx or with the inside's details,
header limits that line up with the gRPC metadata limits, writes that take JSON only,
CORS off unless configured, an access log without query values, error bodies that fit the
served OpenAPI description, and messages that quote a short prefix of any input.

Retry-After from a google.rpc.RetryInfo, and what the server's metadata must not show,
are tested in Go against a gRPC backend that answers such statuses
(clients/go/gateway/errors_test.go): this server does not send them yet.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from schemathesis.core.failures import Failure, FailureGroup

from harness.gateway import start_gateway
from tests.support.api import basic_authorization

COLLECTION = "/api/repo/v1/repository/"
NAME = "registry.local/team/app"
ITEM = f"{COLLECTION}{NAME}/"
REPO = {"name": NAME, "username": "puller", "password": "s3cret"}
ERROR_KEYS = {"error", "code", "message", "details"}
# What the inside must never show: the backend's address, the gRPC libraries' texts.
INSIDE = re.compile(r"127\.0\.0\.1|dial tcp|connection refused|grpc|metadata|:path|i/o timeout")
# The most of one input a gateway message quotes (clients/go/gateway/quote.go).
MAX_QUOTED = 64


def assert_error(r: httpx.Response, status: int, grpc_code: int | None = None) -> dict:
    """An error answer: the status, the JSON error body, nothing of the inside."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == ERROR_KEYS, body
    assert isinstance(body["error"], str) and body["error"]
    if grpc_code is not None:
        assert body["code"] == grpc_code, body
    assert not INSIDE.search(r.text), r.text
    return body


@pytest.fixture(scope="module")
def extra_gateway(server) -> Iterator[Callable[..., tuple[str, Path]]]:
    """`extra_gateway(*args, env=..., grpc_address=...)`: another real gateway, with
    these flags or environment, in front of the session's server (or of
    `grpc_address`); returns (base_url, log_path). All stop at the module's end."""
    stops: list[Callable[[], int]] = []

    def start(
        *args: str, env: dict[str, str] | None = None, grpc_address: str | None = None
    ) -> tuple[str, Path]:
        url, stop = start_gateway(
            grpc_address or server.address, args=args, env=env, wait=grpc_address is None
        )
        stops.append(stop)
        return url, stop.log_path  # type: ignore[attr-defined]

    yield start
    for stop in stops:
        stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- 1. invalid UTF-8 in a path or query: 400, with or without credentials ----------

INVALID_UTF8 = [
    ("GET", "/api/repo/v1/repository/%FF/"),
    ("GET", "/api/repo/v1/repository/registry.local/team/%C3/"),
    ("GET", "/api/repo/v1/%C0%AF/repository/"),
    ("GET", "/api/repo/v1/repository/?name=%C3"),
    ("GET", "/api/repo/v1/repository/?registry=%FF"),
    ("GET", "/api/repo/v1/repository/?%C0%AF=1"),
    ("DELETE", "/api/repo/v1/repository/registry.local/%FF/x/"),
    ("PATCH", "/api/repo/v1/%FF/repository/registry.local/x/y/"),
    ("POST", "/api/repo/v1/%C3/repository/"),
    ("GET", "/nowhere/%FF/"),
]


@pytest.mark.parametrize(("method", "path"), INVALID_UTF8)
@pytest.mark.parametrize("credentials", [True, False], ids=["authenticated", "anonymous"])
def test_invalid_utf8_is_400(http_as, user, method, path, credentials):
    client = http_as(user if credentials else None)
    r = client.request(method, path, json={"username": "u", "password": "p"})
    body = assert_error(r, 400, grpc_code=3)
    assert "UTF-8" in body["error"]


# ---- 2. header limits that line up with the gRPC metadata limits ---------------------


@pytest.mark.parametrize("size", [7 * 1024, 8 * 1024, 12 * 1024])
def test_an_oversized_authorization_is_431(http_as, size):
    r = http_as(None).get(COLLECTION, headers={"Authorization": "Basic " + "a" * size})
    body = assert_error(r, 431)
    assert body["error"].startswith("request headers too large")


def test_the_largest_authorization_the_gateway_passes_reaches_the_server(http_as, gateway_url):
    """Authorization is forwarded once: at the gateway's limit (4096 bytes of forwarded
    metadata, as HTTP/2 counts it) the server still takes the call, every time (twice
    forwarded, grpc core would answer RESOURCE_EXHAUSTED with a metadata dump or the
    gRPC client 500)."""
    host = urlsplit(gateway_url).netloc
    forwarded_host = len("x-forwarded-host") + len(host) + 32
    forwarded_for = len("x-forwarded-for") + len("127.0.0.1") + 32
    value_size = 4096 - forwarded_host - forwarded_for - (len("authorization") + 32)
    at_limit = "Basic " + "a" * (value_size - len("Basic "))
    client = http_as(None)
    for _ in range(20):
        r = client.get(COLLECTION, headers={"Authorization": at_limit})
        assert_error(r, 401, grpc_code=16)  # the server's answer to a wrong key
    r = client.get(COLLECTION, headers={"Authorization": at_limit + "a"})
    assert_error(r, 431)


def test_a_url_beyond_the_header_limit_is_431_not_a_server_error(http_as):
    # A 60,000-character registry filter or cursor never reaches the server.
    r = http_as(None).get(COLLECTION, params={"registry": "r" * 60_000})
    assert r.status_code == 431
    assert "r" * 100 not in r.text


def test_oversized_headers_are_431_with_a_plain_message(http_as):
    r = http_as(None).get(COLLECTION, headers={"X-Padding": "p" * 32 * 1024})
    assert r.status_code == 431
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.strip() == "431 Request Header Fields Too Large"


# ---- 3. 503 says nothing of the inside; a slow body is 408 ---------------------------


def test_503_says_service_unavailable_and_logs_the_detail(extra_gateway, user):
    port = free_port()  # nothing listens there
    url, log_path = extra_gateway(grpc_address=f"127.0.0.1:{port}")
    auth = {"Authorization": basic_authorization(user.name, user.api_key)}
    for path in (COLLECTION, ITEM, "/healthz"):
        r = httpx.get(url + path, headers=auth)
        body = assert_error(r, 503, grpc_code=14)
        assert body["error"] == body["message"] == "service unavailable; try again later"
        assert str(port) not in r.text
    log = log_path.read_text()
    assert f"127.0.0.1:{port}" in log and "connection refused" in log


def test_a_slow_body_is_408(extra_gateway, user):
    url, _ = extra_gateway("-read-timeout", "1s")
    auth = basic_authorization(user.name, user.api_key)
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(
            f"POST {COLLECTION} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            '{"name": '.encode()
        )
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert 0.5 < time.monotonic() - started < 5
    head, _, body = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 408 Request Timeout"), answer
    assert "i/o timeout" not in body and "the request body did not arrive in time" in body


# ---- 4. writes take JSON only; CORS off unless configured ---------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
)
def test_writes_take_application_json_only(http, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = http.post(COLLECTION, content=json.dumps(REPO), headers=headers)
    assert_error(r, 415)
    assert "Content-Type: application/json" in r.json()["error"]
    assert http.get(ITEM).status_code == 404  # nothing was created
    assert http.post(COLLECTION, json=REPO).status_code == 201
    r = http.patch(ITEM, content=json.dumps({"password": "other"}), headers=headers)
    assert_error(r, 415)


def test_json_with_a_charset_is_a_write(http):
    r = http.post(
        COLLECTION,
        content=json.dumps(REPO),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 201, r.text


APP = "https://app.example"


def preflight(url: str, origin: str) -> httpx.Response:
    return httpx.options(
        url + COLLECTION,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_no_browser_access_unless_configured(gateway_url, user):
    assert "access-control-allow-origin" not in preflight(gateway_url, APP).headers
    auth = basic_authorization(user.name, user.api_key)
    r = httpx.get(gateway_url + COLLECTION, headers={"Origin": APP, "Authorization": auth})
    assert r.status_code == 200
    assert not [h for h in r.headers if h.startswith("access-control-")]


@pytest.mark.parametrize("configured_by", ["flag", "environment"])
def test_cors_allows_the_listed_origins_only(extra_gateway, user, configured_by):
    origins = f"{APP}, https://*.tools.example"
    if configured_by == "flag":
        url, _ = extra_gateway("-cors-origins", origins)
    else:
        url, _ = extra_gateway(env={"EXTREPO_GATEWAY_CORS_ORIGINS": origins})
    auth = basic_authorization(user.name, user.api_key)
    for origin in (APP, "https://ci.tools.example"):
        r = preflight(url, origin)
        assert r.status_code == 204
        assert r.headers["access-control-allow-origin"] == origin
        assert r.headers["access-control-allow-methods"] == "POST"
        assert r.headers["access-control-allow-headers"] == "authorization,content-type"
        assert "access-control-allow-credentials" not in r.headers
        r = httpx.get(url + COLLECTION, headers={"Origin": origin, "Authorization": auth})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == origin
        assert r.headers["access-control-expose-headers"] == (
            "Location, Retry-After, X-Request-Id, X-Dockercloud-Action-Uri"
        )
    for origin in ("https://evil.example", "http://app.example", "https://app.example.evil"):
        assert "access-control-allow-origin" not in preflight(url, origin).headers
        r = httpx.get(url + COLLECTION, headers={"Origin": origin, "Authorization": auth})
        assert r.status_code == 200
        assert "access-control-allow-origin" not in r.headers


# ---- 5. the access log keeps the query's names, not its values ----------------------


def test_the_access_log_keeps_query_names_not_values(extra_gateway, user):
    url, log_path = extra_gateway()
    auth = {"Authorization": basic_authorization(user.name, user.api_key)}
    httpx.get(
        url + COLLECTION,
        params={"name": "registry.local/x/y", "password": "s3cret-in-url", "limit": 5},
        headers=auth,
    )
    httpx.get(f"{url}{COLLECTION}?{user.api_key}", headers=auth)  # a key pasted as a name
    deadline = time.monotonic() + 5
    while log_path.read_text().count("msg=request") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = log_path.read_text()
    assert f"path={COLLECTION} query=limit,name,password status=200" in log
    assert f"path={COLLECTION} query=? status=200" in log
    for secret in ("s3cret-in-url", "registry.local/x/y", user.api_key, auth["Authorization"]):
        assert secret not in log


# ---- 6. error bodies fit the served description ------------------------------------


@pytest.fixture(scope="module")
def served_schema(gateway_url):
    return schemathesis.openapi.from_url(f"{gateway_url}/api/repo/v1/openapi.json")


def validate(schema, path: str, method: str, r: httpx.Response) -> None:
    """Validate the answer against what the description declares for that operation
    and status code (a declared code, else `default`)."""
    operation = schema[path][method]
    declared = operation.responses.find_by_status_code(r.status_code)
    assert declared is not None, f"{method} {path}: {r.status_code} is not declared"
    assert declared.definition["schema"] == {"$ref": "#/definitions/v1Error"}
    operation.validate_response(r)


def test_the_described_error_body_is_what_the_gateway_sends(
    served_schema, http, http_as, new_user, extra_gateway
):
    collection, item = "/api/repo/v1/repository", "/api/repo/v1/repository/{name}"
    anonymous = http_as(None)
    owner = new_user("owner")
    http_as(owner).post(COLLECTION, json=REPO)
    assert http.post(COLLECTION, json=REPO).status_code == 201
    dead_url, _ = extra_gateway(grpc_address=f"127.0.0.1:{free_port()}")
    answers = [
        # (operation path, method, answer, expected status)
        (collection, "POST", http.post(COLLECTION, json={"name": "no-host"}), 400),
        (collection, "GET", http.get(COLLECTION, params={"limit": "many"}), 400),
        (collection, "GET", anonymous.get("/api/repo/v1/repository/?name=%FF"), 400),
        (collection, "GET", anonymous.get(COLLECTION), 401),
        (collection, "GET", http.get(f"/api/repo/v1/{owner.name}/repository/"), 403),
        (item, "GET", http.get(f"{COLLECTION}registry.local/team/none/"), 404),
        (item, "GET", http.put(ITEM, json={}), 405),  # no PUT operation: its path's default
        (collection, "POST", http.post(COLLECTION, json=REPO), 409),
        (collection, "POST", http.post(COLLECTION, content=b"{}"), 415),
        (
            collection,
            "POST",
            http.post(
                COLLECTION,
                content=b'{"name": "' + b"a" * (2 << 20) + b'"}',
                headers={"Content-Type": "application/json"},
            ),
            413,
        ),
        (collection, "GET", anonymous.get(COLLECTION, headers={"Authorization": "a" * 8192}), 431),
        (collection, "GET", httpx.get(dead_url + COLLECTION), 503),
    ]
    for path, method, r, status in answers:
        assert r.status_code == status, (status, r.text)
        validate(served_schema, path, method, r)


@pytest.mark.parametrize(
    "body",
    [
        {"error": "x", "code": "5", "message": "x", "details": []},  # code not an integer
        {"error": "x", "code": 5, "details": []},  # no message
        {"code": 5, "message": "x", "details": []},  # no error
        {"error": "x", "code": 5, "message": "x", "details": {}},  # details not a list
    ],
)
def test_the_schema_check_can_fail(served_schema, gateway_url, body):
    """The validation above is no formality: a body unlike the gateway's fails it."""
    content = json.dumps(body).encode()
    fake = httpx.MockTransport(
        lambda request: httpx.Response(
            404, headers={"Content-Type": "application/json"}, stream=httpx.ByteStream(content)
        )
    )
    with httpx.Client(transport=fake) as client:
        wrong = client.get(gateway_url + COLLECTION)
    with pytest.raises((Failure, FailureGroup)):
        served_schema["/api/repo/v1/repository"]["GET"].validate_response(wrong)


# ---- 7. the gateway's messages quote a short prefix of the input --------------------


def test_messages_quote_a_short_prefix(http):
    long = "x" * 10_000
    answers = {
        404: http.get(f"/{long}/"),
        405: http.put(f"{COLLECTION}registry.local/{long}/", json={}),
        400: http.get(COLLECTION, params={"limit": "9" * 10_000}),
    }
    answers[415] = http.post(COLLECTION, content=b"{}", headers={"Content-Type": "text/" + long})
    body_token = http.post(
        COLLECTION,
        content=('{"name": ' + "9" * 10_000 + "}").encode(),
        headers={"Content-Type": "application/json"},
    )
    for status, r in [*answers.items(), (400, body_token)]:
        body = assert_error(r, status)
        for text in (body["error"], body["message"]):
            assert len(text) < 500, text
            assert "x" * (MAX_QUOTED + 1) not in text and "9" * (MAX_QUOTED + 1) not in text
