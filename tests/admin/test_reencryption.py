"""Key rotation in the hard cases: a row is never left under two keys, a row no key
opens is reported while the others are re-encrypted, and a server still encrypting
with a key that `secrets prune` retired cannot write. Real server processes and the
real admin command."""

from __future__ import annotations

import grpc
import pytest
from extrepo_server.security.credentials import key_id_of, new_key, write_key_file

from harness.live_server import AdminError, LiveServer
from tests.support.api import ApiError, grpc_api
from tests.support.keys import file_keys, opens, recorded_keys, serve_refused, stored


def test_a_password_only_update_after_rotation_leaves_the_row_under_one_key(own_server):
    key = own_server.create_user("gus")
    api = grpc_api(own_server, "gus", key)
    [old] = file_keys(own_server)
    own_server.admin("secrets", "rotate")
    # The running server still encrypts with the old key.
    api.create("one.example.com/app", "the-user", "the-pass")
    assert stored(own_server)["one.example.com/app"].credentials.key_id == key_id_of(old)

    own_server.stop()
    own_server.start()  # now with the new key first
    new = file_keys(own_server)[0]
    api = grpc_api(own_server, "gus", key)
    api.update("one.example.com/app", password="new-pass")
    row = stored(own_server)["one.example.com/app"]
    assert row.credentials.key_id == key_id_of(new)
    assert opens(new, row) == ("the-user", "new-pass"), "the username moved to the new key too"
    assert opens(old, row) is None
    # So nothing needs the old key any more: prune needs no re-encryption first.
    own_server.admin("secrets", "prune")
    assert file_keys(own_server) == [new]


def test_rotate_and_reencrypt_report_a_row_no_key_opens_and_do_the_others(own_server):
    key = own_server.create_user("hal")
    api = grpc_api(own_server, "hal", key)
    names = [f"many.example.com/app{n}" for n in range(3)]
    for name in names:
        api.create(name, f"user-{name}", f"pass-{name}")
    own_server.stop()
    [first] = file_keys(own_server)
    # A server that had another key first (a replica's EXTREPO_SECRET_KEYS) writes a row.
    other = new_key()
    with LiveServer(own_server.data_dir, env={"EXTREPO_SECRET_KEYS": f"{other},{first}"}) as b:
        grpc_api(b, "hal", key).create("many.example.com/odd", "odd-user", "odd-pass")
    assert f"{key_id_of(other)} (1 repositories)" in serve_refused(own_server.data_dir)

    with pytest.raises(AdminError) as rotated:
        own_server.admin("secrets", "rotate")
    assert rotated.value.code == 1
    assert (
        f"cannot re-encrypt hal/many.example.com/odd (recorded key id {key_id_of(other)}): "
        "no configured key opens its credentials" in rotated.value.stderr
    )
    assert "re-encrypted 3 repositories' credentials" in rotated.value.stderr
    second, kept = file_keys(own_server)
    assert kept == first, "the old key stays in the key file"
    rows = stored(own_server)
    for name in names:
        assert rows[name].credentials.key_id == key_id_of(second)
        assert opens(second, rows[name]) == (f"user-{name}", f"pass-{name}")
    assert opens(other, rows["many.example.com/odd"]) == ("odd-user", "odd-pass"), "untouched"

    with pytest.raises(AdminError) as again:
        own_server.admin("secrets", "reencrypt")
    assert "cannot re-encrypt hal/many.example.com/odd" in again.value.stderr
    assert "re-encrypted 0 repositories' credentials" in again.value.stderr
    with pytest.raises(AdminError, match=f"1 under {key_id_of(other)}"):
        own_server.admin("secrets", "prune")
    assert file_keys(own_server) == [second, first], "a refused prune changes no file"

    # With the missing key added, the last row is re-encrypted, and old keys can go.
    write_key_file(own_server.data_dir / "secret.key", [second, first, other])
    own_server.admin("secrets", "reencrypt")
    assert opens(second, stored(own_server)["many.example.com/odd"]) == ("odd-user", "odd-pass")
    own_server.admin("secrets", "prune")
    assert file_keys(own_server) == [second]
    assert recorded_keys(own_server) == {key_id_of(second)}
    own_server.start()
    assert grpc_api(own_server, "hal", key).get(names[0])["name"] == names[0]


def test_a_server_whose_key_was_retired_cannot_write(own_server):
    key = own_server.create_user("ida")
    api = grpc_api(own_server, "ida", key)
    api.create("retired.example.com/app", "u", "p")
    [old] = file_keys(own_server)
    own_server.admin("secrets", "rotate")
    own_server.admin("secrets", "prune")  # nothing was written meanwhile: allowed
    assert key_id_of(old) not in recorded_keys(own_server)

    # The server still runs with the old key first: its writes are refused, not stored
    # under a key no key file holds any more.
    for write, says in (
        (lambda: api.create("retired.example.com/new", "u", "p"), "encryption key was retired"),
        (
            lambda: api.update("retired.example.com/app", username="u2", password="p2"),
            "encryption key was retired",
        ),
        # The row is under the new key, which this server does not have yet.
        (lambda: api.update("retired.example.com/app", password="p3"), "with a newer key"),
    ):
        with pytest.raises(ApiError) as refused:
            write()
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        assert says in refused.value.message
    assert set(stored(own_server)) == {"retired.example.com/app"}
    assert own_server.wait_for_log(
        lambda e: e.get("logger") == "extrepo.keys" and e.get("key_id") == key_id_of(old)
    )

    own_server.stop()
    own_server.start()
    api = grpc_api(own_server, "ida", key)
    api.create("retired.example.com/new", "u", "p")
    assert opens(file_keys(own_server)[0], stored(own_server)["retired.example.com/new"])
