"""A server starts only with the keys its stored credentials need: a lost key file or
a wrong EXTREPO_SECRET_KEYS refuses the start and says how to recover, a new key is
made only for an empty database, and rows stored before key ids were recorded are
adopted at the first start. Real server processes, real files."""

from __future__ import annotations

import shutil

import sqlalchemy as sa
from extrepo_server.security.credentials import Keyring, key_id_of, new_key, write_key_file
from extrepo_server.storage.database import create_engine

from harness.live_server import LiveServer
from tests.support.api import grpc_api
from tests.support.keys import database_url, file_keys, opens, recorded_keys, serve_refused, stored


def test_a_fresh_empty_database_starts_and_creates_the_key_file(tmp_path):
    with LiveServer(tmp_path) as server:
        key_file = tmp_path / "secret.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        [key] = file_keys(server)
        assert recorded_keys(server) == {key_id_of(key)}, "its id, never the key, recorded"
        api = grpc_api(server, "ann", server.create_user("ann"))
        api.create("fresh.example.com/app", "u", "p")
        row = stored(server)["fresh.example.com/app"]
        assert row.credentials.key_id == key_id_of(key)
        assert opens(key, row) == ("u", "p")


def test_a_lost_key_file_refuses_the_start_until_it_is_restored(own_server, tmp_path):
    api = grpc_api(own_server, "bob", own_server.create_user("bob"))
    api.create("lost.example.com/app", "puller", "s3cret")
    own_server.stop()
    key_file = own_server.data_dir / "secret.key"
    [key] = file_keys(own_server)
    shutil.move(key_file, tmp_path / "backup.key")

    refused = serve_refused(own_server.data_dir)
    assert f"the key file {key_file} is missing" in refused
    assert "1 repositories' credentials" in refused and key_id_of(key) in refused
    assert f"restore the key file (from a backup) to {key_file}" in refused
    assert "or set EXTREPO_SECRET_KEYS" in refused
    assert not key_file.exists(), "no new key made for a database with credentials"
    # Administration that needs no key still works meanwhile.
    assert "bob\tuser\t1 repositories" in own_server.admin("user", "list")

    shutil.move(tmp_path / "backup.key", key_file)
    own_server.start()
    assert own_server.admin_api.stored_credentials("bob", "lost.example.com/app") == (
        "puller",
        "s3cret",
    )


def test_a_lost_key_file_is_recovered_through_the_environment(own_server):
    api = grpc_api(own_server, "cid", own_server.create_user("cid"))
    api.create("env.example.com/app", "u", "p")
    own_server.stop()
    [key] = file_keys(own_server)
    (own_server.data_dir / "secret.key").unlink()
    with LiveServer(own_server.data_dir, env={"EXTREPO_SECRET_KEYS": key}) as server:
        api = grpc_api(server, "cid", server.admin("key", "create", "cid").strip())
        api.update("env.example.com/app", password="p2")
        assert opens(key, stored(server)["env.example.com/app"]) == ("u", "p2")
    assert not (own_server.data_dir / "secret.key").exists()


def test_a_wrong_key_refuses_the_start(own_server):
    api = grpc_api(own_server, "dan", own_server.create_user("dan"))
    for n in range(3):
        api.create(f"wrong.example.com/app{n}", "u", "p")
    own_server.stop()
    [key] = file_keys(own_server)
    wrong = new_key()

    refused = serve_refused(own_server.data_dir, env={"EXTREPO_SECRET_KEYS": wrong})
    assert "stored credentials need encryption keys that EXTREPO_SECRET_KEYS does not hold" in (
        refused
    )
    assert f"{key_id_of(key)} (3 repositories)" in refused
    assert "add the missing keys to EXTREPO_SECRET_KEYS" in refused
    assert "or restore the key file" in refused
    assert recorded_keys(own_server) == {key_id_of(key)}, "the wrong key was not recorded"

    # The same through a key file that holds another key.
    write_key_file(own_server.data_dir / "secret.key", [wrong])
    refused = serve_refused(own_server.data_dir)
    assert f"that the key file {own_server.data_dir / 'secret.key'} does not hold" in refused
    assert "restore the key file (from a backup)" in refused

    # A keyring that holds the needed key among others is fine, the new one first.
    write_key_file(own_server.data_dir / "secret.key", [wrong, key])
    own_server.start()
    api = grpc_api(own_server, "dan", own_server.create_key("dan"))
    api.update("wrong.example.com/app0", password="p2")
    assert opens(wrong, stored(own_server)["wrong.example.com/app0"]) == ("u", "p2")


def _forget_key_ids(server: LiveServer) -> None:
    """Make the database look as it did before key ids were recorded (migration 0002)."""
    engine = create_engine(database_url(server))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE repository SET key_id = NULL"))
            connection.execute(sa.text("DELETE FROM credential_key"))
    finally:
        engine.dispose()


def test_rows_stored_before_key_ids_are_adopted_at_start(own_server):
    api = grpc_api(own_server, "eve", own_server.create_user("eve"))
    for n in range(3):
        api.create(f"old.example.com/app{n}", f"u{n}", f"p{n}")
    own_server.stop()
    _forget_key_ids(own_server)
    [key] = file_keys(own_server)

    own_server.start()
    rows = stored(own_server)
    assert {r.credentials.key_id for r in rows.values()} == {key_id_of(key)}
    assert recorded_keys(own_server) == {key_id_of(key)}
    assert opens(key, rows["old.example.com/app1"]) == ("u1", "p1")


def test_a_row_an_older_server_left_under_two_keys_needs_both_to_start(own_server):
    """What an older version did after losing its key file: it made a new key, and a
    password-only update left the row's username under the lost key. Such a row is
    refused at start until the lost key is back; then both fields end under one key."""
    api = grpc_api(own_server, "fay", own_server.create_user("fay"))
    api.create("split.example.com/app", "old-user", "old-pass")
    api.create("split.example.com/fine", "u", "p")
    own_server.stop()
    [lost] = file_keys(own_server)
    replacement = new_key()
    # The older server's new key, and the password it encrypted with it.
    write_key_file(own_server.data_dir / "secret.key", [replacement])
    engine = create_engine(database_url(own_server))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE repository SET password_encrypted = :p WHERE name = :n"),
                {"p": Keyring([replacement]).encrypt("new-pass"), "n": "split.example.com/app"},
            )
    finally:
        engine.dispose()
    _forget_key_ids(own_server)

    refused = serve_refused(own_server.data_dir)
    assert "2 repositories' credentials (stored before key ids were recorded) open with no key" in (
        refused
    )
    assert "fay/split.example.com/app" in refused and "restore the key file" in refused

    write_key_file(own_server.data_dir / "secret.key", [replacement, lost])
    own_server.start()
    rows = stored(own_server)
    assert opens(replacement, rows["split.example.com/app"]) == ("old-user", "new-pass")
    assert rows["split.example.com/app"].credentials.key_id == key_id_of(replacement)
    assert rows["split.example.com/fine"].credentials.key_id == key_id_of(lost), "as it was"
