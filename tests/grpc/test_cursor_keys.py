"""List cursors between replicas and across key rotations.

Cursors are signed under keys derived from the credential keys, which replicas
share: a cursor one replica issued is good at another, still good after a new key
is put first, and refused ("drop the cursor") once the key it was signed with is
dropped. Two real server processes on one SQLite database, keys given as
EXTREPO_SECRET_KEYS as replicas are configured.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from cryptography.fernet import Fernet

from harness.live_server import LiveServer
from tests.support.api import ApiError, grpc_api

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _replica(tmp_path, name: str, database_url: str, keys: list[str]) -> LiveServer:
    return LiveServer(
        tmp_path / name, database_url=database_url, env={"EXTREPO_SECRET_KEYS": ",".join(keys)}
    )


def _next(page: dict) -> dict:
    query = parse_qs(urlsplit(page["meta"]["next"]).query)
    return {"offset": int(query["offset"][0]), "cursor": query["cursor"][0], "limit": 1}


def test_replicas_share_cursors_until_the_signing_key_is_dropped(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    with _replica(tmp_path, "a", database_url, [OLD]) as first:
        key = first.create_user("walker")
        api_first = grpc_api(first, "walker", key)
        for i in range(3):
            api_first.create(f"reg.io/app{i}", "u", "p")
        old_cursor = _next(api_first.list(limit=1))

        second = _replica(tmp_path, "b", database_url, [OLD])
        with second:
            page = grpc_api(second, "walker", key).list(**old_cursor)
            assert [o["name"] for o in page["objects"]] == ["reg.io/app1"]

        # A new key first: the old key's cursors still work, new ones are signed anew.
        second = _replica(tmp_path, "b", database_url, [NEW, OLD])
        with second:
            api_second = grpc_api(second, "walker", key)
            assert api_second.list(**old_cursor)["objects"][0]["name"] == "reg.io/app1"
            new_cursor = _next(api_second.list(limit=1))
            assert new_cursor["cursor"] != old_cursor["cursor"]
            assert api_second.list(**new_cursor)["objects"][0]["name"] == "reg.io/app1"
            # Before the old key can go, the credentials stored under it move to the
            # new one (a server refuses to start without a key the rows need).
            second.admin("secrets", "reencrypt")

        # The old key dropped: its cursors are refused with a way out.
        second = _replica(tmp_path, "b", database_url, [NEW])
        with second:
            api_second = grpc_api(second, "walker", key)
            with pytest.raises(ApiError) as caught:
                api_second.list(**old_cursor)
            assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
            assert caught.value.fields == {"cursor"}
            assert "drop the cursor" in caught.value.message
            assert api_second.list(**new_cursor)["objects"][0]["name"] == "reg.io/app1"
