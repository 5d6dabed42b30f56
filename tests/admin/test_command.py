"""The `extrepo-server admin` command: users, organizations, memberships, API keys,
and clear refusals of bad input."""

from __future__ import annotations

import re
import time

import grpc
import pytest

from harness.live_server import AdminError
from tests.conftest import unique_name
from tests.support.api import ApiError, grpc_api


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
    erin = grpc_api(own_server, "erin", key)
    erin.create("acme.example.com/app", "u", "p", namespace="acme")
    frank_key = own_server.admin("key", "create", "frank").strip()
    frank = grpc_api(own_server, "frank", frank_key)
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
