"""The original paths, every spelling: with and without a namespace, with and without
the trailing slash, names of one or several segments, names with a registry port, and
names whose slashes are percent-encoded."""

from __future__ import annotations

from urllib.parse import quote

import pytest

NAMES = [
    "my.registry.com/myrepo",
    "registry.local/user1/image1",
    "localhost:5000/team/app",
    "reg.example.io:8443/a/b/c/d",
]


def path(namespace: str, name: str | None, *, slash: bool, encode: bool = False) -> str:
    ns = f"{namespace}/" if namespace else ""
    p = f"/api/repo/v1/{ns}repository"
    if name is not None:
        p += "/" + (quote(name, safe=":") if encode else name)
    return p + ("/" if slash else "")


@pytest.fixture(params=["own", "namespaced"])
def namespace(request, user, new_user, server) -> str:
    """'' (the caller's own namespace) or an organization the caller owns."""
    if request.param == "own":
        return ""
    org = new_user("org").name + "org"
    server.create_org(org, user.name)
    return org


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "noslash"])
@pytest.mark.parametrize("name", NAMES)
def test_full_cycle_on_every_spelling(http, user, namespace, name, slash):
    owner = namespace or user.name
    r = http.post(
        path(namespace, None, slash=slash), json={"name": name, "username": "u", "password": "p"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["resource_uri"] == f"/api/repo/v1/{owner}/repository/{name}/"

    for encode in (False, True):
        r = http.get(path(namespace, name, slash=slash, encode=encode))
        assert r.status_code == 200, (encode, r.text)
        assert r.json()["name"] == name

    r = http.patch(path(namespace, name, slash=slash, encode=True), json={"password": "p2"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name

    r = http.get(path(namespace, None, slash=slash))
    assert [o["name"] for o in r.json()["objects"]] == [name]

    r = http.delete(path(namespace, name, slash=slash))
    assert r.status_code == 204
    r = http.get(path(namespace, name, slash=slash))
    assert r.status_code == 404
    assert name in r.json()["error"]


def test_path_name_wins_over_body_name(http):
    http.post("/api/repo/v1/repository/", json={"name": "a.io/x", "username": "u", "password": "p"})
    r = http.patch("/api/repo/v1/repository/a.io/x/", json={"name": "b.io/y", "username": "u2"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "a.io/x"


def test_two_trailing_slashes_are_not_one(http):
    """Only one trailing slash is stripped: `//` leaves an empty name segment."""
    http.post("/api/repo/v1/repository/", json={"name": "a.io/x", "username": "u", "password": "p"})
    r = http.get("/api/repo/v1/repository/a.io/x//")
    assert r.status_code in (400, 404), r.text
