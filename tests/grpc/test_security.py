"""Secrets at rest and the admin command: encryption, key rotation, API key lifecycle."""

from __future__ import annotations

import re
import stat
import time

import grpc
import pytest

from harness.live_server import AdminError, LiveServer
from tests.conftest import unique_name
from tests.support.api import ApiError, GrpcApi, basic_authorization

PASSWORD = "plaintext-password-7f3a9c"
USERNAME = "plaintext-username-51b2e0"


def _database_bytes(server: LiveServer) -> bytes:
    files = sorted(server.data_dir.glob("extrepo.db*"))
    assert files, "the SQLite database file exists"
    return b"".join(path.read_bytes() for path in files)


@pytest.fixture
def own_server(tmp_path):
    server = LiveServer(tmp_path, env={"EXTREPO_AUTH_CACHE_SECONDS": "0.2"})
    with server:
        yield server


def _api(server: LiveServer, user: str, key: str) -> GrpcApi:
    channel = grpc.insecure_channel(server.address)
    return GrpcApi(channel, basic_authorization(user, key))


def test_database_holds_no_plaintext_credentials_or_keys(own_server):
    key = own_server.create_user("carol")
    api = _api(own_server, "carol", key)
    api.create("secret.example.com/app", USERNAME, PASSWORD)
    api.update("secret.example.com/app", password=PASSWORD + "-new")

    stored = _database_bytes(own_server)
    for secret in (PASSWORD, PASSWORD + "-new", USERNAME, key, key.rsplit("_", 1)[1]):
        assert secret.encode() not in stored
    assert b"secret.example.com/app" in stored  # the file is the right one
    assert own_server.admin_api.stored_credentials("carol", "secret.example.com/app") == (
        USERNAME,
        PASSWORD + "-new",
    )


def test_key_file_is_created_owner_only(own_server):
    key_file = own_server.data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_server_refuses_a_key_file_others_can_read(tmp_path):
    server = LiveServer(tmp_path)
    key_file = tmp_path / "secret.key"
    with server:
        pass
    key_file.chmod(0o644)
    with pytest.raises(RuntimeError, match="chmod 600"):
        server.start()


def test_rotating_the_encryption_key_loses_nothing(own_server):
    key = own_server.create_user("dave")
    api = _api(own_server, "dave", key)
    names = [f"rotate.example.com/app{i}" for i in range(5)]
    for i, name in enumerate(names):
        api.create(name, f"user{i}", f"pass{i}")
    old_key_file = (own_server.data_dir / "secret.key").read_text()

    own_server.admin("secrets", "rotate")
    # The running server still has the old keyring: what it writes now needs the old key,
    # so pruning must refuse until those are re-encrypted.
    api.create("rotate.example.com/late", "late-user", "late-pass")
    with pytest.raises(AdminError, match="old key"):
        own_server.admin("secrets", "prune")

    own_server.stop()
    own_server.start()
    own_server.admin("secrets", "reencrypt")
    own_server.admin("secrets", "prune")
    keys = [
        k for k in (own_server.data_dir / "secret.key").read_text().splitlines() if k[:1] != "#"
    ]
    assert len(keys) == 1 and keys[0] not in old_key_file

    own_server.stop()
    own_server.start()
    api = _api(own_server, "dave", key)
    own_server._admin = None  # reload the keyring from the pruned key file
    for i, name in enumerate(names):
        assert own_server.admin_api.stored_credentials("dave", name) == (f"user{i}", f"pass{i}")
    assert own_server.admin_api.stored_credentials("dave", "rotate.example.com/late") == (
        "late-user",
        "late-pass",
    )
    assert api.update(names[0], password="after-rotation")["name"] == names[0]
    assert own_server.admin_api.stored_credentials("dave", names[0])[1] == "after-rotation"


def test_admin_command_manages_users_orgs_and_keys(own_server):
    assert own_server.admin("user", "create", "erin") == ""
    key = own_server.admin("key", "create", "erin", "--label", "laptop").strip()
    assert re.fullmatch(r"ek_[0-9a-f]{16}_[0-9a-f]{64}", key), "stdout is the key alone"
    key_id = key.split("_")[1]
    listing = own_server.admin("key", "list", "erin")
    assert key_id in listing and "active" in listing and key not in listing

    own_server.admin("user", "create", "frank")
    own_server.admin("org", "create", "acme", "--owner", "erin")
    own_server.admin("org", "add-member", "acme", "frank")
    erin = _api(own_server, "erin", key)
    erin.create("acme.example.com/app", "u", "p", namespace="acme")
    frank_key = own_server.admin("key", "create", "frank").strip()
    frank = _api(own_server, "frank", frank_key)
    assert frank.get("acme.example.com/app", namespace="acme")["namespace"] == "acme"

    own_server.admin("key", "revoke", key_id)
    assert "revoked" in own_server.admin("key", "list", "erin")
    time.sleep(0.3)  # the server's auth cache lasts 0.2 s here
    with pytest.raises(ApiError) as caught:
        erin.list()
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "create", "Bad Name"), "not a valid namespace"),
        (("user", "create", "repository"), "reserved"),
        (("key", "create", "nobody"), "no user named 'nobody'"),
        (("org", "create", "org1", "--owner", "nobody"), "no user named 'nobody'"),
        (("key", "revoke", "0000"), "no active API key"),
    ],
)
def test_admin_command_refuses_bad_input_clearly(server, args, message):
    with pytest.raises(AdminError) as caught:
        server.admin(*args)
    assert caught.value.code == 1
    assert message in caught.value.stderr
    assert "Traceback" not in caught.value.stderr


def test_admin_command_refuses_a_taken_name(server):
    name = unique_name("gina")
    server.admin("user", "create", name)
    with pytest.raises(AdminError, match="already taken"):
        server.admin("org", "create", name, "--owner", name)
