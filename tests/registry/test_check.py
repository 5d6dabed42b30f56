"""The credential check against the reference registry (docker-registry, started by
the tests over TLS), with htpasswd and with token authentication, and against
servers that are not what they should be: every outcome a check can have."""

from __future__ import annotations

import asyncio
import http.server
import logging
from datetime import UTC, datetime, timedelta

import pytest
from extrepo_server.domain.errors import FailedPrecondition, Unavailable
from extrepo_server.domain.ports import (
    AuthScheme,
    PullCredentials,
    PullKind,
    VerificationState,
)
from extrepo_server.registry.addresses import AddressPolicy
from extrepo_server.registry.client import RegistryClient

from harness.registries import ADMIN, HttpsServer, TestCA, TestRegistry, answer
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
    assert result.verification.checked_at.tzinfo is UTC
    assert abs(datetime.now(UTC) - result.verification.checked_at) < timedelta(seconds=10)
    assert result.api_version == "registry/2.0"
    if registry.auth == "token":
        assert result.auth_scheme is AuthScheme.BEARER
        assert result.token_realm_host == registry.issuer.realm.split("/")[2]
    else:
        assert result.auth_scheme is AuthScheme.BASIC
        assert result.token_realm_host == ""


def test_an_open_registry_lets_anyone_pull(open_registry, test_ca):
    # No challenge on /v2/: the repository is checked anonymously (the credentials
    # are not sent, and cannot be wrong).
    result = check(test_ca, open_registry.host, "team/app", ("anyone", "anything"))
    assert result.verification.state is S.VERIFIED, result.verification.reason
    assert result.auth_scheme is AuthScheme.NONE and result.api_version == "registry/2.0"
    absent = check(test_ca, open_registry.host, "team/absent", PULLER)
    assert absent.verification.state is S.REPOSITORY_NOT_FOUND
    assert "GET /v2/team/app/tags/list" in open_registry.log_text()


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


def test_an_absent_repository_outside_the_grant_is_denied(token_registry, test_ca):
    # Token auth: without pull access to the name, the token opens nothing, and the
    # registry cannot tell "absent" from "not yours" (PULL_DENIED, as for team/app).
    result = check(test_ca, token_registry.host, "team/absent", OUTSIDER)
    assert result.verification.state is S.PULL_DENIED


def test_a_registry_that_is_down_is_unreachable(down_host, test_ca):
    result = check(test_ca, down_host, "team/app", PULLER)
    assert result.verification.state is S.REGISTRY_UNREACHABLE
    assert result.auth_scheme is None


def test_a_name_that_does_not_resolve_is_unreachable(test_ca):
    result = check(test_ca, "nowhere.invalid", "team/app", PULLER, policy=AddressPolicy())
    assert result.verification.state is S.REGISTRY_UNREACHABLE


def test_a_plain_web_server_is_not_a_registry(web_server, test_ca):
    result = check(test_ca, web_server.host, "team/app", PULLER)
    assert result.verification.state is S.NOT_A_REGISTRY
    assert "Docker-Distribution-API-Version" in result.verification.reason
    assert web_server.requests, "the check asked it"
    assert all("authorization" not in {k.lower() for k in h} for _, _, h in web_server.requests)


def test_a_certificate_from_another_ca_is_a_tls_error(untrusted_server, test_ca):
    result = check(test_ca, untrusted_server.host, "team/app", PULLER)
    assert result.verification.state is S.TLS_ERROR
    assert untrusted_server.host in result.verification.reason
    assert untrusted_server.requests == []  # nothing was sent over the untrusted connection


def test_a_certificate_for_another_name_is_a_tls_error(test_ca):
    server = HttpsServer(test_ca.server_context("misnamed", "elsewhere.example"), lambda h: None)
    try:
        result = check(test_ca, server.host, "team/app", PULLER)
    finally:
        server.close()
    assert result.verification.state is S.TLS_ERROR


def test_credentials_never_follow_a_redirect_to_another_host(redirecting_registry, test_ca):
    """The token realm (another port) redirects to a third server: the check stops
    there, and that server never sees the credentials (it is not even asked)."""
    result = check(test_ca, redirecting_registry.host, "team/app", PULLER)
    assert result.verification.state is S.REGISTRY_ERROR
    assert "redirected to another host" in result.verification.reason
    assert result.token_realm_host == redirecting_registry.realm.host
    # The realm may have the credentials (the registry named it); the recorder not.
    realm_requests = redirecting_registry.realm.requests
    assert any("authorization" in {k.lower() for k in h} for _, _, h in realm_requests)
    assert redirecting_registry.recorder.requests == []


