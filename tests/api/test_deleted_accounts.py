"""Calls from an account deleted meanwhile, over gRPC and REST, on SQLite and PostgreSQL.

A server trusts a verified key for EXTREPO_AUTH_CACHE_SECONDS, and the admin command
that deletes an account runs in another process: the server keeps the principal
cached. Such calls, and calls racing the deletion itself, must answer UNAUTHENTICATED
(the caller's own account is gone) or NOT_FOUND (the namespace is gone), never
INTERNAL. These servers cache for ten minutes, so every call after a deletion here
runs on a cached principal unless the server dropped it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

import grpc
import pytest

from harness.live_server import LiveServer
from tests.conftest import TRANSPORTS, unique_name
from tests.support.api import Api, ApiError, GrpcApi, basic_authorization
from tests.support.rest_api import make_rest_api

NAME = "registry.example.com/team/app"
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
# What a call may answer while the account it uses is being deleted. In an
# organization deleted meanwhile, once the server has dropped the principal that
# granted it, also what any namespace not the caller's answers: PERMISSION_DENIED.
RACE_CODES = {grpc.StatusCode.OK, UNAUTHENTICATED, NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS}
ORGANIZATION_RACE_CODES = RACE_CODES | {grpc.StatusCode.PERMISSION_DENIED}


@pytest.fixture(scope="module")
def caching_server(request, database, tmp_path_factory) -> Iterator[LiveServer]:
    url = None
    if database == "postgresql":
        url = request.getfixturevalue("postgres").create_database("deleted_accounts")
    live = LiveServer(
        tmp_path_factory.mktemp(f"deleted-{database}"),
        database_url=url,
        env={"EXTREPO_AUTH_CACHE_SECONDS": "600"},
    )
    with live:
        yield live
        errors = [e for e in live.log_entries() if e.get("code") in ("INTERNAL", "UNKNOWN")]
        assert errors == [], errors


@pytest.fixture(scope="module")
def caching_gateway(caching_server) -> Iterator[str]:
    from harness.gateway import start_gateway

    base_url, stop = start_gateway(caching_server.address)
    try:
        yield base_url
    finally:
        stop()


@pytest.fixture(scope="module")
def caching_channel(caching_server) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(caching_server.address) as channel:
        yield channel


@pytest.fixture(params=TRANSPORTS)
def connect(request, caching_server, caching_channel) -> Callable[[str, str], Api]:
    def make(username: str, key: str) -> Api:
        authorization = basic_authorization(username, key)
        if request.param == "grpc":
            return GrpcApi(caching_channel, authorization)
        return make_rest_api(request.getfixturevalue("caching_gateway"), authorization)

    return make


def _code(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except ApiError as error:
        return error.code
    return grpc.StatusCode.OK


def _calls(api: Api, namespace: str = "") -> dict[str, Callable[[], object]]:
    return {
        "create": lambda: api.create("other.example.com/app", "u", "p", namespace=namespace),
        "get": lambda: api.get(NAME, namespace=namespace),
        "list": lambda: api.list(namespace=namespace),
        "list-by-registry": lambda: api.list(namespace=namespace, registry="other.example.com"),
        "list-by-name": lambda: api.list(namespace=namespace, name="other.example.com/app"),
        "update": lambda: api.update(NAME, namespace=namespace, password="new"),
        "delete": lambda: api.delete(NAME, namespace=namespace),
    }


# What the first call after the deletion answers, its principal still cached: a write
# meets the missing account (UNAUTHENTICATED, its own); a read of one repository finds
# nothing; a listing finds the namespace gone (UNAUTHENTICATED, its own).
FIRST_CALL = {
    "create": UNAUTHENTICATED,
    "get": NOT_FOUND,
    "list": UNAUTHENTICATED,
    "list-by-registry": UNAUTHENTICATED,
    "list-by-name": UNAUTHENTICATED,
    "update": NOT_FOUND,
    "delete": NOT_FOUND,
}


@pytest.mark.parametrize("first", list(FIRST_CALL))
def test_a_deleted_users_cached_key_is_unauthenticated_or_not_found(caching_server, connect, first):
    name = unique_name("gone")
    api = connect(name, caching_server.create_user(name))
    api.create(NAME, "puller", "s3cret")
    assert api.list()["meta"]["total_count"] == 1  # the principal is cached now

    caching_server.admin_api.delete_user(name, force=True)

    with pytest.raises(ApiError) as caught:
        _calls(api)[first]()
    assert caught.value.code == FIRST_CALL[first]
    if FIRST_CALL[first] is UNAUTHENTICATED:
        assert "your account no longer exists" in caught.value.message
    # Every call after it, whichever, is refused the same ways.
    for call in _calls(api).values():
        assert _code(call) in {UNAUTHENTICATED, NOT_FOUND}
    # Once the server met the missing account, the cached principal is gone: the key
    # is looked up again, and it went with the account.
    if FIRST_CALL[first] is UNAUTHENTICATED:
        with pytest.raises(ApiError, match="invalid username or API key"):
            api.get(NAME)


def test_a_deleted_organization_is_not_found_for_its_cached_members(caching_server, connect):
    owner, member, org = unique_name("own"), unique_name("mem"), unique_name("org")
    owner_api = connect(owner, caching_server.create_user(owner))
    member_api = connect(member, caching_server.create_user(member))
    caching_server.create_org(org, owner)
    caching_server.add_member(org, member)
    owner_api.create(NAME, "u", "p", namespace=org)
    owner_api.create(NAME, "u", "p")
    assert member_api.get(NAME, namespace=org)["namespace"] == org  # cached, with the org

    caching_server.admin_api.delete_organization(org, force=True)

    for api in (owner_api, member_api):
        for what, call in _calls(api, namespace=org).items():
            if api is member_api and what in ("create", "update", "delete"):
                continue  # a member may not write: PERMISSION_DENIED, as before
            code = _code(call)
            assert code in {NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED}, (what, code)
    with pytest.raises(ApiError) as caught:
        owner_api.list(namespace=org)
    # The server dropped the principals that granted the organization once it met it
    # gone, so a caller learns no more than about any namespace not theirs.
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert owner_api.get(NAME)["namespace"] == owner  # their own namespace is untouched


def test_a_namespace_gone_answers_not_found_while_still_cached(caching_server, connect):
    """Before the server drops the principal: the first call into the deleted
    organization says the namespace is gone, not that access is denied."""
    owner, org = unique_name("own"), unique_name("org")
    api = connect(owner, caching_server.create_user(owner))
    caching_server.create_org(org, owner)
    assert api.list(namespace=org)["objects"] == []  # cached, with the org

    caching_server.admin_api.delete_organization(org)

    with pytest.raises(ApiError) as caught:
        api.create(NAME, "u", "p", namespace=org)
    assert caught.value.code == NOT_FOUND
    assert f"namespace '{org}' no longer exists" in caught.value.message


def test_calls_racing_a_deletion_never_fail_as_the_servers_fault(caching_server):
    """Creates, updates, deletes, lists and gets in a user's namespace and in their
    organization's, from several threads, while the admin deletes both (with their
    repositories): every answer is OK or the caller's UNAUTHENTICATED, NOT_FOUND."""
    codes: dict[bool, Counter[grpc.StatusCode]] = {False: Counter(), True: Counter()}
    for round_ in range(3):
        user, org = unique_name("racer"), unique_name("raceorg")
        key = caching_server.create_user(user)
        caching_server.create_org(org, user)
        stop = threading.Event()

        def hammer(worker: int, namespace: str, user=user, key=key, stop=stop) -> None:
            with grpc.insecure_channel(caching_server.address) as channel:
                api = GrpcApi(channel, basic_authorization(user, key))
                i = 0
                # Until the key is refused: calls with a deleted key, again and again,
                # would be throttled as failed authentication (test_brute_force.py).
                while not stop.is_set():
                    name = f"race{worker}.example.com/app{i % 7}"
                    host = f"race{worker}.example.com"
                    for call, args in (
                        (api.create, (name, "u", "p", namespace)),
                        (api.update, (name, namespace, None, "x")),
                        (api.get, (name, namespace)),
                        (api.list, (namespace,)),
                        (api.list, (namespace, "", host)),
                        (api.delete, (name, namespace)),
                    ):
                        code = _code(lambda call=call, args=args: call(*args))
                        codes[bool(namespace)][code] += 1
                        if code is UNAUTHENTICATED:
                            return
                    i += 1

        threads = [
            threading.Thread(target=hammer, args=(w, namespace))
            for w, namespace in enumerate(["", "", org, org])
        ]
        for thread in threads:
            thread.start()
        try:
            threading.Event().wait(0.3 + 0.1 * round_)  # let them fill the namespaces
            caching_server.admin_api.delete_organization(org, force=True)
            caching_server.admin_api.delete_user(user, force=True)
            threading.Event().wait(0.3)  # and meet the deletion
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    own, organization = codes[False], codes[True]
    assert set(own) <= RACE_CODES, own
    assert set(organization) <= ORGANIZATION_RACE_CODES, organization
    for counted in (own, organization):
        assert counted[grpc.StatusCode.OK] > 0, counted
        assert counted[UNAUTHENTICATED] + counted[NOT_FOUND] > 0, counted
