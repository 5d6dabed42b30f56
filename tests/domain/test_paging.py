"""Paging: request validation, cursors, the window a request selects, and the links."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from extrepo_server.domain.errors import InvalidArgument
from extrepo_server.domain.paging import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Cursor,
    Direction,
    PageRequest,
    Window,
    encode_cursor,
    page_links,
    page_request,
)

NO_FILTERS = ("", "")


def test_limit_zero_means_the_default():
    assert page_request(limit=0, offset=0, cursor="", filters=NO_FILTERS).limit == DEFAULT_LIMIT


@pytest.mark.parametrize(
    ("limit", "offset", "fields"),
    [
        (-1, 0, ["limit"]),
        (MAX_LIMIT + 1, 0, ["limit"]),
        (5, -1, ["offset"]),
        (-1, -1, ["limit", "offset"]),
    ],
)
def test_out_of_range_limits_and_offsets_name_each_field(limit, offset, fields):
    with pytest.raises(InvalidArgument) as caught:
        page_request(limit=limit, offset=offset, cursor="", filters=NO_FILTERS)
    assert [v.field for v in caught.value.violations] == fields


def test_a_cursor_round_trips():
    cursor = Cursor(Direction.AFTER, "reg.io/a", 10, ("reg.io/a", "reg.io"))
    request = page_request(limit=5, offset=10, cursor=encode_cursor(cursor), filters=cursor.filters)
    assert request.cursor == cursor


def _token(payload) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        _token(b"not json"),
        _token({"d": "x", "n": "a", "o": 0, "f": ["", ""]}),
        _token({"d": "a", "n": "a", "o": 0}),
        _token({"d": "a", "n": "a", "o": "zero", "f": ["", ""]}),
        _token([1, 2]),
    ],
)
def test_a_cursor_we_did_not_issue_is_refused(token):
    with pytest.raises(InvalidArgument) as caught:
        page_request(limit=5, offset=0, cursor=token, filters=NO_FILTERS)
    assert caught.value.violations[0].field == "cursor"


def test_a_cursor_is_bound_to_its_filters_and_offset():
    token = encode_cursor(Cursor(Direction.AFTER, "a.io/x", 5, ("", "a.io")))
    with pytest.raises(InvalidArgument, match="other filters"):
        page_request(limit=5, offset=5, cursor=token, filters=NO_FILTERS)
    with pytest.raises(InvalidArgument, match="offset 5, not 10"):
        page_request(limit=5, offset=10, cursor=token, filters=("", "a.io"))


@pytest.mark.parametrize(
    ("cursor", "window"),
    [
        (None, Window(7, skip=14)),
        (Cursor(Direction.AFTER, "m.io/x", 14, NO_FILTERS), Window(7, after="m.io/x")),
        (Cursor(Direction.BEFORE, "m.io/x", 14, NO_FILTERS), Window(7, before="m.io/x")),
    ],
)
def test_the_window_is_the_cursor_edge_or_else_the_offset(cursor, window):
    assert PageRequest(limit=7, offset=14, cursor=cursor).window == window


def _query(path: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(path).query)


def test_links_of_a_middle_page_carry_filters_and_cursors():
    request = PageRequest(limit=5, offset=10, cursor=None)
    links = page_links(
        list_path="/api/repo/v1/team/repository/",
        query_filters=("", "a.io"),
        cursor_filters=("", "a.io"),
        request=request,
        first_name="a.io/k",
        last_name="a.io/o",
        returned=5,
        total=30,
    )
    after = _query(links.next)
    assert links.next.startswith("/api/repo/v1/team/repository/?")
    assert after["registry"] == ["a.io"] and after["offset"] == ["15"] and after["limit"] == ["5"]
    assert page_request(
        limit=5, offset=15, cursor=after["cursor"][0], filters=("", "a.io")
    ).window == Window(5, after="a.io/o")
    before = _query(links.previous)
    assert before["offset"] == ["5"]
    assert page_request(
        limit=5, offset=5, cursor=before["cursor"][0], filters=("", "a.io")
    ).window == Window(5, before="a.io/k")


def test_the_ends_of_a_listing_have_no_link_beyond():
    first = page_links(
        list_path="/l/",
        query_filters=NO_FILTERS,
        cursor_filters=NO_FILTERS,
        request=PageRequest(limit=5, offset=0, cursor=None),
        first_name="a",
        last_name="e",
        returned=5,
        total=5,
    )
    assert first.next is None and first.previous is None


def test_the_page_after_the_first_links_back_without_a_cursor():
    links = page_links(
        list_path="/l/",
        query_filters=NO_FILTERS,
        cursor_filters=NO_FILTERS,
        request=PageRequest(limit=5, offset=3, cursor=None),
        first_name="d",
        last_name="h",
        returned=5,
        total=20,
    )
    assert _query(links.previous) == {"limit": ["5"], "offset": ["0"]}
