"""Paging of repository listings in the original API's style, on a keyset cursor.

The original API pages with `limit` and `offset`, and its `meta.next`/`meta.previous`
are `/api/...` paths. Skipping `offset` rows costs more the deeper the page, so the
paths we hand out also carry a cursor: the name next to the page's edge, which the
storage layer turns into a range scan on the (namespace, name) index. `offset` stays
in the paths, so `meta.offset` is always right and clients that count pages by offset
keep working; a plain `offset` without a cursor still works too, at the cost of a skip.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from dataclasses import dataclass
from urllib.parse import urlencode

from .errors import FieldViolation, InvalidArgument

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


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


def encode_cursor(cursor: Cursor) -> str:
    payload = {
        "d": cursor.direction.value,
        "n": cursor.name,
        "o": cursor.offset,
        "f": list(cursor.filters),
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(token: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        cursor = Cursor(
            direction=Direction(payload["d"]),
            name=str(payload["n"]),
            offset=int(payload["o"]),
            filters=(str(payload["f"][0]), str(payload["f"][1])),
        )
    except (binascii.Error, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidArgument.single(
            "cursor",
            "is not a cursor this service issued; take it unchanged from meta.next or "
            "meta.previous, or drop it",
        ) from exc
    if cursor.offset < 0:
        raise InvalidArgument.single("cursor", "is damaged (negative offset); drop it")
    return cursor


def page_request(*, limit: int, offset: int, cursor: str, filters: tuple[str, str]) -> PageRequest:
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
    decoded = _decode_cursor(cursor) if cursor else None
    if decoded is not None:
        if decoded.filters != filters:
            raise InvalidArgument.single(
                "cursor",
                "belongs to a listing with other filters; drop the cursor or keep the "
                "name and registry filters it was issued with",
            )
        if decoded.offset != offset:
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


def page_links(
    *,
    list_path: str,
    query_filters: tuple[str, str],
    cursor_filters: tuple[str, str],
    request: PageRequest,
    first_name: str | None,
    last_name: str | None,
    returned: int,
    total: int,
) -> PageLinks:
    """`meta.next` and `meta.previous` for a page, as `/api/...` paths that work when followed."""
    name_filter, registry_filter = query_filters
    limit, offset = request.limit, request.offset

    def path(new_offset: int, cursor: Cursor | None) -> str:
        params: list[tuple[str, str]] = []
        if name_filter:
            params.append(("name", name_filter))
        if registry_filter:
            params.append(("registry", registry_filter))
        params += [("limit", str(limit)), ("offset", str(new_offset))]
        if cursor is not None:
            params.append(("cursor", encode_cursor(cursor)))
        return f"{list_path}?{urlencode(params)}"

    next_path = None
    if last_name is not None and offset + returned < total:
        after = Cursor(Direction.AFTER, last_name, offset + returned, cursor_filters)
        next_path = path(after.offset, after)

    previous_path = None
    if offset > 0:
        if first_name is not None and offset - limit > 0:
            before = Cursor(Direction.BEFORE, first_name, offset - limit, cursor_filters)
            previous_path = path(before.offset, before)
        else:
            # The previous page starts at the top of the listing (or this page is past
            # the end): no cursor is needed to find it cheaply.
            previous_path = path(max(offset - limit, 0), None)
    return PageLinks(next=next_path, previous=previous_path)
