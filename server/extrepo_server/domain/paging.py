"""Paging of repository listings in the original API's style, on a keyset cursor.

The original API pages with `limit` and `offset`, and its `meta.next`/`meta.previous`
are `/api/...` paths. Skipping `offset` rows costs more the deeper the page, so the
paths we hand out also carry a cursor: the name next to the page's edge, which the
storage layer turns into a range scan on the (namespace, name) index. `offset` stays
in the paths, so `meta.offset` is always right and clients that count pages by offset
keep working; a plain `offset` without a cursor still works too, at the cost of a skip.

A cursor comes back from callers, so nothing in it is trusted until it is checked:
its length is bounded before anything decodes it, it is signed (ports.Signer:
HMAC-SHA256 under a key every replica shares) and its signature is checked before
its content is read, and the content is a fixed binary layout read with `struct`,
never a general parser (a JSON cursor once let `1e999` or 100,000 nested brackets
crash the call). It is opaque to callers, not secret: it holds a name they listed.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import urlencode

from .errors import FieldViolation, InvalidArgument
from .names import MAX_NAME_LENGTH

if TYPE_CHECKING:
    from .ports import Signer

DEFAULT_LIMIT = 25
MAX_LIMIT = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of a listing in the original envelope's terms (repositories, registries)."""

    objects: list[T]
    limit: int
    offset: int
    total_count: int
    next: str | None
    previous: str | None
    next_cursor: str | None = None  # gRPC's next_page_token


class Direction(enum.Enum):
    AFTER = "a"  # rows whose name sorts after the cursor name
    BEFORE = "b"  # rows whose name sorts before it (a previous page)


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    name: str
    offset: int
    filters: tuple[str, str]


@dataclass(frozen=True)
class Window:
    """Which rows of a listing, in name order, make a page: those after the name
    `after`, those before the name `before` (read backwards from it, returned in
    name order), or else those after skipping `skip` rows; at most `limit`."""

    limit: int
    skip: int = 0
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class PageRequest:
    limit: int
    offset: int
    cursor: Cursor | None

    @property
    def window(self) -> Window:
        """The rows this request asks for: a cursor's keyset edge, else the offset."""
        if self.cursor is None:
            return Window(self.limit, skip=self.offset)
        if self.cursor.direction is Direction.AFTER:
            return Window(self.limit, after=self.cursor.name)
        return Window(self.limit, before=self.cursor.name)


# The signed payload, version 1: version, direction, offset, a digest of the
# filters the cursor belongs to, the length of the edge name; then the name
# (UTF-8), then the signer's tag. Big-endian, no padding.
_VERSION = 1
_HEADER = struct.Struct(">BBI16sB")
_DIRECTIONS = {Direction.AFTER: 0, Direction.BEFORE: 1}
_DIRECTION_OF = {code: direction for direction, code in _DIRECTIONS.items()}
_MAX_OFFSET = 2**31 - 1  # ListRequest.offset is an int32
# The longest cursor this service issues is about 400 characters (a 255-character
# name and a 32-byte tag); anything longer is refused unread.
MAX_CURSOR_LENGTH = 512

_NOT_OURS = (
    "is not a cursor this service issued, or was signed with a key it no longer has; "
    "drop the cursor (list from the start, or by offset) and follow meta.next or "
    "meta.previous unchanged"
)


def _filters_digest(filters: tuple[str, str]) -> bytes:
    # The filters are bound by a digest: a fixed size whatever their length.
    return hashlib.sha256("\0".join(filters).encode()).digest()[:16]


def encode_cursor(cursor: Cursor, signer: Signer) -> str:
    name = cursor.name.encode()
    if len(name) > MAX_NAME_LENGTH or not 0 <= cursor.offset <= _MAX_OFFSET:
        raise ValueError("a cursor's name or offset is out of range")  # names are validated
    payload = (
        _HEADER.pack(
            _VERSION,
            _DIRECTIONS[cursor.direction],
            cursor.offset,
            _filters_digest(cursor.filters),
            len(name),
        )
        + name
    )
    return base64.urlsafe_b64encode(signer.sign(payload)).rstrip(b"=").decode()


def _refuse(description: str) -> InvalidArgument:
    return InvalidArgument.single("cursor", description)


