"""Credential checks against registries and token services that misbehave: scripted
HTTPS servers on loopback (harness.registries.HttpsServer, certificates from the test
CA). Each answer a check can get that is not the reference registry's: a check ends
in a state with a reason, never in an exception, and credentials go nowhere else."""

from __future__ import annotations

import asyncio
import base64
import http.server
from collections.abc import Callable, Iterator

import pytest
from extrepo_server.domain.ports import AuthScheme, PullCredentials, VerificationState
from extrepo_server.registry.addresses import AddressPolicy
from extrepo_server.registry.client import MAX_ANSWER_BYTES, RegistryClient

from harness.registries import HttpsServer, TestCA, answer
from tests.support.registries import PULLER

S = VerificationState
V2 = {"docker-distribution-api-version": "registry/2.0"}
GOOD = "Basic " + base64.b64encode(f"{PULLER[0]}:{PULLER[1]}".encode()).decode()
TAGS = b'{"name":"team/app","tags":["1.0"]}'

Handler = http.server.BaseHTTPRequestHandler


@pytest.fixture
def serve(test_ca: TestCA) -> Iterator[Callable[[Callable[[Handler], None]], HttpsServer]]:
    """Starts HTTPS servers running a handler per request; all closed after the test."""
    servers: list[HttpsServer] = []

    def start(handle: Callable[[Handler], None]) -> HttpsServer:
        servers.append(HttpsServer(test_ca.server_context(f"scripted-{len(servers)}"), handle))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def checks(ca: TestCA, *calls: tuple[str, str, tuple[str, str]], plain_http=frozenset()):
    """Runs checks one after another through ONE client (its pool, its state)."""

    async def run():
        client = RegistryClient(
            timeout_seconds=3,
            policy=AddressPolicy("127.0.0.0/8"),
            ca_file=str(ca.pem),
            plain_http_hosts=plain_http,
        )
        try:
            return [await client.check(h, p, PullCredentials(*c)) for h, p, c in calls]
        finally:
            await client.aclose()

    return asyncio.run(run())


def header(request: tuple[str, str, dict[str, str]], name: str) -> str | None:
    """A header of a recorded request, by its lower-case name."""
    return {k.lower(): v for k, v in request[2].items()}.get(name)


def basic_registry(tags: Callable[[Handler], None]) -> Callable[[Handler], None]:
    """A Basic-auth registry knowing PULLER, `tags` answering tags/list when authorized."""

    def handle(h: Handler) -> None:
        if h.headers.get("authorization") != GOOD:
            answer(h, 401, b"{}", {**V2, "www-authenticate": 'Basic realm="r"'})
        elif h.path == "/v2/":
            answer(h, 200, b"{}", V2)
        else:
            tags(h)

    return handle


def bearer_registry(realm: str) -> Callable[[Handler], None]:
    """A registry whose token service is `realm`; any bearer token may list tags."""

    def handle(h: Handler) -> None:
        if h.headers.get("authorization", "").startswith("Bearer "):
            answer(h, 200, TAGS, V2)
        else:
            answer(h, 401, b"{}", {**V2, "www-authenticate": f'Bearer realm="{realm}",service="s"'})

    return handle


def test_cookies_are_never_kept_between_checks(serve, test_ca):
    """A registry that opens a session (as Nexus does after Basic auth) must not let a
    later check, perhaps another user's with a wrong password, ride on it."""
    sessions = "session=puller-is-logged-in"

    def handle(h: Handler) -> None:
        if h.headers.get("cookie") == sessions or h.headers.get("authorization") == GOOD:
            status, body = (200, b"{}") if h.path == "/v2/" else (200, TAGS)
            answer(h, status, body, {**V2, "set-cookie": f"{sessions}; Path=/"})
        else:
            answer(h, 401, b"{}", {**V2, "www-authenticate": 'Basic realm="r"'})

    registry = serve(handle)
    right, wrong = checks(
        test_ca,
        (registry.host, "team/app", PULLER),
        (registry.host, "team/app", (PULLER[0], "wrong")),
    )
    assert right.verification.state is S.VERIFIED
    assert wrong.verification.state is S.CREDENTIALS_REJECTED
    assert all(header(request, "cookie") is None for request in registry.requests)


def test_a_registry_failing_is_a_registry_error(serve, test_ca):
    registry = serve(lambda h: answer(h, 503, b"down for maintenance", V2))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_ERROR
    assert "HTTP 503" in result.verification.reason and registry.host in result.verification.reason


def test_tags_list_failing_is_a_registry_error(serve, test_ca):
    registry = serve(basic_registry(lambda h: answer(h, 500, b"{}", V2)))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_ERROR
    assert "tags/list" in result.verification.reason
    assert result.auth_scheme is AuthScheme.BASIC


def test_an_oversize_answer_is_a_registry_error(serve, test_ca):
    registry = serve(basic_registry(lambda h: answer(h, 200, b"[" * (MAX_ANSWER_BYTES + 1), V2)))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_ERROR
    assert "larger than 64 KiB" in result.verification.reason


def test_same_origin_redirects_are_followed_with_the_credentials(serve, test_ca):
    def tags(h: Handler) -> None:
        if h.path.startswith("/v2/team/app/tags/list"):
            answer(h, 307, b"", {"location": f"https://x:y@{h.headers['host']}/moved/tags"})
        else:
            answer(h, 200, TAGS, V2)

    registry = serve(basic_registry(tags))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.VERIFIED, result.verification.reason
    assert registry.requests[-1][1] == "/moved/tags"
    assert header(registry.requests[-1], "authorization") == GOOD


def test_endless_redirects_stop(serve, test_ca):
    registry = serve(basic_registry(lambda h: answer(h, 302, b"", {"location": h.path})))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_ERROR
    assert "redirected more than" in result.verification.reason


