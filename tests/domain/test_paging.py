"""Paging: request validation, cursors, the window a request selects, and the links."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.fernet import Fernet
from extrepo_server.domain.errors import InvalidArgument
from extrepo_server.domain.names import MAX_NAME_LENGTH
from extrepo_server.domain.paging import (
    DEFAULT_LIMIT,
    MAX_CURSOR_LENGTH,
    MAX_LIMIT,
    Cursor,
    Direction,
    PageRequest,
    Window,
    encode_cursor,
    page_links,
    page_request,
)
from extrepo_server.security.cursors import CursorSigner

NO_FILTERS = ("", "")
KEY = Fernet.generate_key().decode()
SIGNER = CursorSigner([KEY])


def page_request_(**fields) -> PageRequest:
    return page_request(signer=SIGNER, **fields)


def page_links_(**fields):
    return page_links(signer=SIGNER, **fields)


def test_limit_zero_means_the_default():
    assert page_request_(limit=0, offset=0, cursor="", filters=NO_FILTERS).limit == DEFAULT_LIMIT


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
        page_request_(limit=limit, offset=offset, cursor="", filters=NO_FILTERS)
    assert [v.field for v in caught.value.violations] == fields


def test_a_cursor_round_trips():
    cursor = Cursor(Direction.AFTER, "reg.io/a", 10, ("reg.io/a", "reg.io"))
    token = encode_cursor(cursor, SIGNER)
    request = page_request_(limit=5, offset=10, cursor=token, filters=cursor.filters)
    assert request.cursor == cursor


def test_the_longest_cursor_is_within_the_bound():
    longest_name = "reg.io/" + "a" * (MAX_NAME_LENGTH - len("reg.io/"))
    cursor = Cursor(Direction.BEFORE, longest_name, 2**31 - 1, (longest_name, "x" * 253))
    token = encode_cursor(cursor, SIGNER)
    assert len(token) <= MAX_CURSOR_LENGTH
    request = page_request_(limit=5, offset=2**31 - 1, cursor=token, filters=cursor.filters)
    assert request.cursor == cursor


def _token(payload) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        "a",  # not a whole base64 quantum
        "é" * 10,
        "AAAA\nAAAA",
        _token(b"not json"),
        # JSON cursors of old crashed the call: numbers too big for a float, nesting
        # too deep for the parser. Nothing parses them now.
        _token(b'{"d":"a","n":"a","o":1e999,"f":["",""]}'),
        _token(b'{"d":"a","n":"a","o":-1e999,"f":["",""]}'),
        _token(b'{"d":"a","n":"a","o":Infinity,"f":["",""]}'),
        _token(b"[" * 300),
        _token(b"\x01" * 100),
        _token({"d": "x", "n": "a", "o": 0, "f": ["", ""]}),
        _token({"d": "a", "n": "a", "o": 0}),
        _token({"d": "a", "n": "a", "o": "zero", "f": ["", ""]}),
        _token([1, 2]),
    ],
)
def test_a_cursor_we_did_not_issue_is_refused(token):
    with pytest.raises(InvalidArgument) as caught:
        page_request_(limit=5, offset=0, cursor=token, filters=NO_FILTERS)
    assert [v.field for v in caught.value.violations] == ["cursor"]
    assert "drop the cursor" in caught.value.violations[0].description


@pytest.mark.parametrize("token", [_token(b"[" * 100_000), "A" * (MAX_CURSOR_LENGTH + 1)])
def test_a_cursor_longer_than_any_we_issue_is_refused_unread(token):
    with pytest.raises(InvalidArgument) as caught:
        page_request_(limit=5, offset=0, cursor=token, filters=NO_FILTERS)
    (violation,) = caught.value.violations
    assert violation.field == "cursor"
    assert f"is {len(token)} characters long" in violation.description
    assert f"at most {MAX_CURSOR_LENGTH}" in violation.description
    assert len(violation.description) < 200  # the cursor itself is not echoed


def _flip(token: str, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[bit // 8] ^= 1 << (bit % 8)
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_every_altered_bit_of_a_cursor_is_refused():
    cursor = Cursor(Direction.AFTER, "reg.io/team/app", 40, ("", "reg.io"))
    token = encode_cursor(cursor, SIGNER)
    bits = len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8
    for bit in range(bits):
        with pytest.raises(InvalidArgument, match="drop the cursor"):
            page_request_(limit=5, offset=40, cursor=_flip(token, bit), filters=cursor.filters)
    for cut in (1, 4, len(token) // 2):
        with pytest.raises(InvalidArgument, match="cursor"):
            page_request_(limit=5, offset=40, cursor=token[:-cut], filters=cursor.filters)


def test_a_cursor_outlives_a_rotation_until_its_key_is_dropped():
    cursor = Cursor(Direction.AFTER, "reg.io/app", 5, NO_FILTERS)
    token = encode_cursor(cursor, SIGNER)
    new_key = Fernet.generate_key().decode()
    rotated = CursorSigner([new_key, KEY])  # the new key signs, the old one still verifies
    request = page_request(limit=5, offset=5, cursor=token, filters=NO_FILTERS, signer=rotated)
    assert request.cursor == cursor
    with pytest.raises(
        InvalidArgument, match="signed with a key it no longer has; drop the cursor"
    ):
        page_request(
            limit=5, offset=5, cursor=token, filters=NO_FILTERS, signer=CursorSigner([new_key])
        )


def test_a_cursor_is_bound_to_its_filters_and_offset():
    token = encode_cursor(Cursor(Direction.AFTER, "a.io/x", 5, ("", "a.io")), SIGNER)
    with pytest.raises(InvalidArgument, match="other filters"):
        page_request_(limit=5, offset=5, cursor=token, filters=NO_FILTERS)
    with pytest.raises(InvalidArgument, match="offset 5, not 10"):
        page_request_(limit=5, offset=10, cursor=token, filters=("", "a.io"))


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
    links = page_links_(
        list_path="/api/repo/v1/team/repository/",
        query_filters=(("name", ""), ("registry", "a.io")),
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
    assert page_request_(
        limit=5, offset=15, cursor=after["cursor"][0], filters=("", "a.io")
    ).window == Window(5, after="a.io/o")
    before = _query(links.previous)
    assert before["offset"] == ["5"]
    assert page_request_(
        limit=5, offset=5, cursor=before["cursor"][0], filters=("", "a.io")
    ).window == Window(5, before="a.io/k")


def test_the_ends_of_a_listing_have_no_link_beyond():
    first = page_links_(
        list_path="/l/",
        query_filters=(),
        cursor_filters=NO_FILTERS,
        request=PageRequest(limit=5, offset=0, cursor=None),
        first_name="a",
        last_name="e",
        returned=5,
        total=5,
    )
    assert first.next is None and first.previous is None


def test_the_page_after_the_first_links_back_without_a_cursor():
    links = page_links_(
        list_path="/l/",
        query_filters=(),
        cursor_filters=NO_FILTERS,
        request=PageRequest(limit=5, offset=3, cursor=None),
        first_name="d",
        last_name="h",
        returned=5,
        total=20,
    )
    assert _query(links.previous) == {"limit": ["5"], "offset": ["0"]}
