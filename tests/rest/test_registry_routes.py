"""The Registry resource's REST paths through the real gateway, beside RepositoryService's:
with and without the trailing slash and a namespace, a host with a port, and the
gateway's own 405 (with Allow) and 404 help, which name the registry paths too."""

from __future__ import annotations

import pytest


@pytest.fixture
def owned(http, user, server):
    """The user's client, with one repository on localhost:5000 in their own namespace
    and in an organization they own."""
    org = user.name + "org"
    server.create_org(org, user.name)
    for prefix in ("/api/repo/v1/repository/", f"/api/repo/v1/{org}/repository/"):
        r = http.post(
            prefix, json={"name": "localhost:5000/team/app", "username": "u", "password": "p"}
        )
        assert r.status_code == 201, r.text
    return http, org


@pytest.mark.parametrize("slash", ["/", ""])
def test_get_and_list_with_and_without_namespace(owned, user, slash):
    http, org = owned
    for ns, namespace in (("", user.name), (f"{org}/", org)):
        one = http.get(f"/api/repo/v1/{ns}registry/localhost:5000{slash}")
        assert one.status_code == 200, one.text
        assert (one.json()["host"], one.json()["port"]) == ("localhost:5000", 5000)
        assert one.json()["namespace"] == namespace
        listed = http.get(f"/api/repo/v1/{ns}registry{slash}")
        assert listed.status_code == 200, listed.text
        assert [r["host"] for r in listed.json()["objects"]] == ["localhost:5000"]
        assert listed.json()["objects"][0] == one.json()


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE", "PUT"])
def test_registries_are_read_only(owned, method):
    http, org = owned
    for path in (
        "/api/repo/v1/registry/",
        f"/api/repo/v1/{org}/registry/",
        "/api/repo/v1/registry/localhost:5000/",
        f"/api/repo/v1/{org}/registry/localhost:5000/",
    ):
        r = http.request(method, path, json={})
        assert r.status_code == 405, (path, r.text)
        assert r.headers["allow"] == "GET", path
        assert r.json()["error"]


def test_the_404_help_names_the_registry_paths(http):
    r = http.get("/api/repo/v1/nothing/here/at/all/")
    assert r.status_code == 404
    help_text = r.json()["error"]
    assert "/api/repo/v1/[namespace/]registry/, " in help_text
    assert "/api/repo/v1/[namespace/]registry/<host>/" in help_text


def test_an_unknown_registry_is_a_404_with_the_reason(http):
    r = http.get("/api/repo/v1/registry/localhost:5001/")
    assert r.status_code == 404
    assert "is not used by any repository" in r.json()["error"]
    bad = http.get("/api/repo/v1/registry/Not%20A%20Host/")
    assert bad.status_code == 400
    assert "not a valid registry host" in bad.json()["error"]