def test_a_token_realm_over_plain_http_is_never_sent_credentials(serve, test_ca):
    registry = serve(bearer_registry("http://127.0.0.1:9/token"))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_ERROR
    assert "plain HTTP" in result.verification.reason
    assert "EXTREPO_REGISTRY_PLAIN_HTTP_HOSTS" in result.verification.reason


@pytest.mark.parametrize(
    "realm",
    [
        "https://[::1/token",  # not a URL
        "https://127.0.0.1:99999/token",  # no such port
        "ftp://127.0.0.1/token",
        "/token",
        "https://exa mple/token",
    ],
)
def test_an_unusable_token_realm_is_a_registry_error(serve, test_ca, realm):
    registry = serve(bearer_registry(realm))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state in (S.REGISTRY_ERROR, S.REGISTRY_UNREACHABLE)
    assert registry.host in result.verification.reason


@pytest.mark.parametrize(
    "body",
    [
        b"<html>login</html>",
        b'{"token": 42}',
        b"[]",
        b'{"token": ""}',
        b'{"token": "t0k3n\\r\\nx-injected: 1"}',
        b'{"token": "t\\u00f6ken"}',
        b'{"access_token": "two words"}',
    ],
)
def test_a_token_service_sending_no_token_is_a_registry_error(serve, test_ca, body):
    realm = serve(lambda h: answer(h, 200, body, {"content-type": "application/json"}))
    registry = serve(bearer_registry(f"https://{realm.host}/token"))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_ERROR
    assert "sent no token" in result.verification.reason


@pytest.mark.parametrize("expires_in", [b"Infinity", b"-5", b'"soon"', b"1e400", b"null"])
def test_an_odd_token_lifetime_does_not_spoil_a_good_token(serve, test_ca, expires_in):
    body = b'{"token": "t0k3n", "expires_in": ' + expires_in + b"}"
    realm = serve(lambda h: answer(h, 200, body, {"content-type": "application/json"}))
    registry = serve(bearer_registry(f"https://{realm.host}/token"))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.VERIFIED, result.verification.reason


def test_a_redirect_to_an_unusable_location_is_a_registry_error(serve, test_ca):
    registry = serve(basic_registry(lambda h: answer(h, 302, b"", {"location": "http://[::1"})))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_ERROR


def test_a_token_service_that_is_down_is_named(serve, test_ca, down_host):
    registry = serve(bearer_registry(f"https://{down_host}/token"))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.REGISTRY_UNREACHABLE
    reason = result.verification.reason
    assert f"the token service of {registry.host} ({down_host})" in reason


def test_a_token_service_with_an_untrusted_certificate_is_a_tls_error(
    serve, test_ca, untrusted_server
):
    registry = serve(bearer_registry(f"https://{untrusted_server.host}/token"))
    (result,) = checks(test_ca, (registry.host, "team/app", PULLER))
    assert result.verification.state is S.TLS_ERROR
    assert "token service" in result.verification.reason


def test_a_web_site_behind_basic_auth_is_not_a_registry(serve, test_ca):
    """It challenges /v2/ and accepts the credentials, but speaks no registry API."""

    def site(h: Handler) -> None:
        if h.headers.get("authorization") != GOOD:
            answer(h, 401, b"login", {"www-authenticate": 'Basic realm="intranet"'})
        elif h.path == "/v2/":
            answer(h, 200, b"<html>version 2 of our site</html>")
        else:
            answer(h, 404, b"<html>not found</html>")

    (result,) = checks(test_ca, (serve(site).host, "team/app", PULLER))
    assert result.verification.state is S.NOT_A_REGISTRY
    assert "Docker-Distribution-API-Version" in result.verification.reason


def test_a_registry_behind_a_proxy_without_the_header_still_counts(serve, test_ca):
    """An nginx in front of a registry may drop the API header from its own 401s;
    the registry's error body still tells a registry (NAME_UNKNOWN)."""

    def proxied(h: Handler) -> None:
        if h.headers.get("authorization") != GOOD:
            answer(h, 401, b"", {"www-authenticate": 'Basic realm="proxy"'})
        elif h.path == "/v2/":
            answer(h, 200, b"{}")
        else:
            answer(h, 404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"unknown"}]}')

    (result,) = checks(test_ca, (serve(proxied).host, "team/absent", PULLER))
    assert result.verification.state is S.REPOSITORY_NOT_FOUND


def test_an_unexpected_failure_is_a_registry_error_naming_no_secret(caplog):
    """What no rule expects still ends a check with a state; the log names the type
    and the place only, as an exception's text can quote what was sent."""
    client = RegistryClient(timeout_seconds=1)
    try:
        raise KeyError(f"{PULLER[1]} t0k3n")
    except KeyError as exc:
        refused = client._failure("registry.example", exc)
    assert refused.state is S.REGISTRY_ERROR
    assert refused.reason == "the exchange with registry.example failed"
    assert "KeyError" in caplog.text and "test_check_misbehaving.py" in caplog.text
    assert PULLER[1] not in caplog.text and "t0k3n" not in caplog.text


def test_userinfo_in_a_realm_url_is_not_sent_instead_of_the_credentials(serve, test_ca):
    realm = serve(lambda h: answer(h, 401, b""))
    host = realm.host
    registry = serve(bearer_registry(f"https://someone:else@{host}/token"))
    (result,) = checks(test_ca, (registry.host, "team/app", (PULLER[0], "wrong")))
    assert result.verification.state is S.CREDENTIALS_REJECTED
    sent = header(realm.requests[0], "authorization")
    assert sent == "Basic " + base64.b64encode(f"{PULLER[0]}:wrong".encode()).decode()
