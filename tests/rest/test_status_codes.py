"""HTTP status codes and error bodies: 201, 204, 400, 401, 403, 404, 405, 409."""

from __future__ import annotations

import base64

import pytest

REPO = {"name": "registry.local/user1/image1", "username": "u", "password": "p"}
ITEM = "/api/repo/v1/repository/registry.local/user1/image1/"


def assert_error_body(r, grpc_code: int) -> dict:
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert isinstance(body["error"], str) and body["error"], body
    assert body["code"] == grpc_code
    assert isinstance(body["message"], str)
    assert isinstance(body["details"], list)
    return body


def test_201_created_with_location(http):
    r = http.post("/api/repo/v1/repository/", json=REPO)
    assert r.status_code == 201
    assert r.headers["location"] == r.json()["resource_uri"]


def test_204_no_content(http):
    http.post("/api/repo/v1/repository/", json=REPO)
    r = http.delete(ITEM)
    assert r.status_code == 204
    assert r.content == b""


def test_400_names_the_wrong_fields(http):
    r = http.post("/api/repo/v1/repository/", json={"name": "no-host", "username": "u"})
    assert r.status_code == 400
    body = assert_error_body(r, 3)
    [bad_request] = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    fields = {v["field"] for v in bad_request["field_violations"]}
    assert fields == {"name", "password"}
    # The `error` message says what to fix, field by field.
    assert "name" in body["error"] and "password" in body["error"]


def test_400_for_a_body_that_is_not_json(http):
    r = http.post(
        "/api/repo/v1/repository/", content=b"name=x", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert_error_body(r, 3)


def test_400_for_an_update_without_credentials(http):
    http.post("/api/repo/v1/repository/", json=REPO)
    r = http.patch(ITEM, json={})
    assert r.status_code == 400
    assert_error_body(r, 3)


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic " + base64.b64encode(b"nobody:ek_wrong").decode(), "Bearer token", "Basic !!"],
    ids=["missing", "wrong-key", "other-scheme", "garbage"],
)
def test_401_asks_for_basic_auth(http_as, authorization, gateway_url):
    client = http_as(None)
    headers = {"Authorization": authorization} if authorization else {}
    r = client.get("/api/repo/v1/repository/", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Basic realm="extrepo"'
    body = assert_error_body(r, 16)
    assert "Basic" in body["error"]


def test_authorization_reaches_the_server_unchanged(http_as, user, new_user):
    """The same user's other key works; a key of another user does not pass as this one."""
    other = new_user("other")
    token = base64.b64encode(f"{user.name}:{other.api_key}".encode()).decode()
    r = http_as(None).get("/api/repo/v1/repository/", headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 401
    r = http_as(user).get("/api/repo/v1/repository/")
    assert r.status_code == 200


def test_403_for_a_namespace_of_someone_else(http, new_user, http_as):
    owner = new_user("owner")
    http_as(owner).post("/api/repo/v1/repository/", json=REPO)
    r = http.get(f"/api/repo/v1/{owner.name}/repository/")
    assert r.status_code == 403
    assert_error_body(r, 7)
    r = http.get(f"/api/repo/v1/{owner.name}/repository/registry.local/user1/image1/")
    assert r.status_code == 403


def test_404_for_an_unknown_repository(http):
    r = http.get(ITEM)
    assert r.status_code == 404
    body = assert_error_body(r, 5)
    assert "registry.local/user1/image1" in body["error"]


def test_404_for_a_path_outside_the_api(http):
    r = http.get("/api/repo/v1/action/")
    assert r.status_code == 404
    body = assert_error_body(r, 5)
    assert "/api/repo/v1/" in body["error"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", ITEM, "DELETE, GET, PATCH"),
        ("POST", ITEM, "DELETE, GET, PATCH"),
        ("PATCH", "/api/repo/v1/repository/", "GET, POST"),
        ("DELETE", "/api/repo/v1/repository/", "GET, POST"),
        ("PUT", "/api/repo/v1/someorg/repository", "GET, POST"),
    ],
)
def test_405_for_a_wrong_method(http, method, path, allow):
    r = http.request(method, path, json={})
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    body = assert_error_body(r, 12)
    assert method in body["error"]


def test_409_for_a_duplicate(http):
    assert http.post("/api/repo/v1/repository/", json=REPO).status_code == 201
    r = http.post("/api/repo/v1/repository/", json=REPO)
    assert r.status_code == 409
    body = assert_error_body(r, 6)
    assert "registry.local/user1/image1" in body["error"]
