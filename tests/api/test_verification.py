"""Credential checks through the API, over gRPC and REST, against the reference
registry started by the tests (htpasswd and token authentication): Create and
Update check before storing and refuse what the registry refused, accept what
could not be checked, ValidateRepository checks without storing, the background
re-check keeps the state true, and a user's checks are budgeted."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from harness.gateway import start_gateway
from harness.live_server import LiveServer
from harness.registries import TestRegistry, free_port
from tests.support.api import Api, ApiError, GrpcApi, basic_authorization
from tests.support.registries import OUTSIDER, PULLER

_users = itertools.count(1)


class Checking:
    """A live server with checks on, its gateway, and APIs for fresh users."""

    def __init__(self, server: LiveServer, gateway_url: str) -> None:
        self.server = server
        self.gateway_url = gateway_url
        self._channel = grpc.insecure_channel(server.address)

    def api(self, transport: str, name: str | None = None) -> Api:
        name = name or f"checker{next(_users)}"
        authorization = basic_authorization(name, self.server.create_user(name))
        if transport == "grpc":
            return GrpcApi(self._channel, authorization)
        from tests.support.rest_api import make_rest_api

        return make_rest_api(self.gateway_url, authorization)

    def close(self) -> None:
        self._channel.close()


def _checking(tmp_path, env: dict[str, str], database_url: str | None = None) -> Iterator:
    with LiveServer(tmp_path, database_url=database_url, env=env) as server:
        gateway_url, stop = start_gateway(server.address)
        checking = Checking(server, gateway_url)
        try:
            yield checking
        finally:
            checking.close()
            stop()


@pytest.fixture(scope="module")
def checking(request, database, checking_env, tmp_path_factory) -> Iterator[Checking]:
    url = None
    if database == "postgresql":
        url = request.getfixturevalue("postgres").create_database("checking")
    env = {**checking_env, "EXTREPO_RECHECK_INTERVAL_SECONDS": "1"}
    yield from _checking(tmp_path_factory.mktemp("checking"), env, url)


@pytest.fixture(params=["grpc", "rest"])
def transport(request) -> str:
    return request.param


@pytest.fixture
def user(checking, transport) -> Api:
    return checking.api(transport)


@pytest.fixture(params=["basic", "token"])
def registry(request) -> TestRegistry:
    return request.getfixturevalue(f"{request.param}_registry")


def wait_for(read: Callable[[], dict], state: str, seconds: float = 15) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        repository = read()
        if repository["verification"]["state"] == state or time.monotonic() > deadline:
            return repository
        time.sleep(0.2)


# -- Create -------------------------------------------------------------------------------


def test_right_credentials_are_verified_and_shown_everywhere(user, registry):
    name = f"{registry.host}/team/app"
    created = user.create(name, *PULLER)
    verification = created["verification"]
    assert verification["state"] == "VERIFIED", verification
    assert verification["check_time"]
    assert registry.host in verification["reason"]
    # Stored and shown by Get and List (re-checked every second here: the same state,
    # a check at least as late).
    for shown in (
        user.get(name)["verification"],
        user.list(name=name)["objects"][0]["verification"],
    ):
        assert shown["state"] == "VERIFIED" and shown["check_time"] >= verification["check_time"]
    # The original fields are unchanged beside it.
    assert created["in_use"] is False and created["name"] == name
    # The registry resource shows the latest check made against it.
    latest = user.registry(registry.host)["last_verification"]
    assert latest["state"] == "VERIFIED" and latest["check_time"] >= verification["check_time"]


@pytest.mark.parametrize(
    ("path", "credentials", "state"),
    [
        ("team/app", (PULLER[0], "wrong-password"), "CREDENTIALS_REJECTED"),
        ("team/absent", PULLER, "REPOSITORY_NOT_FOUND"),
    ],
)
def test_what_the_registry_refuses_is_not_stored(user, registry, path, credentials, state):
    name = f"{registry.host}/{path}"
    with pytest.raises(ApiError) as refused:
        user.create(name, *credentials)
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == state
    assert refused.value.metadata == {"host": registry.host, "state": state}
    assert refused.value.message.startswith("the credentials were not stored: ")
    assert credentials[1] not in refused.value.message
    with pytest.raises(ApiError) as missing:
        user.get(name)
    assert missing.value.code == grpc.StatusCode.NOT_FOUND


def test_a_repository_the_account_may_not_pull_is_refused(user, token_registry):
    with pytest.raises(ApiError) as refused:
        user.create(f"{token_registry.host}/team/app", *OUTSIDER)
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "PULL_DENIED"


def test_a_registry_that_is_down_does_not_block_registering(user):
    host = f"127.0.0.1:{free_port()}"
    created = user.create(f"{host}/team/app", *PULLER)
    assert created["verification"]["state"] == "REGISTRY_UNREACHABLE"
    assert f"cannot connect to {host}" == created["verification"]["reason"]


def test_a_web_server_that_is_not_a_registry_is_recorded(user, checking):
    # The gateway is an HTTP server without the registry API (plain HTTP, so TLS fails
    # first): accepted, recorded as what it is.
    host = checking.gateway_url.removeprefix("http://")
    created = user.create(f"{host}/team/app", *PULLER)
    assert created["verification"]["state"] == "TLS_ERROR"


# -- Update ---------------------------------------------------------------------------------


def test_update_checks_the_new_credentials_and_keeps_the_old_on_refusal(user, registry):
    name = f"{registry.host}/team/app"
    user.create(name, *PULLER)
    with pytest.raises(ApiError) as refused:
        user.update(name, password="not-the-password")
    assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.value.reason == "CREDENTIALS_REJECTED"
    # The stored credentials were kept: they still verify.
    assert user.validate(name)["verification"]["state"] == "VERIFIED"
    # A username sent alone is checked with the stored password.
    updated = user.update(name, username=PULLER[0])
    assert updated["verification"]["state"] == "VERIFIED"
    assert updated["verification"]["check_time"] >= user.get(name)["create_time"]


# -- ValidateRepository ---------------------------------------------------------------------


def test_validate_new_credentials_without_storing(user, registry):
    name = f"{registry.host}/team/app"
    answer = user.validate(name, username=PULLER[0], password=PULLER[1])
    assert answer["verification"]["state"] == "VERIFIED"
    assert answer["api_version"] == "registry/2.0"
    if registry.auth == "token":
        assert answer["auth_scheme"] == "BEARER"
        assert answer["token_realm_host"] == registry.issuer.realm.split("/")[2]
    else:
        assert answer["auth_scheme"] == "BASIC"
        assert answer["token_realm_host"] == ""
    assert answer["registry"].endswith(f"/registry/{registry.host}/")
    assert user.list(name=name)["meta"]["total_count"] == 0  # nothing stored


def test_validate_answers_a_refusal_instead_of_failing(user, registry):
    answer = user.validate(f"{registry.host}/team/app", username=PULLER[0], password="nope")
    assert answer["verification"]["state"] == "CREDENTIALS_REJECTED"


def test_validate_the_stored_credentials(user, token_registry):
    name = f"{token_registry.host}/team/app"
    user.create(name, *PULLER)
    assert user.validate(name)["verification"]["state"] == "VERIFIED"
    # One credential sent, the other taken from storage.
    assert user.validate(name, password="wrong")["verification"]["state"] == (
        "CREDENTIALS_REJECTED"
    )


def test_validate_needs_both_credentials_for_an_unregistered_repository(user, basic_registry):
    with pytest.raises(ApiError) as missing:
        user.validate(f"{basic_registry.host}/team/unregistered", password="p")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    assert "send both username and password" in missing.value.message
    with pytest.raises(ApiError) as empty:
        user.validate(f"{basic_registry.host}/team/app", username="", password="p")
    assert empty.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert empty.value.fields == {"username"}


# -- background re-checks ---------------------------------------------------------------------


def test_a_password_changed_on_the_registry_is_noticed_in_the_background(
    checking, transport, test_ca, tmp_path
):
    user = checking.api(transport)
    with TestRegistry(tmp_path / "registry", test_ca, "basic") as registry:
        registry.add_user("rotating", "first")
        name = f"{registry.host}/team/app"
        assert user.create(name, "rotating", "first")["verification"]["state"] == "VERIFIED"
        first = user.get(name)["verification"]["check_time"]
        # Re-checked about every second (the server's interval), still verified.
        later = wait_for(lambda: user.get(name), "VERIFIED")
        assert wait_for(lambda: user.get(name), "never")["verification"]["check_time"] > first
        registry.set_password("rotating", "second")
        flipped = wait_for(lambda: user.get(name), "CREDENTIALS_REJECTED")
        assert flipped["verification"]["state"] == "CREDENTIALS_REJECTED", flipped
        assert later["verification"]["state"] == "VERIFIED"
        # The listing shows it too, and never triggered a check itself.
        assert user.list(name=name)["objects"][0]["verification"]["state"] == (
            "CREDENTIALS_REJECTED"
        )


# -- policies and limits ------------------------------------------------------------------------


def test_checks_off_record_not_checked(connect, new_user):
    # The session's server runs with EXTREPO_VERIFICATION=off.
    api = connect(new_user("unchecked"))
    created = api.create("registry.local/team/app", "u", "p")
    verification = created["verification"]
    assert verification["state"] == "NOT_CHECKED"
    assert verification.get("check_time") is None  # REST: null; gRPC: not set
    assert verification["reason"] == "credential checks are turned off on this service"


@pytest.fixture(scope="module")
def strict(checking_env, tmp_path_factory) -> Iterator[Checking]:
    env = {
        "EXTREPO_VERIFICATION": "refuse-rejected",
        "EXTREPO_REGISTRY_CA_FILE": checking_env["EXTREPO_REGISTRY_CA_FILE"],
        "EXTREPO_CHECKS_PER_MINUTE": "3",
    }
    yield from _checking(tmp_path_factory.mktemp("strict"), env)


def test_loopback_registries_are_refused_without_the_allow_list(strict, transport, basic_registry):
    user = strict.api(transport)
    for host in (basic_registry.host, f"localhost:{basic_registry.port}"):
        with pytest.raises(ApiError) as refused:
            user.create(f"{host}/team/app", *PULLER)
        assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert refused.value.reason == "ADDRESS_FORBIDDEN"
        assert "EXTREPO_REGISTRY_ALLOW" in refused.value.message


def test_a_users_checks_are_budgeted(strict, transport, basic_registry):
    user, other = strict.api(transport), strict.api(transport)
    name = f"{basic_registry.host}/team/app"
    for _ in range(3):
        user.validate(name, username="u", password="p")
    with pytest.raises(ApiError) as throttled:
        user.validate(name, username="u", password="p")
    assert throttled.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert throttled.value.reason == "CHECKS_THROTTLED"
    # Another user's budget is their own.
    assert other.validate(name, username="u", password="p")["verification"]["state"] == (
        "ADDRESS_FORBIDDEN"
    )


def test_repositories_stored_while_checks_were_off_are_checked_once_they_are_on(
    tmp_path, checking_env, basic_registry
):
    from tests.support.api import grpc_api

    name = f"{basic_registry.host}/team/app"
    with LiveServer(tmp_path) as unchecked:  # EXTREPO_VERIFICATION=off
        key = unchecked.create_user("early")
        created = grpc_api(unchecked, "early", key).create(name, *PULLER)
        assert created["verification"]["state"] == "NOT_CHECKED"
    env = {**checking_env, "EXTREPO_RECHECK_INTERVAL_SECONDS": "3600"}
    with LiveServer(tmp_path, env=env) as checked:
        api = grpc_api(checked, "early", key)
        assert wait_for(lambda: api.get(name), "VERIFIED")["verification"]["state"] == "VERIFIED"


def test_updating_a_repository_that_is_not_registered_is_not_found(user, basic_registry):
    name = f"{basic_registry.host}/team/unregistered"
    for sent in ({"password": "p"}, {"username": "u", "password": "p"}):
        with pytest.raises(ApiError) as missing:
            user.update(name, **sent)
        assert missing.value.code == grpc.StatusCode.NOT_FOUND
        assert missing.value.message == f"repository '{name}' not found"
