"""Secrets at rest: no plaintext credential or API key in the database, an owner-only key file."""

from __future__ import annotations

import stat

import pytest

from harness.live_server import LiveServer
from tests.support.api import grpc_api

PASSWORD = "plaintext-password-7f3a9c"
USERNAME = "plaintext-username-51b2e0"


def _database_bytes(server: LiveServer) -> bytes:
    files = sorted(server.data_dir.glob("extrepo.db*"))
    assert files, "the SQLite database file exists"
    return b"".join(path.read_bytes() for path in files)


def test_database_holds_no_plaintext_credentials_or_keys(own_server):
    key = own_server.create_user("carol")
    api = grpc_api(own_server, "carol", key)
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
