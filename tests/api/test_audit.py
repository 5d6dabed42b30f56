"""The audit log (ActionService) over gRPC and REST: every write answers with its
entry's URI, the entry says who did what to which object with which outcome and holds
no secret, failed attempts are recorded too, the log pages and filters in the original
envelope, only owners read it, and an entry is written in its change's transaction."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import sqlalchemy as sa

from tests.api.test_repositories import expect_error
from tests.conftest import unique_name

DENIED = grpc.StatusCode.PERMISSION_DENIED
PASSWORD = "s3cret-pass-Audit"
USERNAME = "registry-user-audit"


def _uuid(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _entry(api, uri: str, namespace: str = "") -> dict:
    assert uri.startswith("/api/audit/v1/") and uri.endswith("/"), uri
    return api.action(_uuid(uri), namespace=uri.split("/")[4] if uri.count("/") == 7 else "")


def _key_id(api_key: str) -> str:
    return api_key.split("_")[1]


def test_every_write_answers_with_its_entry(new_user, connect):
    user = new_user("auditor")
    api = connect(user)
    name = f"reg.example.com/{unique_name('app')}"
    before = datetime.now(UTC) - timedelta(seconds=5)

    created = api.create(name, USERNAME, PASSWORD)
    create_uri = api.last_action_uri
    api.update(name, password=PASSWORD + "2")
    update_uri = api.last_action_uri
    api.delete(name)
    delete_uri = api.last_action_uri
    assert len({create_uri, update_uri, delete_uri}) == 3

    entries = [_entry(api, uri) for uri in (create_uri, update_uri, delete_uri)]
    assert [e["action"] for e in entries] == [
        "Repository Create",
        "Repository Update",
        "Repository Delete",
    ]
    assert [e["method"] for e in entries] == ["POST", "PATCH", "DELETE"]
    assert [e["rpc"].rsplit("/", 1)[-1] for e in entries] == ["Create", "Update", "Delete"]
    for entry, uri in zip(entries, (create_uri, update_uri, delete_uri), strict=True):
        assert entry["resource_uri"] == uri
        assert entry["object"] == created["resource_uri"]
        assert (entry["state"], entry["code"]) == ("Success", "OK")
        assert entry["actor"] == user.name and entry["is_user_action"] is True
        assert entry["actor_key_id"] == _key_id(user.api_key)
        assert entry["namespace"] == user.name
        assert entry["request_id"] and entry["ip"] and entry["user_agent"]
        start = datetime.fromisoformat(entry["start_date"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(entry["end_date"].replace("Z", "+00:00"))
        assert before <= start <= end <= datetime.now(UTC) + timedelta(seconds=5)
    assert entries[1]["fields"] == ["password"]
    assert entries[0]["fields"] == [] and entries[2]["fields"] == []
    everything = json.dumps(entries)
    assert PASSWORD not in everything and USERNAME not in everything
    assert user.api_key.split("_")[2] not in everything


def test_a_failed_write_is_recorded_with_its_code(alice):
    name = f"reg.example.com/{unique_name('dup')}"
    alice.create(name, USERNAME, PASSWORD)
    expect_error(grpc.StatusCode.ALREADY_EXISTS, alice.create, name, USERNAME, PASSWORD)
    failed = _entry(alice, alice.last_action_uri)
    assert (failed["action"], failed["state"], failed["code"]) == (
        "Repository Create",
        "Failed",
        "ALREADY_EXISTS",
    )
    expect_error(grpc.StatusCode.NOT_FOUND, alice.delete, name + "-none")
    missing = _entry(alice, alice.last_action_uri)
    assert (missing["action"], missing["code"]) == ("Repository Delete", "NOT_FOUND")
    assert missing["object"].endswith(f"/repository/{name}-none/")
    # What the caller sent is quoted, a NUL spelled out (PostgreSQL text holds none).
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.create, "reg.example.com/a\x00b", "u", "p")
    malformed = _entry(alice, alice.last_action_uri)
    assert malformed["code"] == "INVALID_ARGUMENT"
    assert malformed["object"].endswith("/repository/reg.example.com/a\\0b/")
    # Reads are not audited: no entry, no header.
    alice.get(name)
    assert alice.last_action_uri == ""


def test_the_log_lists_newest_first_with_filters_and_paging(alice):
    names = [f"reg.example.com/{unique_name('page')}" for _ in range(5)]
    for name in names:
        alice.create(name, USERNAME, PASSWORD)
    alice.delete(names[0])

    everything = alice.actions()
    # The user's account and key came first, made by the administration command.
    assert everything["meta"]["total_count"] == 8
    assert [a["action"] for a in everything["objects"]] == [
        "Repository Delete",
        *["Repository Create"] * 5,
        "Key Create",
        "User Create",
    ]
    assert [a["object"].split("/repository/")[1] for a in everything["objects"][1:6]] == [
        f"{n}/" for n in reversed(names)
    ]

    first = alice.actions(limit=4)
    assert len(first["objects"]) == 4 and first["meta"]["previous"] is None
    second = alice.follow_actions(first["meta"]["next"])
    assert second["meta"]["offset"] == 4 and second["meta"]["next"] is None
    assert first["objects"] + second["objects"] == everything["objects"]
    back = alice.follow_actions(second["meta"]["previous"])
    assert back["objects"] == first["objects"]

    deleted = everything["objects"][0]["object"]
    by_object = alice.actions(object=deleted)
    assert [a["action"] for a in by_object["objects"]] == [
        "Repository Delete",
        "Repository Create",
    ]
    assert alice.actions(action="Repository Delete")["meta"]["total_count"] == 1
    assert alice.actions(actor="someone-else")["meta"]["total_count"] == 0
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    earlier = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    assert alice.actions(since=later)["meta"]["total_count"] == 0
    assert alice.actions(since=earlier, until=later)["meta"]["total_count"] == 8
    # A filtered listing's next page keeps its filter.
    paged = alice.actions(action="Repository Create", limit=2)
    assert "action=Repository" in paged["meta"]["next"]
    rest = alice.follow_actions(paged["meta"]["next"])
    assert {a["action"] for a in rest["objects"]} == {"Repository Create"}


def test_owners_read_their_organization_log_and_members_do_not(server, new_user, connect):
    owner, member, stranger = new_user("owner"), new_user("member"), new_user("stranger")
    org = unique_name("auditorg")
    server.create_org(org, owner.name)
    server.add_member(org, member.name)
    as_owner, as_member, as_stranger = connect(owner), connect(member), connect(stranger)

    as_owner.create("reg.example.com/org/app", USERNAME, PASSWORD, namespace=org)
    # A member's refused write lands in the organization's log, for its owners.
    expect_error(DENIED, as_member.delete, "reg.example.com/org/app", org)
    refused_uri = as_member.last_action_uri
    assert refused_uri.startswith(f"/api/audit/v1/{org}/action/")

    log = as_owner.actions(namespace=org)
    assert [(a["action"], a["actor"], a["code"]) for a in log["objects"]][:2] == [
        ("Repository Delete", member.name, "PERMISSION_DENIED"),
        ("Repository Create", owner.name, "OK"),
    ]
    assert as_owner.action(_uuid(refused_uri), namespace=org)["state"] == "Failed"

    member_error = expect_error(DENIED, as_member.actions, org)
    assert "owners" in member_error.message
    expect_error(DENIED, as_member.action, _uuid(refused_uri), org)
    expect_error(DENIED, as_stranger.actions, org)
    # A stranger's attempt on the organization is the stranger's own business.
    expect_error(DENIED, as_stranger.delete, "reg.example.com/org/app", org)
    assert as_stranger.last_action_uri.startswith(f"/api/audit/v1/{stranger.name}/action/")
    assert as_owner.actions(namespace=org)["meta"]["total_count"] == log["meta"]["total_count"]
    # An entry is found only in its own namespace's log.
    expect_error(grpc.StatusCode.NOT_FOUND, as_owner.action, _uuid(refused_uri))


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 101}, "limit"),
        ({"object": "x" * 601}, "object"),
        ({"actor": "x" * 256}, "actor"),
        (
            {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "since",
        ),
        ({"cursor": "not-ours"}, "cursor"),
    ],
)
def test_bad_listing_requests_are_invalid_argument(alice, query, field):
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.actions, **query)
    assert field in error.fields


def test_an_entry_is_found_by_uuid_only(alice):
    error = expect_error(grpc.StatusCode.INVALID_ARGUMENT, alice.action, "not-a-uuid")
    assert "uuid" in error.fields
    expect_error(grpc.StatusCode.NOT_FOUND, alice.action, "0b5c3f62-5a0e-4d4e-9f39-3c1b6f0e2a11")


def _engine(server) -> sa.Engine:
    url = server.database_url or f"sqlite:///{server.data_dir / 'extrepo.db'}"
    return sa.create_engine(url)


_REFUSE_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_action "
        "WHEN NEW.object LIKE '%/refused-entry/%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN "
        "IF NEW.object LIKE '%/refused-entry/%' THEN RAISE EXCEPTION 'refused'; END IF; "
        "RETURN NEW; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_action "
        "FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
    ],
}


def test_no_change_without_its_entry(server, alice):
    """The database refuses one entry (a trigger): the change it records is rolled
    back with it, on SQLite and PostgreSQL alike."""
    kept = f"reg.example.com/{unique_name('kept')}"
    alice.create(kept, USERNAME, PASSWORD)
    refused = f"reg.example.com/refused-entry/{unique_name('app')}"
    engine = _engine(server)
    with engine.begin() as connection:
        for statement in _REFUSE_TRIGGER[engine.dialect.name]:
            connection.execute(sa.text(statement))
    try:
        expect_error(grpc.StatusCode.INTERNAL, alice.create, refused, USERNAME, PASSWORD)
        names = [r["name"] for r in alice.list()["objects"]]
        assert refused not in names and kept in names
        assert alice.list()["meta"]["total_count"] == 1  # the counter rolled back too
        expect_error(grpc.StatusCode.NOT_FOUND, alice.get, refused)
    finally:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "DROP TRIGGER refuse_audit"
                    + (" ON audit_action" if engine.dialect.name == "postgresql" else "")
                )
            )
        engine.dispose()
    alice.create(refused, USERNAME, PASSWORD)
    assert alice.get(refused)["name"] == refused


def test_the_administration_command_is_on_record(server, new_user, connect):
    owner, member = new_user("adminowner"), new_user("adminmember")
    org = unique_name("adminorg")
    server.create_org(org, owner.name)
    server.add_member(org, member.name, "member")
    server.add_member(org, member.name, "owner")
    server.admin("org", "remove-member", org, member.name)
    key = server.create_key(owner.name)
    server.admin("key", "revoke", _key_id(key))

    org_log = connect(owner).actions(namespace=org)["objects"]
    assert [(a["action"], a["detail"]) for a in org_log] == [
        ("Member Remove", ""),
        ("Member Add", "role=owner"),
        ("Member Add", "role=member"),
        ("Organization Create", f"owner={owner.name}"),
    ]
    assert {a["actor"].split(":")[0] for a in org_log} == {"admin"}
    assert {a["is_user_action"] for a in org_log} == {False}
    assert org_log[0]["object"] == f"/api/account/v1/organization/{org}/member/{member.name}/"

    own_log = connect(owner).actions()["objects"]
    assert [a["action"] for a in own_log] == [
        "Key Revoke",
        "Key Create",  # the key revoked
        "Key Create",  # the user's first key (new_user)
        "User Create",
    ]
    assert own_log[0]["object"] == f"/api/account/v1/user/{owner.name}/key/{_key_id(key)}/"
    assert key.split("_")[2] not in json.dumps(own_log)  # the key's secret never


LIMITS = {"EXTREPO_AUTH_FAILURES_PER_KEY": "3", "EXTREPO_AUTH_FAILURES_PER_CLIENT": "1000"}


def test_a_burst_of_failed_authentication_is_on_the_key_owner_record(tmp_path):
    from harness.live_server import LiveServer
    from tests.support.api import basic_authorization, grpc_api

    with LiveServer(tmp_path, env=LIMITS) as live:
        name = unique_name("guessed")
        key = live.create_user(name)
        prefix, key_id, secret = key.split("_")
        forged = f"{prefix}_{key_id}_{'0' * len(secret)}"
        guesser = grpc_api(live, name, forged)
        for _ in range(4):
            with pytest.raises(Exception):  # noqa: B017 - UNAUTHENTICATED, then throttled
                guesser.list()
        # The guessed key is refused for now, to its owner too: they read with another.
        owner = grpc_api(live, name, live.create_key(name))
        deadline = datetime.now(UTC) + timedelta(seconds=10)
        entries: list[dict] = []
        while datetime.now(UTC) < deadline and not entries:
            time.sleep(0.05)
            entries = owner.actions(action="Authentication Throttled")["objects"]
        assert len(entries) == 1, entries
        (entry,) = entries
        assert entry["object"] == f"/api/account/v1/user/{name}/key/{key_id}/"
        assert (entry["code"], entry["reason"], entry["actor"]) == (
            "RESOURCE_EXHAUSTED",
            "BY_KEY",
            "anonymous",
        )
        assert entry["detail"].startswith("client=") and entry["ip"]
        assert secret not in json.dumps(entry) and basic_authorization(name, forged) not in (
            live.log_text()
        )


def test_entries_older_than_the_retention_are_removed(tmp_path):
    from harness.live_server import LiveServer
    from tests.support.api import grpc_api

    # 0.00005 days is 4.3 s: pruned every 0.43 s.
    with LiveServer(tmp_path, env={"EXTREPO_AUDIT_RETENTION_DAYS": "0.00005"}) as live:
        name = unique_name("retained")
        api = grpc_api(live, name, live.create_user(name))
        api.create("reg.example.com/old/app", USERNAME, PASSWORD)
        assert api.actions()["meta"]["total_count"] == 3  # User, Key and Repository Create
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while datetime.now(UTC) < deadline and (
            api.actions()["meta"]["total_count"] or "audit log pruned" not in live.log_text()
        ):
            time.sleep(0.1)
        assert api.actions()["meta"]["total_count"] == 0
        assert api.get("reg.example.com/old/app")["name"]  # the change stays, its entry goes
        assert "audit log pruned" in live.log_text()


def test_rest_spells_the_header_as_the_original(gateway_url, new_user):
    """Header names are case-insensitive, but old clients may have matched the
    original's spelling byte for byte."""
    import http.client
    from urllib.parse import urlsplit

    from tests.support.api import basic_authorization

    user = new_user("spelling")
    where = urlsplit(gateway_url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    body = json.dumps({"name": "reg.example.com/spelled/app", "username": "u", "password": "p"})
    connection.request(
        "POST",
        "/api/repo/v1/repository/",
        body=body,
        headers={
            "Authorization": basic_authorization(user.name, user.api_key),
            "Content-Type": "application/json",
        },
    )
    response = connection.getresponse()
    assert response.status == 201
    names = [name for name, _ in response.getheaders()]
    assert "X-DockerCloud-Action-URI" in names, names
    connection.close()
