"""Every example request of the original page, as written there but for the host and
with real credentials, gets the original's answer shape.

The page (shared/reference/docker-cloud-repository-api.html) shows each request with
`Accept: application/json`, paths ending in `/`, and the names
`registry.local/user1/image1`; its example object has exactly the keys `in_use`,
`name`, `registry` and `resource_uri`.
"""

from __future__ import annotations

ORIGINAL_KEYS = {"in_use", "name", "registry", "resource_uri"}
NAME = "registry.local/user1/image1"


def assert_repository(body: dict, user: str, name: str = NAME) -> None:
    assert body.keys() >= ORIGINAL_KEYS
    assert not {"username", "password"} & body.keys(), "credentials are write-only"
    assert body["name"] == name
    assert body["in_use"] is False
    host = name.split("/", 1)[0]
    assert body["registry"] == f"/api/repo/v1/{user}/registry/{host}/"
    assert body["resource_uri"] == f"/api/repo/v1/{user}/repository/{name}/"


def test_the_original_pages_requests_in_order(http, user):
    headers = {"Accept": "application/json"}

    # List all external repositories: an empty envelope first.
    r = http.get("/api/repo/v1/repository/", headers=headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "meta": {"limit": 25, "next": None, "offset": 0, "previous": None, "total_count": 0},
        "objects": [],
    }

    # Add a new external repository: the page's body byte for byte.
    r = http.post(
        "/api/repo/v1/repository/",
        headers={**headers, "Content-Type": "application/json"},
        content=b'{"name": "registry.local/user1/image1", "username": "username", '
        b'"password": "password"}',
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert_repository(created, user.name)
    assert r.headers["location"] == created["resource_uri"]

    # Get an external repository details.
    r = http.get("/api/repo/v1/repository/registry.local/user1/image1/", headers=headers)
    assert r.status_code == 200
    assert_repository(r.json(), user.name)
    assert r.json()["create_time"] == created["create_time"]

    # The SDKs follow resource_uri to reach what they created.
    r = http.get(created["resource_uri"], headers=headers)
    assert r.status_code == 200
    assert r.json()["name"] == NAME

    # Update credentials of an external repository.
    r = http.patch(
        "/api/repo/v1/repository/registry.local/user1/image1/",
        headers={**headers, "Content-Type": "application/json"},
        content=b'{"username": "username", "password": "password"}',
    )
    assert r.status_code == 200, r.text
    assert_repository(r.json(), user.name)

    # List again: one object in the envelope.
    r = http.get("/api/repo/v1/repository/", headers=headers)
    body = r.json()
    assert body["meta"] == {
        "limit": 25,
        "next": None,
        "offset": 0,
        "previous": None,
        "total_count": 1,
    }
    assert len(body["objects"]) == 1
    assert_repository(body["objects"][0], user.name)
    assert body["objects"][0]["in_use"] is False  # shown even when false

    # Remove an external repository: 204, no body.
    r = http.delete("/api/repo/v1/repository/registry.local/user1/image1/", headers=headers)
    assert r.status_code == 204
    assert r.content == b""
    assert "content-type" not in r.headers

    r = http.get("/api/repo/v1/repository/registry.local/user1/image1/", headers=headers)
    assert r.status_code == 404


def test_list_filters_of_the_page(http, user):
    """The page's query parameters: `name` (image name) and `registry` (resource URI)."""
    for name in ("registry.local/user1/image1", "registry.local/user1/image2", "my.io/a/b"):
        r = http.post(
            "/api/repo/v1/repository/", json={"name": name, "username": "u", "password": "p"}
        )
        assert r.status_code == 201, r.text

    r = http.get("/api/repo/v1/repository/", params={"name": "registry.local/user1/image2"})
    assert [o["name"] for o in r.json()["objects"]] == ["registry.local/user1/image2"]
    assert r.json()["meta"]["total_count"] == 1

    registry_uri = f"/api/repo/v1/{user.name}/registry/registry.local/"
    r = http.get("/api/repo/v1/repository/", params={"registry": registry_uri})
    assert [o["name"] for o in r.json()["objects"]] == [
        "registry.local/user1/image1",
        "registry.local/user1/image2",
    ]
    # The registry filter matches what the objects carry in their `registry`.
    assert {o["registry"] for o in r.json()["objects"]} == {registry_uri}

    r = http.get("/api/repo/v1/repository/", params={"registry": "my.io"})
    assert [o["name"] for o in r.json()["objects"]] == ["my.io/a/b"]
