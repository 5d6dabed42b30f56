"""List: filters, the original envelope, and paging by following next and previous."""

from __future__ import annotations

import grpc
import pytest

from tests.api.test_repositories import expect_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def _fill(api, names):
    for name in names:
        api.create(name, "u", "p")


def test_empty_listing_has_the_original_envelope(alice):
    assert alice.list() == {
        "meta": {"limit": 25, "next": None, "offset": 0, "previous": None, "total_count": 0},
        "objects": [],
    }


def test_objects_come_in_name_order(alice):
    names = ["zz.io/b", "aa.io/z", "mm.io/k", "aa.io/a"]
    _fill(alice, names)
    assert [o["name"] for o in alice.list()["objects"]] == sorted(names)


def test_walk_every_page_forward_and_back(alice):
    names = sorted(f"reg{i % 3}.example.com/app{i:02d}" for i in range(23))
    _fill(alice, names)

    pages, page = [], alice.list(limit=5)
    assert page["meta"]["previous"] is None
    while True:
        pages.append(page)
        meta = page["meta"]
        assert meta["limit"] == 5 and meta["total_count"] == 23
        assert meta["offset"] == 5 * (len(pages) - 1)
        if meta["next"] is None:
            break
        assert meta["next"].startswith("/api/repo/v1/")
        page = alice.follow(meta["next"])
    assert [len(p["objects"]) for p in pages] == [5, 5, 5, 5, 3]
    assert [o["name"] for p in pages for o in p["objects"]] == names

    back = [pages[-1]]
    while back[-1]["meta"]["previous"] is not None:
        back.append(alice.follow(back[-1]["meta"]["previous"]))
    assert [p["meta"]["offset"] for p in back] == [20, 15, 10, 5, 0]
    assert [p["objects"] for p in back] == [p["objects"] for p in reversed(pages)]


def test_walk_with_a_registry_filter(alice):
    ours = [f"ours.example.com/team/app{i}" for i in range(7)]
    others = [f"other.example.com/app{i}" for i in range(4)] + ["ours.example.com0/x"]
    _fill(alice, ours + others)
    namespace = alice.list()["objects"][0]["namespace"]

    for registry in (f"/api/repo/v1/{namespace}/registry/ours.example.com/", "ours.example.com"):
        seen, page = [], alice.list(registry=registry, limit=3)
        while True:
            assert page["meta"]["total_count"] == 7
            seen += [o["name"] for o in page["objects"]]
            if page["meta"]["next"] is None:
                break
            assert "registry=" in page["meta"]["next"]
            page = alice.follow(page["meta"]["next"])
        assert seen == sorted(ours)


def test_registry_filter_with_a_port(alice):
    _fill(alice, ["localhost:5000/team/app", "localhost/other", "localhost:5001/x"])
    page = alice.list(registry="localhost:5000")
    assert [o["name"] for o in page["objects"]] == ["localhost:5000/team/app"]
    assert page["meta"]["total_count"] == 1
    assert page["objects"][0]["registry"].endswith("/registry/localhost:5000/")


def test_name_filter_matches_exactly_one(alice):
    _fill(alice, ["my.registry.com/myrepo", "my.registry.com/myrepo2"])
    page = alice.list(name="my.registry.com/myrepo")
    assert [o["name"] for o in page["objects"]] == ["my.registry.com/myrepo"]
    assert page["meta"]["total_count"] == 1
    assert alice.list(name="my.registry.com/absent")["meta"]["total_count"] == 0
    both = alice.list(name="my.registry.com/myrepo", registry="my.registry.com")
    assert both["meta"]["total_count"] == 1
    assert alice.list(name="my.registry.com/myrepo", registry="else.io")["objects"] == []


def test_counts_follow_creates_and_deletes(alice):
    _fill(alice, ["a.io/1", "a.io/2", "b.io/1"])
    alice.delete("a.io/1")
    assert alice.list()["meta"]["total_count"] == 2
    assert alice.list(registry="a.io")["meta"]["total_count"] == 1
    assert alice.list(registry="b.io")["meta"]["total_count"] == 1


def test_plain_offset_without_cursor_still_works(alice):
    names = sorted(f"r.io/n{i}" for i in range(6))
    _fill(alice, names)
    page = alice.list(limit=2, offset=3)
    assert [o["name"] for o in page["objects"]] == names[3:5]
    assert page["meta"]["offset"] == 3
    assert alice.follow(page["meta"]["next"])["objects"][0]["name"] == names[5]
    assert [o["name"] for o in alice.follow(page["meta"]["previous"])["objects"]] == names[1:3]


def test_offset_past_the_end_is_an_empty_page(alice):
    _fill(alice, ["r.io/a", "r.io/b"])
    page = alice.list(offset=10)
    assert page["objects"] == [] and page["meta"]["next"] is None
    assert page["meta"]["total_count"] == 2
    assert page["meta"]["previous"] is not None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": -1}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -5}, "offset"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"registry": "/api/repo/v1/nope"}, "registry"),
        ({"registry": "Bad_Host!"}, "registry"),
        ({"name": "not a name"}, "name"),
    ],
)
def test_bad_list_input_is_invalid_argument(alice, kwargs, field):
    error = expect_error(INVALID, alice.list, **kwargs)
    assert field in error.fields


def test_cursor_must_match_its_filters_and_offset(alice):
    _fill(alice, [f"r.io/n{i}" for i in range(4)])
    next_path = alice.list(limit=2)["meta"]["next"]
    cursor = next_path.split("cursor=")[1]
    assert alice.list(limit=2, offset=2, cursor=cursor)["objects"]
    error = expect_error(INVALID, alice.list, limit=2, offset=3, cursor=cursor)
    assert "offset" in error.message
    error = expect_error(INVALID, alice.list, limit=2, offset=2, cursor=cursor, registry="r.io")
    assert "filters" in error.message


def test_registry_uri_of_another_namespace_is_refused(alice):
    error = expect_error(INVALID, alice.list, registry="/api/repo/v1/someone/registry/r.io/")
    assert "someone" in error.message