def _decode_cursor(token: str, signer: Signer, filters: tuple[str, str]) -> Cursor:
    if len(token) > MAX_CURSOR_LENGTH:
        raise _refuse(
            f"is {len(token)} characters long; cursors are at most {MAX_CURSOR_LENGTH}: "
            "take it unchanged from meta.next or meta.previous, or drop it"
        )
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise _refuse(_NOT_OURS) from None
    payload = signer.verify(raw)
    if payload is None:
        raise _refuse(_NOT_OURS)
    # Signed by us: what follows reads a layout we wrote, checked all the same.
    if len(payload) < _HEADER.size:
        raise _refuse(_NOT_OURS)
    version, direction, offset, digest, name_length = _HEADER.unpack_from(payload)
    name = payload[_HEADER.size :]
    if version != _VERSION or direction not in _DIRECTION_OF or len(name) != name_length:
        raise _refuse("was issued by another version of this service; drop the cursor")
    if digest != _filters_digest(filters):
        raise _refuse(
            # Registry listings bind their cursors to a filter of their own, so a
            # repository listing's cursor lands here too: the message fits both.
            "belongs to another listing, or to one with other filters; drop the cursor, "
            "or send it to the path and with the filters of the meta.next it came from"
        )
    try:
        decoded_name = name.decode()
    except UnicodeDecodeError:
        raise _refuse(_NOT_OURS) from None
    return Cursor(_DIRECTION_OF[direction], decoded_name, offset, filters)


def page_request(
    *, limit: int, offset: int, cursor: str, filters: tuple[str, str], signer: Signer
) -> PageRequest:
    """Validate the paging fields of a List request."""
    violations = []
    if limit == 0:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        violations.append(("limit", f"must be between 1 and {MAX_LIMIT} (0 means {DEFAULT_LIMIT})"))
    if offset < 0:
        violations.append(("offset", "must not be negative"))
    if violations:
        raise InvalidArgument([FieldViolation(f, d) for f, d in violations])
    decoded = _decode_cursor(cursor, signer, filters) if cursor else None
    if decoded is not None and offset == 0:
        # A cursor alone (a gRPC caller's next_page_token) brings its own offset.
        offset = decoded.offset
    if decoded is not None and decoded.offset != offset:
        raise InvalidArgument.single(
            "cursor",
            f"was issued for offset {decoded.offset}, not {offset}; drop the cursor "
            "to jump to another offset",
        )
    return PageRequest(limit=limit, offset=offset, cursor=decoded)


@dataclass(frozen=True)
class PageLinks:
    next: str | None
    previous: str | None
    # The cursor of the next page alone (in `next` too): gRPC's next_page_token.
    next_cursor: str | None = None


def page_links(
    *,
    list_path: str,
    query_filters: Sequence[tuple[str, str]],
    cursor_filters: tuple[str, str],
    request: PageRequest,
    first_name: str | None,
    last_name: str | None,
    returned: int,
    total: int,
    signer: Signer,
) -> PageLinks:
    """`meta.next` and `meta.previous` for a page, as `/api/...` paths that work when
    followed; `query_filters` are the listing's filters as query parameters (those
    sent), which the paths carry."""
    limit, offset = request.limit, request.offset

    def path(new_offset: int, token: str | None) -> str:
        params = [(key, value) for key, value in query_filters if value]
        params += [("limit", str(limit)), ("offset", str(new_offset))]
        if token is not None:
            params.append(("cursor", token))
        return f"{list_path}?{urlencode(params)}"

    next_path = next_cursor = None
    if last_name is not None and offset + returned < total:
        after = Cursor(Direction.AFTER, last_name, offset + returned, cursor_filters)
        next_cursor = encode_cursor(after, signer)
        next_path = path(after.offset, next_cursor)

    previous_path = None
    if offset > 0:
        if first_name is not None and offset - limit > 0:
            before = Cursor(Direction.BEFORE, first_name, offset - limit, cursor_filters)
            previous_path = path(before.offset, encode_cursor(before, signer))
        else:
            # The previous page starts at the top of the listing (or this page is past
            # the end): no cursor is needed to find it cheaply.
            previous_path = path(max(offset - limit, 0), None)
    return PageLinks(next=next_path, previous=previous_path, next_cursor=next_cursor)
