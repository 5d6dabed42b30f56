"""Two server processes (replicas) on one PostgreSQL database.

Uniqueness is the database's: of many concurrent creates of one name, split across
both replicas, exactly one wins and every other call answers ALREADY_EXISTS, every
time. Writes through one replica are read through the other at once. Concurrent
updates of different credential fields through both replicas lose neither.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from cryptography.fernet import Fernet
from extrepo.v1 import repository_service_pb2 as pb
from extrepo.v1 import repository_service_pb2_grpc as pb_grpc
from extrepo_server.security.credentials import Keyring, key_id_of
from extrepo_server.storage.accounts import AccountStore
from extrepo_server.storage.database import create_engine
from extrepo_server.storage.reencryption import CredentialRows

from harness.live_server import LiveServer
from tests.support.api import ApiError, GrpcApi, basic_authorization
from tests.support.keys import serve_refused

RACE_REPETITIONS = 6
RACERS = 60  # concurrent creates of one name per repetition, half through each replica


class Replicas:
    def __init__(self, servers: list[LiveServer], key: str, secret: str, url: str) -> None:
        self.servers = servers
        self.user = "replica"
        self.key = key
        self.secret = secret
        self.url = url
        self.auth = basic_authorization(self.user, key)
        self.channels = [grpc.insecure_channel(s.address) for s in servers]
        self.stubs = [pb_grpc.RepositoryServiceStub(c) for c in self.channels]
        self.apis = [GrpcApi(c, self.auth) for c in self.channels]

    def close(self) -> None:
        for channel in self.channels:
            channel.close()


@pytest.fixture(scope="module")
def replicas(postgres, tmp_path_factory) -> Iterator[Replicas]:
    url = postgres.create_database("replicas")
    # Replicas share the credential encryption key, as they must in production.
    secret = Fernet.generate_key().decode()
    env = {"EXTREPO_SECRET_KEYS": secret}
    servers = [
        LiveServer(tmp_path_factory.mktemp(f"replica{n}"), database_url=url, env=env)
        for n in range(2)
    ]
    for server in servers:
        server.start()
    try:
        # The admin API writes the shared database; either replica then knows the user.
        key = servers[0].create_user("replica")
        group = Replicas(servers, key, secret, url)
        yield group
        group.close()
    finally:
        for server in servers:
            server.stop()


def _code(future: grpc.Future) -> grpc.StatusCode:
    try:
        future.result(timeout=60)
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        return exc.code()


@pytest.mark.parametrize("round_", range(RACE_REPETITIONS))
def test_concurrent_creates_of_one_name_across_replicas_have_one_winner(replicas, round_):
    name = f"race.example.com/team/app{round_}"
    request = pb.CreateRequest(name=name, username="u", password="p")
    metadata = (("authorization", replicas.auth),)
    start = threading.Barrier(RACERS)

    def create(n: int) -> grpc.StatusCode:
        stub = replicas.stubs[n % 2]
        start.wait(30)
        return _code(stub.Create.future(request, metadata=metadata, timeout=60))

    with ThreadPoolExecutor(RACERS) as pool:
        codes = list(pool.map(create, range(RACERS)))
    counts = Counter(codes)
    assert counts == {grpc.StatusCode.OK: 1, grpc.StatusCode.ALREADY_EXISTS: RACERS - 1}, counts
    # Both replicas see the one row, and the counters counted it once.
    for api in replicas.apis:
        assert api.get(name)["name"] == name
        page = api.list(name=name)
        assert [r["name"] for r in page["objects"]] == [name]
        assert page["meta"]["total_count"] == 1
    assert replicas.apis[0].list(registry="race.example.com")["meta"]["total_count"] == round_ + 1


def test_a_write_through_one_replica_is_read_through_the_other(replicas):
    a, b = replicas.apis
    for n in range(20):
        name = f"visible.example.com/app{n}"
        created = a.create(name, "u", "p")
        assert b.get(name) == created
        updated = b.update(name, password=f"p{n}")
        assert a.get(name) == updated
        assert updated["update_time"] != created["update_time"] or n  # time moves on
        b.delete(name)
        with pytest.raises(ApiError) as gone:
            a.get(name)
        assert gone.value.code == grpc.StatusCode.NOT_FOUND


def test_concurrent_updates_of_different_fields_across_replicas_lose_nothing(replicas):
    """Update writes only the fields it is sent, in one UPDATE: a username set through
    one replica and a password set through the other, at the same moments, both stay."""
    a, b = replicas.apis
    name = "updates.example.com/team/app"
    a.create(name, "u-start", "p-start")
    rounds = 40
    start = threading.Barrier(2)

    def set_usernames():
        start.wait(30)
        for n in range(rounds):
            a.update(name, username=f"u{n}")

    def set_passwords():
        start.wait(30)
        for n in range(rounds):
            b.update(name, password=f"p{n}")

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(set_usernames), pool.submit(set_passwords)]:
            future.result(120)

    engine = create_engine(replicas.url)
    try:
        namespace_id = AccountStore(engine).namespace_id(replicas.user)
        stored = CredentialRows(engine).get(namespace_id, name)
    finally:
        engine.dispose()
    keyring = Keyring([replicas.secret])
    assert keyring.decrypt(stored.username) == f"u{rounds - 1}"
    assert keyring.decrypt(stored.password) == f"p{rounds - 1}"


def test_a_replica_with_other_keys_refuses_to_start(replicas, tmp_path):
    """Replicas share keys through EXTREPO_SECRET_KEYS: one started with another key
    (or with none, so with a key file of its own) would write what the others cannot
    read, so it refuses to start while the database holds credentials."""
    replicas.apis[0].create("keys.example.com/app", "u", "p")
    needed = key_id_of(replicas.secret)
    for env in ({"EXTREPO_SECRET_KEYS": Fernet.generate_key().decode()}, {}):
        refused = serve_refused(tmp_path, env=env, database_url=replicas.url)
        assert needed in refused
        assert "EXTREPO_SECRET_KEYS" in refused


def test_a_rolling_key_change_across_replicas_keeps_rows_under_one_key(replicas, tmp_path):
    """A replica restarted with the next key first writes under it; a replica not yet
    restarted cannot keep a field under that key, so a one-field update there is
    UNAVAILABLE (retry) rather than a row under two keys; both fields are fine."""
    newer = Fernet.generate_key().decode()
    name = "rolling.example.com/app"
    ahead = LiveServer(
        tmp_path,
        database_url=replicas.url,
        env={"EXTREPO_SECRET_KEYS": f"{newer},{replicas.secret}"},
    )
    with ahead:
        with grpc.insecure_channel(ahead.address) as channel:
            GrpcApi(channel, replicas.auth).create(name, "u-new", "p-new")
        behind = replicas.apis[0]
        with pytest.raises(ApiError) as refused:
            behind.update(name, password="p-behind")
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        assert "send both username and password" in refused.value.message
        behind.update(name, username="u-behind", password="p-behind")

    engine = create_engine(replicas.url)
    try:
        namespace_id = AccountStore(engine).namespace_id(replicas.user)
        stored = CredentialRows(engine).get(namespace_id, name)
    finally:
        engine.dispose()
    assert stored.key_id == key_id_of(replicas.secret)
    keyring = Keyring([replicas.secret])
    assert (keyring.decrypt(stored.username), keyring.decrypt(stored.password)) == (
        "u-behind",
        "p-behind",
    )
