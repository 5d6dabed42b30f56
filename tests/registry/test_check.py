"""The credential check against the reference registry (docker-registry, started by
the tests over TLS), with htpasswd and with token authentication, and against
servers that are not what they should be: every outcome a check can have."""

from __future__ import annotations

import asyncio
import http.server
import logging

import pytest
from extrepo_server.domain.ports import AuthScheme, PullCredentials, VerificationState
from extrepo_server.registry.addresses import AddressPolicy
from extrepo_server.registry.client import RegistryClient

from harness.registries import (
    ADMIN,
    HttpsServer,
    TestCA,
    TestRegistry,
    answer,
    free_port,
)
from tests.support.registries import OUTSIDER, PULLER

S = VerificationState
LOOPBACK = AddressPolicy("127.0.0.0/8")


def check(ca: TestCA, host: str, path: str, credentials, *, policy=LOOPBACK, timeout=3.0):
    async def run():
        client = RegistryClient(timeout_seconds=timeout, policy=policy, ca_file=str(ca.pem))
        try:
            return await client.check(host, path, PullCredentials(*credentials))
        finally:
            await client.aclose()

    return asyncio.run(run())


@pytest.fixture(params=["basic", "token"])
def registry(request) -> TestRegistry:
    return request.getfixturevalue(f"{request.param}_registry")


def test_right_credentials_are_verified(registry, test_ca):
    result = check(test_ca, registry.host, "team/app", PULLER)
    assert result.verification.state is S.VERIFIED, result.verification.reason
    assert registry.host in result.verification.reason
    assert result.verification.checked_at is not None
    assert result.api_version == "registry/2.0"
    if registry.auth == "token":
        assert result.auth_scheme is AuthScheme.BEARER
        assert result.token_realm_host == registry.issuer.realm.split("/")[2]
    else:
        assert result.auth_scheme is AuthScheme.BASIC
        assert result.token_realm_host == ""


def test_a_wrong_password_is_rejected(registry, test_ca):
    result = check(test_ca, registry.host, "team/app", (PULLER[0], "wrong"))
    assert result.verification.state is S.CREDENTIALS_REJECTED
    assert "refused the username and password" in result.verification.reason


def test_a_repository_the_account_may_not_pull_is_denied(token_registry, test_ca):
    result = check(test_ca, token_registry.host, "team/app", OUTSIDER)
    assert result.verification.state is S.PULL_DENIED
    assert "may not pull team/app" in result.verification.reason


def test_an_absent_repository(registry, test_ca):
    # With access to the name, the registry says it does not exist (NAME_UNKNOWN).
    result = check(test_ca, registry.host, "team/absent", PULLER)
    assert result.verification.state is S.REPOSITORY_NOT_FOUND
    assert "has no repository team/absent" in result.verification.reason


def test_a_registry_that_is_down_is_unreachable(test_ca):
    result = check(test_ca, f"127.0.0.1:{free_port()}", "team/app", PULLER)
    assert result.verification.state is S.REGISTRY_UNREACHABLE
    assert result.auth_scheme is None


def test_a_name_that_does_not_resolve_is_unreachable(test_ca):
    result = check(test_ca, "nowhere.invalid", "team/app", PULLER, policy=AddressPolicy())
    assert result.verification.state is S.REGISTRY_UNREACHABLE


def test_a_plain_web_server_is_not_a_registry(test_ca):
    server = HttpsServer(test_ca.server_context("web"), lambda h: answer(h, 200, b"<html>"))
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is S.NOT_A_REGISTRY
    assert "Docker-Distribution-API-Version" in result.verification.reason
    assert all("authorization" not in {k.lower() for k in h} for _, _, h in server.requests)


def test_a_certificate_from_another_ca_is_a_tls_error(test_ca, tmp_path):
    other = TestCA(tmp_path)
    server = HttpsServer(other.server_context("other"), lambda h: answer(h, 200))
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is S.TLS_ERROR
    assert server.requests == []  # nothing was sent over the untrusted connection


def test_a_certificate_for_another_name_is_a_tls_error(test_ca):
    server = HttpsServer(test_ca.server_context("misnamed", "elsewhere.example"), lambda h: None)
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is S.TLS_ERROR