def test_loopback_is_forbidden_without_the_allow_list(basic_registry, test_ca):
    before = basic_registry.log_text().count("GET /v2/")
    for host in (basic_registry.host, f"localhost:{basic_registry.port}"):
        result = check(test_ca, host, "team/app", PULLER, policy=AddressPolicy())
        assert result.verification.state is S.ADDRESS_FORBIDDEN
        assert "127.0.0.1" in result.verification.reason
        assert "EXTREPO_REGISTRY_ALLOW" in result.verification.reason
    # No request reached the registry: the address was refused before connecting.
    assert basic_registry.log_text().count("GET /v2/") == before


def test_the_token_realm_is_judged_by_the_policy_too(token_registry, test_ca):
    # The registry itself is allowed (by host:port); its token service, on another
    # loopback port, is not: the credentials never reach it.
    issued = token_registry.issuer.issued
    policy = AddressPolicy(token_registry.host)
    result = check(test_ca, token_registry.host, "team/app", PULLER, policy=policy)
    assert result.verification.state is S.ADDRESS_FORBIDDEN
    assert token_registry.issuer.realm.split("/")[2] in result.verification.reason
    assert token_registry.issuer.issued == issued


def test_an_allow_listed_host_name_is_reachable(basic_registry, test_ca):
    policy = AddressPolicy(f"localhost:{basic_registry.port}")
    result = check(test_ca, f"localhost:{basic_registry.port}", "team/app", PULLER, policy=policy)
    assert result.verification.state is S.VERIFIED


def test_a_changed_password_is_rejected_at_the_next_check(test_ca, tmp_path):
    with TestRegistry(tmp_path / "registry", test_ca, "basic") as registry:
        registry.add_user("rotating", "first")
        pid = registry.pid
        assert (
            check(test_ca, registry.host, "team/app", ("rotating", "first")).verification.state
            is S.VERIFIED
        )
        for password in ("second", "third"):  # twice in a row: each rewrite is seen
            registry.set_password("rotating", password)
            after = check(test_ca, registry.host, "team/app", ("rotating", "first"))
            assert after.verification.state is S.CREDENTIALS_REJECTED
            now = check(test_ca, registry.host, "team/app", ("rotating", password))
            assert now.verification.state is S.VERIFIED
        assert registry.pid == pid  # the running registry re-read its htpasswd file


def test_a_changed_password_at_the_token_service(token_registry, test_ca):
    token_registry.add_user("rotating", "first", pull={"team/app"})
    assert (
        check(test_ca, token_registry.host, "team/app", ("rotating", "first")).verification.state
        is S.VERIFIED
    )
    token_registry.set_password("rotating", "second")
    after = check(test_ca, token_registry.host, "team/app", ("rotating", "first"))
    assert after.verification.state is S.CREDENTIALS_REJECTED
    assert "token service" in after.verification.reason


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


# -- pull access (what deployers are handed: registry/client.py pull_access) ----------


def pull_access(ca: TestCA, host: str, path: str, credentials, *, policy=LOOPBACK):
    async def run():
        client = RegistryClient(timeout_seconds=3, policy=policy, ca_file=str(ca.pem))
        try:
            return await client.pull_access(host, path, PullCredentials(*credentials))
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_pull_access_of_each_kind_of_registry(
    token_registry, basic_registry, open_registry, test_ca
):
    token = pull_access(test_ca, token_registry.host, "team/app", PULLER)
    assert token.kind is PullKind.TOKEN and token.token.startswith("eyJ")
    assert 290 <= token.expires_in_seconds <= 300  # the test issuer's 300 s
    assert PULLER[1] not in token.token and token.token not in repr(token)
    assert pull_access(test_ca, basic_registry.host, "team/app", PULLER).kind is PullKind.PASSWORD
    anyone = pull_access(test_ca, open_registry.host, "team/app", ("anyone", "x"))
    assert anyone.kind is PullKind.ANONYMOUS


@pytest.mark.parametrize(
    ("credentials", "where", "policy", "error", "reason"),
    [
        ((PULLER[0], "wrong"), "token", LOOPBACK, FailedPrecondition, "CREDENTIALS_REJECTED"),
        (PULLER, "token", AddressPolicy(), FailedPrecondition, "ADDRESS_FORBIDDEN"),
        (PULLER, "down", LOOPBACK, Unavailable, "REGISTRY_UNREACHABLE"),
        (PULLER, "web", LOOPBACK, Unavailable, "NOT_A_REGISTRY"),
    ],
)
def test_no_pull_access_says_why(request, test_ca, credentials, where, policy, error, reason):
    host = {
        "token": lambda: request.getfixturevalue("token_registry").host,
        "down": lambda: request.getfixturevalue("down_host"),
        "web": lambda: request.getfixturevalue("web_server").host,
    }[where]()
    with pytest.raises(error) as refused:
        pull_access(test_ca, host, "team/app", credentials, policy=policy)
    assert refused.value.reason == reason
    assert credentials[1] not in str(refused.value)
