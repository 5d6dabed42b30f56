"""The list envelope pages through `next` and `previous`, which are /api/ paths or null."""

from __future__ import annotations

NAMES = [f"reg.io/team/app{i:02d}" for i in range(7)]


def create_all(http, names=NAMES, prefix="/api/repo/v1/repository/"):
    for name in names:
        r = http.post(prefix, json={"name": name, "username": "u", "password": "p"})
        assert r.status_code == 201, r.text


def test_next_walks_the_whole_listing_and_previous_walks_back(http):
    create_all(http)
    r = http.get("/api/repo/v1/repository/", params={"limit": 3})
    page = r.json()
    assert page["meta"]["previous"] is None
    pages = [page]
    while page["meta"]["next"] is not None:
        nxt = page["meta"]["next"]
        assert nxt.startswith("/api/")
        # The Go SDK strips the first five characters (`/api/`) and follows the rest.
        page = http.get("/api/" + nxt[5:]).json()
        pages.append(page)
        assert len(pages) < 10
    assert [[o["name"] for o in p["objects"]] for p in pages] == [
        NAMES[0:3],
        NAMES[3:6],
        NAMES[6:7],
    ]
    assert [p["meta"]["offset"] for p in pages] == [0, 3, 6]
    assert all(p["meta"]["total_count"] == 7 and p["meta"]["limit"] == 3 for p in pages)

    back = [pages[-1]]
    while back[-1]["meta"]["previous"] is not None:
        back.append(http.get(back[-1]["meta"]["previous"]).json())
        assert len(back) < 10
    assert [[o["name"] for o in p["objects"]] for p in back] == [
        NAMES[6:7],
        NAMES[3:6],
        NAMES[0:3],
    ]


def test_next_keeps_the_filters_and_the_namespace(http, user, server, new_user):
    org = new_user("pg").name + "org"
    server.create_org(org, user.name)
    create_all(http, prefix=f"/api/repo/v1/{org}/repository/")
    create_all(http, ["other.io/x/y"], prefix=f"/api/repo/v1/{org}/repository/")
    r = http.get(f"/api/repo/v1/{org}/repository/", params={"registry": "reg.io", "limit": 4})
    page = r.json()
    assert page["meta"]["total_count"] == 7
    nxt = page["meta"]["next"]
    assert nxt.startswith(f"/api/repo/v1/{org}/repository/")
    page2 = http.get(nxt).json()
    assert [o["name"] for o in page2["objects"]] == NAMES[4:]
    assert page2["meta"]["next"] is None


def test_limit_and_offset(http):
    create_all(http)
    r = http.get("/api/repo/v1/repository/", params={"limit": 2, "offset": 3})
    body = r.json()
    assert [o["name"] for o in body["objects"]] == NAMES[3:5]
    assert body["meta"]["offset"] == 3
    assert body["meta"]["limit"] == 2
    assert body["meta"]["previous"] is not None
    assert body["meta"]["next"] is not None


def test_default_page_is_25(http):
    names = [f"many.io/r{i:03d}" for i in range(27)]
    create_all(http, names)
    body = http.get("/api/repo/v1/repository").json()
    assert body["meta"]["limit"] == 25
    assert len(body["objects"]) == 25
    last = http.get(body["meta"]["next"]).json()
    assert [o["name"] for o in last["objects"]] == names[25:]


def test_bad_paging_parameters_are_400(http):
    for params in ({"limit": 101}, {"limit": -1}, {"offset": -1}, {"limit": "x"}):
        r = http.get("/api/repo/v1/repository/", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]


def test_rest_pages_are_the_original_envelope_without_grpc_fields(http_as, new_user):
    http = http_as(new_user("envelope"))
    for i in range(3):
        r = http.post(
            "/api/repo/v1/repository/",
            json={"name": f"env.example.com/app{i}", "username": "u", "password": "p"},
        )
        assert r.status_code == 201, r.text
    body = http.get("/api/repo/v1/repository/", params={"limit": 1}).json()
    assert list(body) == ["meta", "objects"], "no next_page_token over REST"
    assert set(body["meta"]) == {"limit", "next", "offset", "previous", "total_count"}
    assert body["meta"]["next"] is not None