def test_credentials_never_follow_a_redirect_to_another_host(test_ca):
    """A registry whose token realm redirects elsewhere: the check stops there, and the
    other host never sees the credentials (it is not even asked)."""
    elsewhere = HttpsServer(test_ca.server_context("elsewhere"), lambda h: answer(h, 200))

    def registry(handler: http.server.BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/v2/"):
            realm = f"https://127.0.0.1:{registry_server.port}/token"
            answer(
                handler,
                401,
                b"{}",
                {
                    "docker-distribution-api-version": "registry/2.0",
                    "www-authenticate": f'Bearer realm="{realm}",service="s"',
                },
            )
        else:  # the realm
            answer(handler, 302, b"", {"location": f"https://{elsewhere.host}/steal"})

    registry_server = HttpsServer(test_ca.server_context("redirecting"), registry)
    try:
        result = check(test_ca, registry_server.host, "team/app", PULLER)
    finally:
        registry_server.close()
        elsewhere.close()
    assert result.verification.state is S.REGISTRY_ERROR
    assert "redirected to another host" in result.verification.reason
    assert elsewhere.requests == []


def test_loopback_is_forbidden_without_the_allow_list(basic_registry, test_ca):
    before = basic_registry.log_text().count("GET /v2/")
    for host in (basic_registry.host, f"localhost:{basic_registry.port}"):
        result = check(test_ca, host, "team/app", PULLER, policy=AddressPolicy())
        assert result.verification.state is S.ADDRESS_FORBIDDEN
        assert "127.0.0.1" in result.verification.reason
        assert "EXTREPO_REGISTRY_ALLOW" in result.verification.reason
    # No request reached the registry: the address was refused before connecting.
    assert basic_registry.log_text().count("GET /v2/") == before


def test_an_allow_listed_host_name_is_reachable(basic_registry, test_ca):
    policy = AddressPolicy(f"localhost:{basic_registry.port}")
    result = check(test_ca, f"localhost:{basic_registry.port}", "team/app", PULLER, policy=policy)
    assert result.verification.state is S.VERIFIED


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",  # noqa: S104 - an address judged, not bound
        "224.0.0.1",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
    ],
)
def test_the_address_policy_refuses_what_is_not_globally_routable(address):
    import ipaddress

    assert not AddressPolicy().allows(ipaddress.ip_address(address))


def test_the_address_policy_allows_public_addresses_and_the_allow_list():
    import ipaddress

    assert AddressPolicy().allows(ipaddress.ip_address("93.184.216.34"))
    assert AddressPolicy().allows(ipaddress.ip_address("2606:4700::1111"))
    assert AddressPolicy("10.0.0.0/8").allows(ipaddress.ip_address("10.9.9.9"))
    assert not AddressPolicy("10.0.0.0/8").allows(ipaddress.ip_address("192.168.0.1"))
    with pytest.raises(ValueError, match="neither a network nor a host"):
        AddressPolicy("10.0.0.0/99")


def test_a_changed_password_is_rejected_at_the_next_check(test_ca, tmp_path):
    with TestRegistry(tmp_path / "registry", test_ca, "basic") as registry:
        registry.add_user("rotating", "first")
        assert (
            check(test_ca, registry.host, "team/app", ("rotating", "first")).verification.state
            is S.VERIFIED
        )
        registry.set_password("rotating", "second")
        after = check(test_ca, registry.host, "team/app", ("rotating", "first"))
        assert after.verification.state is S.CREDENTIALS_REJECTED
        assert (
            check(test_ca, registry.host, "team/app", ("rotating", "second")).verification.state
            is S.VERIFIED
        )


def test_nothing_secret_is_logged_or_told(token_registry, test_ca, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "pull-pass"
    result = check(test_ca, token_registry.host, "team/app", PULLER)
    wrong = check(test_ca, token_registry.host, "team/app", ("puller", "s3cret-guess"))
    assert result.verification.state is S.VERIFIED
    for text in (caplog.text, result.verification.reason, wrong.verification.reason):
        assert secret not in text and "s3cret-guess" not in text
        assert "eyJ" not in text  # no JWT


def test_the_admin_seeded_an_image(basic_registry):
    # The fixture's image is really there (what VERIFIED relies on).
    import httpx

    with httpx.Client(verify=basic_registry.ca.client_context()) as client:
        tags = client.get(f"https://{basic_registry.host}/v2/team/app/tags/list", auth=ADMIN)
    assert tags.json() == {"name": "team/app", "tags": ["1.0"]}


@pytest.mark.parametrize(
    ("manifest_status", "state"),
    [(200, S.VERIFIED), (404, S.REPOSITORY_NOT_FOUND), (401, S.PULL_DENIED)],
)
def test_a_registry_without_tags_list_is_checked_with_a_manifest_head(
    test_ca, manifest_status, state
):
    def handle(handler: http.server.BaseHTTPRequestHandler) -> None:
        v2 = {"docker-distribution-api-version": "registry/2.0"}
        if handler.path == "/v2/":
            answer(handler, 200, b"{}", v2)
        elif handler.path.startswith("/v2/team/app/tags/list"):
            answer(handler, 405, b"{}", v2)
        else:
            answer(handler, manifest_status, b"", v2)

    server = HttpsServer(test_ca.server_context("notags"), handle)
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is state, result.verification.reason
    assert result.auth_scheme is AuthScheme.NONE
    assert ("HEAD", "/v2/team/app/manifests/latest") in [(m, p) for m, p, _ in server.requests]
