"""Rotating the credential encryption key with the admin command: nothing is lost,
not even what a server still running with the old keyring writes meanwhile."""

from __future__ import annotations

import pytest

from harness.live_server import AdminError
from tests.support.api import grpc_api


def test_rotating_the_encryption_key_loses_nothing(own_server):
    key = own_server.create_user("dave")
    api = grpc_api(own_server, "dave", key)
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
    api = grpc_api(own_server, "dave", key)
    own_server._admin = None  # reload the keyring from the pruned key file
    for i, name in enumerate(names):
        assert own_server.admin_api.stored_credentials("dave", name) == (f"user{i}", f"pass{i}")
    assert own_server.admin_api.stored_credentials("dave", "rotate.example.com/late") == (
        "late-user",
        "late-pass",
    )
    assert api.update(names[0], password="after-rotation")["name"] == names[0]
    assert own_server.admin_api.stored_credentials("dave", names[0])[1] == "after-rotation"
